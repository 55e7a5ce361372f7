"""``ming-eval doctor``: what this machine can run, and what is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
from importlib import metadata
from typing import Annotated

import typer
from rich.table import Table

from ming_eval.redaction import redact_text

EXAMPLES = """
[bold]Examples[/]

  ming-eval doctor
  OPENAI_BASE_URL=http://localhost:8000/v1 ming-eval doctor --judge-timeout 3
"""

EXTRAS = {
    "models": ["transformers", "diffusers", "accelerate", "torchvision"],
    "geneval": ["open_clip", "torchvision"],
    "judge": ["openai"],
    "mmdet": ["mmdet", "mmcv", "mmengine"],
    "reports": ["pyarrow"],
}


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog=EXAMPLES)(doctor)


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    dist = {"open_clip": "open_clip_torch"}.get(module, module)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "installed"


def judge_endpoint_status(timeout: float) -> tuple[str, str]:
    """(endpoint, state) of the OpenAI-compatible judge configured by the openai SDK's variables, both
    without credentials (the base URL may carry a password or a token)."""
    base, state = _probe_judge(timeout)
    return redact_text(base), redact_text(state)


def _probe_judge(timeout: float) -> tuple[str, str]:
    import urllib.error
    import urllib.request

    from ming_eval.transport.openai_chat import PUBLIC_API, connection_from_env

    # the judge's own reading of the variables (OPENAI_BASE_URL, VLMEvalKit's OPENAI_API_BASE, the key)
    url, key = connection_from_env(None)
    base = url or PUBLIC_API
    req = urllib.request.Request(base + "/models", headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read() or b"{}")
            models = [m.get("id") for m in body.get("data", [])][:5]
            return base, f"reachable (HTTP {resp.status}); models: {', '.join(map(str, models)) or '?'}"
    except urllib.error.HTTPError as exc:
        hint = " (check OPENAI_API_KEY)" if exc.code in (401, 403) else ""
        return base, f"answered HTTP {exc.code}{hint}"
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return base, f"unreachable: {reason}"


def task_data_presence() -> list[tuple[str, str]]:
    """(task or "task: item", what of it is on this machine) for every task card: its data files, its
    judge prompt sources (the card's optional files), and what else it reads (detector and CLIP
    weights, graders' checkpoints), each with the command that fetches what is missing. Presence only
    (checksums are `ming-eval data verify`'s), so it stays fast."""
    from rich.markup import escape

    from ming_eval.errors import MingEvalError
    from ming_eval.registry import list_task_cards
    from ming_eval.runner.plan import resolve_task, task_data_files

    rows = []
    for card in sorted(list_task_cards(), key=lambda c: c.name):
        fetch = f"`ming-eval data download {card.name}`"
        try:
            task = resolve_task(card.name)
            files = task_data_files(task)
            prerequisites = task.prerequisites()
        except MingEvalError as exc:
            rows.append((card.name, f"[yellow]cannot tell[/]: {escape(exc.message)}"))
            continue
        required = [name for name, spec in files.specs.items() if spec.required]
        missing = [name for name in required if files.locate(name) is None]
        if not files.specs:
            rows.append((card.name, "no data files"))
        elif not required:
            rows.append((card.name, "no data files needed before a run"))
        elif missing:
            rows.append(
                (
                    card.name,
                    f"[yellow]{len(required) - len(missing)} of {len(required)} present[/]; missing "
                    f"{escape(', '.join(missing))} ({fetch})",
                )
            )
        else:
            rows.append((card.name, f"[green]{len(required)} of {len(required)} present[/]"))
        optional = [name for name, spec in files.specs.items() if not spec.required]
        if optional:
            absent = [name for name in optional if files.locate(name) is None]
            state = f"{len(optional) - len(absent)} of {len(optional)} present"
            rows.append(
                (
                    f"{card.name}: judge prompt sources",
                    f"[yellow]{state}[/]; missing {escape(', '.join(absent))} ({fetch})"
                    if absent
                    else f"[green]{state}[/]",
                )
            )
        for item in prerequisites:
            label = f"{card.name}: {escape(item.what)}"
            if item.where is None:
                rows.append((label, f"[yellow]missing[/] (`{escape(item.fetch)}`)"))
            else:
                rows.append((label, f"[green]present[/] ({escape(item.where)})"))
    return rows


def doctor(
    judge_timeout: Annotated[float, typer.Option(help="Seconds to wait for the judge endpoint.")] = 5.0,
    check_judge: Annotated[bool, typer.Option("--judge/--no-judge", help="Probe the judge endpoint.")] = True,
) -> None:
    """Report torch, CUDA and GPUs, the optional extras, cache locations, what each task needs that is here
    or missing (with the command that fetches it), and the judge endpoint."""
    from ming_eval.cli.app import console
    from ming_eval.data.files import CACHE_ENV, cache_root, offline

    table = Table(title="ming-eval doctor", title_style="bold", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("state")
    table.add_row("python", platform.python_version())
    try:
        import torch

        table.add_row("torch", f"{torch.__version__} (CUDA build {torch.version.cuda or 'none'})")
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                free, total = torch.cuda.mem_get_info(i)
                table.add_row(
                    f"GPU {i}",
                    f"{props.name}, {total / 2**30:.1f} GiB ({free / 2**30:.1f} GiB free), "
                    f"bf16={'yes' if torch.cuda.is_bf16_supported() else 'no'}",
                )
        else:
            table.add_row("GPUs", "[yellow]none visible[/] (runs on CPU: fine for tests, slow for real models)")
    except ImportError:
        table.add_row("torch", "[red]not installed[/]")
    for extra, modules in EXTRAS.items():
        states = []
        for module in modules:
            version = _version(module)
            states.append(f"{module} {version}" if version else f"[red]{module} missing[/]")
        table.add_row(f"extra '{extra}'", ", ".join(states))
    table.add_row("data cache", f"{cache_root()} (set {CACHE_ENV} to move it)")
    hf_home = os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface")
    table.add_row("Hugging Face cache", f"{hf_home} (HF_HOME)")
    table.add_row("LMUData (VLMEvalKit)", os.environ.get("LMUData") or os.path.expanduser("~/LMUData"))
    table.add_row("offline mode", "on" if offline() else "off")
    for task, state in task_data_presence():
        table.add_row(f"data: {task}", state)
    if check_judge:
        base, state = judge_endpoint_status(judge_timeout)
        style = "green" if state.startswith("reachable") else "yellow"
        table.add_row("judge endpoint", f"{base}: [{style}]{state}[/]")
    key_state = "set" if os.environ.get("OPENAI_API_KEY") else "not set"
    table.add_row("judge key", f"OPENAI_API_KEY {key_state}")
    console.print(table)
