"""``ming-eval score RUN --crosscheck vlmevalkit``: score a run's predictions with VLMEvalKit's own code.

VLMEvalKit is not on PyPI. Its scoring functions are taken from a checkout named by
``$MING_EVAL_VLMEVALKIT_SRC`` (the folder holding ``vlmeval/``) or from an installed ``vlmeval``. Only
the scoring modules are imported: the package's ``__init__`` files, which pull in the model zoo, the
API clients and every dataset, are bypassed by registering those packages as plain module paths.

The predictions go to VLMEvalKit as its ``run.py`` would hand them over: the benchmark rows (from the
TSV, or from the imported prediction file) plus a ``prediction`` column, written to a TSV and read back
with VLMEvalKit's ``load`` (so its missing-value rules apply). VLMEvalKit then scores them under its
``exact_matching`` policy (no LLM): samples it would send to a judge are counted apart, not compared.

Per task family, VLMEvalKit's functions are: ``mcq_vanilla_eval`` / ``mcq_circular_eval`` (MMStar,
AI2D, MMMU, MMBench: one verdict per row, per question for circular), ``YOrN_Extraction``
(HallusionBench), ``post_check`` (MathVista's judge-free path) and ``OCRBench_eval`` (one row at a
time). MM-Vet is scored by a judge only and cannot be checked this way.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import io
import os
import sys
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape

from ming_eval.core.results import SampleScore
from ming_eval.errors import MingEvalError

SRC_ENV = "MING_EVAL_VLMEVALKIT_SRC"
_BYPASSED = ("vlmeval", "vlmeval.dataset", "vlmeval.dataset.utils")
_MODULES = {
    "mcq": "vlmeval.dataset.utils.multiple_choice",
    "yorn": "vlmeval.dataset.utils.yorn",
    "mathvista": "vlmeval.dataset.utils.mathvista",
    "ocrbench": "vlmeval.dataset.utils.ocrbench",
    "smp": "vlmeval.smp",
}
NEEDS_JUDGE = "needs the judge"


def kit_root() -> Path:
    """The folder holding VLMEvalKit's ``vlmeval`` package."""
    env = os.environ.get(SRC_ENV)
    if env:
        root = Path(env).expanduser()
        if not (root / "vlmeval" / "dataset" / "utils" / "multiple_choice.py").is_file():
            raise MingEvalError(
                f"${SRC_ENV}={env} is not a VLMEvalKit checkout (no vlmeval/dataset/utils/multiple_choice.py)",
                hint="point it at the folder `git clone https://github.com/open-compass/VLMEvalKit` made",
            )
        return root
    spec = importlib.util.find_spec("vlmeval")
    if spec is None or not spec.submodule_search_locations:
        raise MingEvalError(
            "VLMEvalKit is not available: it is not installed and $" + SRC_ENV + " is not set",
            hint=f"git clone https://github.com/open-compass/VLMEvalKit and export {SRC_ENV}=<that folder> "
            "(its requirements: pip install sty validators)",
        )
    return Path(next(iter(spec.submodule_search_locations))).parent


def load_kit() -> dict[str, types.ModuleType]:
    """VLMEvalKit's scoring modules, imported without the package ``__init__`` files."""
    root = kit_root()
    for name in _BYPASSED:
        module = sys.modules.get(name)
        path = str(root / Path(*name.split(".")))
        if module is None or getattr(module, "__path__", None) != [path]:
            stub = types.ModuleType(name)
            stub.__path__ = [path]
            sys.modules[name] = stub
    try:
        return {key: importlib.import_module(name) for key, name in _MODULES.items()}
    except ImportError as exc:
        raise MingEvalError(
            f"cannot import VLMEvalKit's scoring code from {root}: {exc}",
            hint="install what it names into this environment (VLMEvalKit's scoring needs e.g. sty, validators)",
        ) from exc


@dataclass
class Difference:
    key: str
    prediction: str
    answer: str
    ours: float
    theirs: float


@dataclass
class KitCheck:
    """Our per-sample verdicts against VLMEvalKit's on the same predictions."""

    task: str
    compared: int = 0
    agree: int = 0
    needs_judge: int = 0
    unsupported: str = ""
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _frame_file(rows: list[dict[str, Any]], folder: Path, dataset: str) -> Path:
    path = folder / f"crosscheck_{dataset}.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    return path


