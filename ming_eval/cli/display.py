"""Terminal tables for results: people read these; machines read results.json."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ming_eval.core.results import TaskResult
from ming_eval.redaction import redact_text


def results_table(
    results: dict[str, TaskResult], *, title: str, with_ci: bool = True, caption: str | None = None
) -> Table:
    table = Table(title=title, caption=caption, title_style="bold", show_lines=False)
    table.add_column("task")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if with_ci:
        table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    table.add_column("failed / missing", justify="right")
    for name, result in results.items():
        counts = result.counts
        bad = f"{result.failed} / {counts.get('missing', 0)}"
        first = True
        for metric_name, metric in result.metrics.items():
            label = f"[bold]{metric_name}[/]" if metric_name == result.primary else metric_name
            shown = name + ("" if result.comparable else " (not comparable)")
            row = [shown if first else "", label, metric.format(2)]
            if with_ci:
                ci = (
                    f"[{metric.ci_low:.2f}, {metric.ci_high:.2f}]"
                    if metric.ci_low is not None and metric.ci_high is not None
                    else "-"
                )
                row.append(ci)
            row += [str(metric.n), bad if first else ""]
            table.add_row(*row)
            first = False
    return table


def print_notes(console: Console, results: dict[str, TaskResult]) -> None:
    for name, result in results.items():
        for note in result.notes:
            console.print(f"[yellow]note[/] {name}: {escape(redact_text(note))}", highlight=False)
        for reason in result.not_comparable_because:
            if not reason.startswith("--limit") and not reason.endswith("samples missing"):  # in the notes
                console.print(f"[yellow]note[/] {name}: not comparable: {escape(redact_text(reason))}", highlight=False)
        if result.counts.get("judge_unavailable"):
            console.print(
                f"[yellow]note[/] {name}: {result.counts['judge_unavailable']} samples could not be judged "
                "(judge unavailable); they count as wrong"
            )


def breakdown_tables(results: dict[str, TaskResult]) -> list[Table]:
    tables = []
    for name, result in results.items():
        for bd_name, entries in result.breakdowns.items():
            table = Table(title=f"{name} by {bd_name}", title_style="bold")
            table.add_column(bd_name)
            table.add_column("value", justify="right")
            table.add_column("95% CI", justify="right")
            table.add_column("n", justify="right")
            for key, m in entries.items():
                ci = f"[{m.ci_low:.2f}, {m.ci_high:.2f}]" if m.ci_low is not None and m.ci_high is not None else "-"
                table.add_row(key, m.format(2), ci, str(m.n))
            tables.append(table)
    return tables
