"""``ming-eval report``: paper-style tables of runs beside published baselines."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/]

  ming-eval report runs/ming-lite-uni
  ming-eval report runs/ming-lite-uni runs/ming-step2000 --format md --ci
  ming-eval report runs/ming-lite-uni --format latex --baselines paper,bagel --out tables.tex
  ming-eval report runs/ming-lite-uni --format html --out report/index.html
  ming-eval report runs/ming-lite-uni --format json | jq '.rows[] | select(.kind == "ours")'
  ming-eval report --list-baselines
"""


class ReportFormat(str, Enum):
    table = "table"
    md = "md"
    html = "html"
    latex = "latex"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("report", epilog=EXAMPLES, no_args_is_help=True)(report)


def _list_baselines() -> None:
    from rich.table import Table

    from ming_eval.cli.app import console
    from ming_eval.report.baselines import load_catalog
    from ming_eval.report.render_term import print_whole

    catalog = load_catalog()
    table = Table(title="published baselines (select with --baselines)", title_style="bold")
    for name in ("key", "model", "table", "†", "verified", "source"):
        table.add_column(name)
    for entries in catalog.sets.values():
        for b in entries:
            verified = sum(b.verified(c) for c in b.values)
            table.add_row(
                b.key,
                b.model,
                b.table,
                "†" if b.rewritten else "",
                f"{verified}/{len(b.values)}",
                b.sources()[0].plain() if b.sources() else "",
            )
    print_whole(console, table)
    console.print("sets: paper (= ming-lite-uni), all, none, " + ", ".join(catalog.sets), highlight=False)


def report(
    runs: Annotated[list[Path] | None, typer.Argument(help="Run directories (made by `ming-eval run --out`).")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = ReportFormat.table,
    baselines: Annotated[
        str,
        typer.Option(
            "--baselines", "-b", help="paper | all | none | a set | an entry key | a YAML file; comma-separated."
        ),
    ] = "paper",
    ci: Annotated[bool, typer.Option("--ci", help="Show our values' 95% confidence intervals.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Only these tables (understanding, geneval, other).")
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            help="Row label of each run, in order (repeatable; at most one per run). Runs after the last "
            "label keep their default one (the model's paper name).",
        ),
    ] = None,
    sources: Annotated[
        bool, typer.Option(help="Terminal format: list the sources of the published rows under each table.")
    ] = True,
    grids: Annotated[
        bool, typer.Option(help="HTML with --out: write thumbnail grids for prompts that have no grid.png.")
    ] = True,
    list_baselines: Annotated[bool, typer.Option("--list-baselines", help="List the known baselines.")] = False,
) -> None:
    """Render Table-2-style (understanding) and Table-3-style (GenEval) tables of runs.

    Our rows are marked, the best value of each column is highlighted, published baselines carry
    their source, and "†" marks rewritten prompts. Tasks no layout covers get a table of their own.
    """
    from ming_eval.cli.app import console, err_console
    from ming_eval.cli.display import write_output
    from ming_eval.report import render_csv, render_latex, render_md
    from ming_eval.report.baselines import load_catalog
    from ming_eval.report.runs import open_runs
    from ming_eval.report.tables import build_report_tables

    if list_baselines:
        _list_baselines()
        return
    if not runs:
        raise typer.BadParameter("give at least one run directory", param_hint="RUNS")
    loaded = open_runs(list(runs), label)
    for run in loaded:
        for task, problem in run.problems.items():
            err_console.print(f"[yellow]warning[/] {run.path}: task {task} has no results ({problem})", highlight=False)
    chosen = load_catalog().select(baselines)
    tables = build_report_tables(loaded, chosen, only=table)
    if not tables:
        err_console.print("[yellow]nothing to report[/]: the runs have no finished task results", highlight=False)
        raise typer.Exit(1)
    if fmt is ReportFormat.table:
        from ming_eval.report.render_term import print_tables

        if out is not None:
            import io

            from rich.console import Console

            buffer = io.StringIO()
            print_tables(Console(file=buffer, width=160), tables, with_ci=ci, with_sources=sources)
            write_output(out, lambda p: p.write_text(buffer.getvalue(), encoding="utf-8"))
        else:
            print_tables(console, tables, with_ci=ci, with_sources=sources)
        return
    if fmt is ReportFormat.md:
        text = render_md.render(tables, with_ci=ci)
    elif fmt is ReportFormat.latex:
        text = render_latex.render(tables, with_ci=ci)
    elif fmt is ReportFormat.csv:
        text = render_csv.render(tables)
    elif fmt is ReportFormat.json:
        from ming_eval.report.render_json import render_report

        text = render_report(tables, loaded)
    else:
        from ming_eval.report.render_html import HtmlOptions
        from ming_eval.report.render_html import render as render_html

        out_dir = out.parent if out is not None else None
        assets = out.with_name(out.stem + "_assets") if out is not None and grids else None
        text = render_html(tables, loaded, HtmlOptions(with_ci=ci, out_dir=out_dir, assets_dir=assets))
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_output(out, lambda p: p.write_text(text, encoding="utf-8"))
        err_console.print(f"wrote {out}", highlight=False)