def crosscheck_task(
    family: str,
    dataset: str,
    rows: list[dict[str, Any]],
    predictions: dict[str, str],
    ours: dict[str, SampleScore],
    key_of: Callable[[dict[str, Any]], str],
    *,
    circular: bool = False,
    kit: dict[str, types.ModuleType] | None = None,
) -> KitCheck:
    """Score ``rows`` (the benchmark's, without images) with ``predictions`` (sample id -> text) by
    VLMEvalKit's functions and compare with our scores ``ours`` (by sample id)."""
    kit = kit or load_kit()
    check = KitCheck(dataset)
    if family == "mmvet":
        check.unsupported = "MM-Vet is scored by its judge only; VLMEvalKit has no judge-free verdict to compare"
        return check
    picked = [dict(r, prediction=predictions[key_of(r)]) for r in rows if key_of(r) in predictions]
    if not picked:
        return check
    with tempfile.TemporaryDirectory(prefix="ming-eval-vk-") as tmp:
        folder = Path(tmp)
        data = kit["smp"].load(str(_frame_file(picked, folder, dataset)))
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bars
            verdicts = _kit_verdicts(family, dataset, data, folder, kit, circular=circular)
    by_key = {key_of(r): r for r in picked}
    for key, (theirs, judged) in verdicts.items():
        if judged:
            check.needs_judge += 1
            continue
        mine = _our_verdict(key, ours, by_key, key_of, circular=circular)
        if mine is None:
            continue
        check.compared += 1
        if abs(mine - theirs) < 1e-9:
            check.agree += 1
        else:
            row = by_key.get(key, {})
            check.differences.append(
                Difference(key, str(row.get("prediction", "")), str(row.get("answer", "")), mine, theirs)
            )
    return check


def _our_verdict(
    key: str,
    ours: dict[str, SampleScore],
    rows: dict[str, dict[str, Any]],
    key_of: Callable[[dict[str, Any]], str],
    *,
    circular: bool,
) -> float | None:
    if not circular:
        score = ours.get(key)
        return None if score is None or score.correct is None else score.score
    from ming_eval.tasks.vlm.mcq import CIRCULAR_OFFSET, _group_outcome

    group = [ours[k] for k, r in rows.items() if int(key_of(r)) % CIRCULAR_OFFSET == int(key) and k in ours]
    outcome = _group_outcome(group) if group else None
    return None if outcome is None else float(outcome)


def _kit_verdicts(
    family: str,
    dataset: str,
    data: pd.DataFrame,
    folder: Path,
    kit: dict[str, types.ModuleType],
    *,
    circular: bool,
) -> dict[str, tuple[float, bool]]:
    """VLMEvalKit's verdict per row (per question when circular): (hit, needed the judge)."""
    out: dict[str, tuple[float, bool]] = {}
    if family in ("mcq", "mmmu"):
        mcq = kit["mcq"]
        meta = data[["index", "answer"]].copy()
        name = "MMMU_DEV_VAL" if family == "mmmu" else dataset
        previous = os.environ.get("PRED_FORMAT")
        os.environ["PRED_FORMAT"] = "tsv"  # its temporary files, as TSV (no xlsxwriter needed)
        try:
            if circular:
                scored = mcq.mcq_circular_eval(None, data.copy(), meta, 1, str(folder / "circ.pkl"), name)
            else:
                scored = mcq.mcq_vanilla_eval(None, data.copy(), meta, 1, str(folder / "vanilla.pkl"), name)
        finally:
            if previous is None:
                os.environ.pop("PRED_FORMAT", None)
            else:
                os.environ["PRED_FORMAT"] = previous
        for index, hit, log in zip(scored["index"], scored["hit"], scored["log"], strict=True):
            out[str(index)] = (float(hit), "exact_matching" in str(log))
    elif family == "yes_no":
        extract = kit["yorn"].YOrN_Extraction
        for index, pred, answer in zip(data["index"], data["prediction"], data["answer"], strict=True):
            got = extract(str(pred))
            out[str(index)] = (float(got == answer), got == "Unknown")
    elif family == "mathvista":
        post_check = kit["mathvista"].post_check
        for i in range(len(data)):
            line = data.iloc[i]
            pre = post_check(line, prefetch=True)
            if pre:
                answered = line.copy()
                answered["res"] = pre
                out[str(line["index"])] = (float(bool(post_check(answered, prefetch=False))), False)
            else:
                out[str(line["index"])] = (0.0, True)
    elif family == "ocrbench":
        evaluate = kit["ocrbench"].OCRBench_eval
        for i in range(len(data)):
            one = folder / f"ocr_{i}.tsv"
            data.iloc[[i]].to_csv(one, sep="\t", index=False, quoting=csv.QUOTE_ALL)
            evaluate(str(one))  # writes its scores beside the file
            result = kit["smp"].load(kit["smp"].get_intermediate_file_path(str(one), "_score", "json"))
            out[str(data.iloc[i]["index"])] = (float(result["Final Score"]), False)
    else:
        raise MingEvalError(f"no VLMEvalKit cross-check for {dataset} ({family})")
    return out


