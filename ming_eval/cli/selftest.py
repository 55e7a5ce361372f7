"""``ming-eval selftest``: the whole pipeline, offline, on generated data and tiny random models."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/]

  ming-eval selftest
  ming-eval selftest --keep /tmp/selftest     # keep the generated data, checkpoints and runs
"""


def register(app: typer.Typer) -> None:
    app.command("selftest", epilog=EXAMPLES)(selftest)


def selftest(
    keep: Annotated[Path | None, typer.Option(help="Work in this folder and keep it (default: a temp dir).")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Only these tasks (repeatable).")] = None,
) -> None:
    """Run every registered task with a tiny random model of every family that has one, offline.

    It checks that data loading, prompts, models, image writing, scoring, resume and reporting work
    together on this machine. [bold]Its scores mean nothing[/]: the models are random.
    """
    from rich.markup import escape
    from rich.table import Table

    from ming_eval.cli.app import console
    from ming_eval.cli.display import failed_cell
    from ming_eval.selftest import run_selftest

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        report = run_selftest(keep, console, only=only)
    else:
        with tempfile.TemporaryDirectory(prefix="ming-eval-selftest-") as tmp:
            report = run_selftest(Path(tmp), console, only=only)
    table = Table(
        title="SMOKE TEST — tiny random models on generated data: these scores mean nothing",
        caption=f"{len(report.pairs)} task/model pairs in {report.elapsed_s:.1f}s; "
        f"resume check: {'ok' if report.resume_ok else 'FAILED'}",
        title_style="bold",
    )
    for col in ("task", "tiny model", "primary metric", "value", "n", "failed / missing"):
        table.add_column(col, justify="right" if col in ("value", "n") else "left")
    for key, result in report.results.items():
        task, _, model = key.partition(" × ")
        metric = result.primary_metric
        n = result.counts.get("n", metric.n)
        table.add_row(task, model, result.primary, metric.format(2), str(n), failed_cell(result))
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]problem[/] {escape(problem)}", highlight=False)
    if report.problems or not report.resume_ok:
        raise typer.Exit(1)
    console.print("[green]selftest passed[/]")
