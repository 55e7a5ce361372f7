"""``ming-eval compare``: did a new checkpoint regress against the base one? With error bars."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = """
[bold]Examples[/]

  ming-eval compare runs/ming-step1000 runs/ming-step2000
  ming-eval compare runs/base runs/new --fail-on-regression --min-delta 0.5 --markdown comment.md
  ming-eval compare runs/base runs/new --task geneval --alpha 0.01 --format md
  ming-eval compare runs/base runs/new --format json
"""


class CompareFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"


class Correction(str, Enum):
    holm = "holm"
    none = "none"


def register(app: typer.Typer) -> None:
    app.command("compare", epilog=EXAMPLES, no_args_is_help=True)(compare)


def compare(
    base: Annotated[Path, typer.Argument(help="The reference run directory (e.g. the last good checkpoint).")],
    new: Annotated[Path, typer.Argument(help="The run directory to check.")],
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit with code 1 on a significant regression.")
    ] = False,
    alpha: Annotated[float, typer.Option(help="Significance level of each benchmark's test.")] = 0.05,
    min_delta: Annotated[
        float, typer.Option("--min-delta", help="Smallest drop, in percentage points, that counts as a regression.")
    ] = 0.0,
    correction: Annotated[
        Correction, typer.Option(help="Multiple-testing correction across benchmarks.")
    ] = Correction.holm,
    force: Annotated[bool, typer.Option(help="Compare even if the runs' protocols differ.")] = False,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Only these tasks (repeatable).")] = None,
    fmt: Annotated[CompareFormat, typer.Option("--format", "-f", help="What to print.")] = CompareFormat.table,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Also write the Markdown summary here (for a CI comment).")
    ] = None,
    categories: Annotated[bool, typer.Option(help="Show per-category comparisons.")] = True,
) -> None:
    """Compare two runs sample by sample: per benchmark and per category, the delta with a paired
    bootstrap confidence interval and a paired test (McNemar for binary outcomes).

    Runs made under different protocols (model card settings, prompts, task options, judge, data,
    scoring) are refused unless --force; the checkpoint may differ. Only samples both runs scored are
    compared, and the summary says how many. Exit codes: 0 no significant regression (or no
    --fail-on-regression), 1 significant regression, 2 the runs cannot be compared.
    """
    from ming_eval.cli.app import console, err_console
    from ming_eval.cli.display import write_output
    from ming_eval.report.compare import compare_runs
    from ming_eval.report.render_compare import print_comparison, render_markdown

    comparison = compare_runs(
        base, new, alpha=alpha, min_delta=min_delta, force=force, correction=correction.value, tasks=task
    )
    md = render_markdown(comparison, categories=categories)
    if markdown is not None:
        write_output(markdown, lambda p: p.write_text(md, encoding="utf-8"))
        err_console.print(f"wrote {markdown}", highlight=False)
    if fmt is CompareFormat.md:
        typer.echo(md, nl=False)
    elif fmt is CompareFormat.json:
        from ming_eval.report.render_json import render_comparison

        typer.echo(render_comparison(comparison), nl=False)
    else:
        print_comparison(console, comparison, categories=categories)
    if fail_on_regression and comparison.regressions:
        raise typer.Exit(1)