def print_kit_check(console: Console, check: KitCheck, *, show: int = 10) -> None:
    if check.unsupported:
        console.print(f"[yellow]{check.task}[/]: {check.unsupported}")
        return
    unit = "questions" if check.task.startswith("MMBench") else "samples"
    console.print(
        f"[bold]{check.task}[/]: VLMEvalKit's own scoring agrees on {check.agree}/{check.compared} {unit}"
        + (f"; {check.needs_judge} would go to its judge and are not compared" if check.needs_judge else "")
    )
    for d in check.differences[:show]:
        console.print(
            f"  [red]differs[/] index {d.key}: ours {d.ours:g}, VLMEvalKit {d.theirs:g} "
            f"(answer {escape(d.answer)!s}, prediction {escape(d.prediction[:80])!r})"
        )
    if len(check.differences) > show:
        console.print(f"  ... and {len(check.differences) - show} more")


def family_of(task: Any) -> str:
    """Which of VLMEvalKit's scoring functions fits ``task`` (a :class:`VlmTask`)."""
    from ming_eval.tasks.vlm.mathvista import MathVistaTask
    from ming_eval.tasks.vlm.ocrbench import OCRBenchTask

    if isinstance(task, MathVistaTask):
        return "mathvista"
    if isinstance(task, OCRBenchTask):
        return "ocrbench"
    return str(task.kind)


def run_kit_crosscheck(run_dir: Path, tasks: list[str] | None, console: Console) -> bool:
    """``ming-eval score RUN --crosscheck vlmevalkit``: check every understanding task of the run (or
    ``tasks``) and print the agreement; True when no compared verdict differs."""
    from ming_eval.cards.schema import PROTOCOL_OF, TaskCard
    from ming_eval.graders.service import GraderService
    from ming_eval.runner.plan import load_task, task_context
    from ming_eval.store.run_store import RunStore
    from ming_eval.tasks.vlm.base import VlmTask
    from ming_eval.tasks.vlm.mcq import McqTask
    from ming_eval.tasks.vlm.tsv import clean

    kit = load_kit()
    store = RunStore.open_existing(run_dir)
    manifest = store.require_manifest()
    ok = True
    for name in tasks or list(manifest.tasks):
        cfg = manifest.tasks[name]
        task = load_task(TaskCard.model_validate(cfg.task), cfg.options)
        if not isinstance(task, VlmTask):
            console.print(f"[yellow]{name}[/]: not a VLMEvalKit benchmark; no cross-check")
            continue
        protocol = PROTOCOL_OF[task.capability].model_validate(cfg.protocol)
        tstore = store.task(name)
        ctx = task_context(task, protocol, tstore.dir, model_name="", seed=cfg.seed, graders=GraderService("cpu"))
        rows = task.benchmark_rows(ctx)
        preds = tstore.read_predictions()
        texts = {k: "" if p.output is None else str(p.output) for k, p in preds.items() if p.ok}
        check = crosscheck_task(
            family_of(task),
            task.opts.dataset,
            rows,
            texts,
            tstore.read_scores(preds),
            lambda r: str(clean(r["index"])),
            circular=isinstance(task, McqTask) and task.circular,
            kit=kit,
        )
        print_kit_check(console, check)
        ok = ok and check.ok
    return ok
