"""``ming-eval mplug convert``: ModelScope's mPLUG VQA checkpoint -> safetensors for the native backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/]

  modelscope download --model damo/mplug_visual-question-answering_coco_large_en --local_dir mplug
  ming-eval mplug convert mplug mplug-large.safetensors
"""


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="mPLUG VQA (DPG-Bench's grader) utilities.", no_args_is_help=True)
    group.command("convert", epilog=EXAMPLES)(convert)
    app.add_typer(group, name="mplug")


def convert(
    checkpoint: Annotated[Path, typer.Argument(help="ModelScope mPLUG folder (config.yaml, pytorch_model.bin, ...).")],
    out: Annotated[Path, typer.Argument(help="Output .safetensors (its .sha256 and vocab.txt are written beside it).")],
) -> None:
    """Convert ModelScope's mPLUG VQA checkpoint to ming-eval's safetensors weights.

    Set the result as the [bold]checkpoint[/] of the mplug-large card (or a copy of it).
    """
    from ming_eval.cli.app import console
    from ming_eval.models.mplug.weights import convert_checkpoint

    digest = convert_checkpoint(checkpoint, out)
    console.print(f"[green]ok[/] {checkpoint} -> {out}\nsha256 {digest} ({out.name}.sha256)")
