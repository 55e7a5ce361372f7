"""``ming-eval geneval convert-detector|download-detector``: GenEval's Mask2Former weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

EXAMPLES = """
[bold]Examples[/]

  ming-eval geneval download-detector                       # into the cache, for offline clusters
  ming-eval geneval convert-detector --allow-pickle \\
      mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth m2f_swin-s.safetensors
"""


def geneval_group(app: typer.Typer) -> typer.Typer:
    """The ``geneval`` command group, shared with other modules that add GenEval commands."""
    for info in app.registered_groups:
        if info.name == "geneval" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help="GenEval utilities.", no_args_is_help=True)
    app.add_typer(group, name="geneval")
    return group


def register(app: typer.Typer) -> None:
    group = geneval_group(app)
    group.command("convert-detector", epilog=EXAMPLES)(convert_detector)
    group.command("download-detector", epilog=EXAMPLES)(download_detector)


def convert_detector(
    checkpoint: Annotated[Path, typer.Argument(help="mmdet 2.x or 3.x Mask2Former .pth checkpoint.")],
    out: Annotated[Path, typer.Argument(help="Output .safetensors (a .sha256 file is written beside it).")],
    arch: Annotated[str, typer.Option(help="Architecture: swin-s (GenEval's) or tiny (tests).")] = "swin-s",
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Unpickle non-tensor objects in the checkpoint (runs code from the file: "
            "only for files you trust, e.g. from download.openmmlab.com).",
        ),
    ] = False,
) -> None:
    """Convert GenEval's mmdet Mask2Former checkpoint to ming-eval's safetensors weights.

    Use the result as the task option [bold]detector.weights[/] (either backend reads it).
    """
    from ming_eval.cli.app import console
    from ming_eval.errors import MingEvalError
    from ming_eval.tasks.geneval.detectors.config import SWIN_S, TINY
    from ming_eval.tasks.geneval.detectors.convert import convert_checkpoint

    archs = {"swin-s": SWIN_S, "tiny": TINY}
    if arch not in archs:
        raise MingEvalError(f"unknown architecture {arch!r}", hint=f"use one of {', '.join(archs)}")
    if out.suffix != ".safetensors":
        raise MingEvalError(f"output {out} must end in .safetensors")
    digest = convert_checkpoint(checkpoint, out, cfg=archs[arch], allow_pickle=allow_pickle)
    console.print(f"[green]ok[/] {checkpoint} -> {out}\nsha256 {digest} ({out.name}.sha256)")


def download_detector(
    backend: Annotated[str, typer.Option(help="Which weights: mask2former (default backend), mmdet, all.")] = "all",
) -> None:
    """Download GenEval's detector checkpoint(s) into the cache, verify them, and convert for the default
    backend, so later runs need no network (copy the cache folder to offline machines)."""
    from ming_eval.cli.app import console
    from ming_eval.errors import MingEvalError
    from ming_eval.tasks.geneval.detectors.weights import GENEVAL_MMDET3, default_converted_weights, fetch_checkpoint

    choices: dict[str, tuple[Literal["mask2former", "mmdet"], ...]] = {
        "mask2former": ("mask2former",),
        "mmdet": ("mmdet",),
        "all": ("mask2former", "mmdet"),
    }
    if backend not in choices:
        raise MingEvalError(f"unknown backend {backend!r}", hint=f"use one of {', '.join(choices)}")
    for name in choices[backend]:
        path = default_converted_weights() if name == "mask2former" else fetch_checkpoint(GENEVAL_MMDET3)
        console.print(f"[green]ok[/] {name}: {path}")
