"""``ming-eval leaderboard``: one table over every run in a folder."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/]

  ming-eval leaderboard runs/
  ming-eval leaderboard runs/ --sort geneval --csv board.csv --parquet board.parquet
  ming-eval leaderboard runs/ --sort created --ascending --format md --wide
  ming-eval leaderboard runs/ --format json
"""


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("leaderboard", epilog=EXAMPLES, no_args_is_help=True)(leaderboard)


def leaderboard(
    root: Annotated[Path, typer.Argument(help="A folder of run directories (searched recursively).")],
    sort: Annotated[str | None, typer.Option("--sort", "-s", help="Column to sort by (a prefix is enough).")] = None,
    ascending: Annotated[bool, typer.Option(help="Sort ascending (default: best first).")] = False,
    fmt: Annotated[BoardFormat, typer.Option("--format", "-f", help="What to print.")] = BoardFormat.table,
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write the table as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="Also write it as Parquet (needs pyarrow).")] = None,
    wide: Annotated[bool, typer.Option(help="Every metric of every task, not only the primary ones.")] = False,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Only these tasks (repeatable).")] = None,
) -> None:
    """One row per run (model, checkpoint, date, git) and one column per task's primary metric.

    Suite summaries (the ones suite cards declare, e.g. OpenCompass's 8-benchmark average) appear, as
    stored in each run's results.json, when a run has every task they need. Unreadable runs are
    listed, not skipped silently.
    """
    from rich.table import Table

    from ming_eval.cli.app import console, err_console
    from ming_eval.cli.display import write_output
    from ming_eval.report.leaderboard import build_leaderboard, cell_text, export, sort_leaderboard, to_markdown
    from ming_eval.report.render_term import print_whole

    board = sort_leaderboard(build_leaderboard(root, wide=wide, tasks=task), sort, ascending=ascending)
    for path, why in board.skipped:
        err_console.print(f"[yellow]skipped[/] {path}: {why}", highlight=False)
    if csv is not None:
        write_output(csv, lambda p: export(board, p, "csv"))
        err_console.print(f"wrote {csv}", highlight=False)
    if parquet is not None:
        write_output(parquet, lambda p: export(board, p, "parquet"))
        err_console.print(f"wrote {parquet}", highlight=False)
    if board.frame.empty:
        err_console.print(f"no runs found under {root}", highlight=False)
        raise typer.Exit(1)
    if fmt is BoardFormat.json:
        from ming_eval.report.render_json import render_leaderboard

        typer.echo(render_leaderboard(board), nl=False)
        return
    if fmt is BoardFormat.md:
        typer.echo(to_markdown(board), nl=False)
        return
    if fmt is BoardFormat.csv:
        typer.echo(board.frame.to_csv(index=False), nl=False)
        return
    table = Table(title=f"leaderboard of {root}", title_style="bold")
    cols = [c for c in board.frame.columns if c != "path"]
    for col in cols:
        table.add_column(col, justify="right" if col in board.metric_columns else "left")
    for _, row in board.frame.iterrows():
        table.add_row(*(cell_text(row[c]) for c in cols))
    print_whole(console, table)
