"""Terminal tables for results: people read these; machines read results.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ming_eval.core.results import TaskResult
from ming_eval.errors import MingEvalError, storage_error
from ming_eval.redaction import redact_text


def write_output(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file a command was asked for (``--out``, ``--csv``, ...), its folder created; a clear error,
    not a traceback, when the path cannot be written (a directory, a file where a folder should be)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise storage_error(path, exc) or MingEvalError(
            f"cannot write {path}: {exc.strerror or exc}", hint="give a file path in a folder you can write to"
        ) from exc


def failed_cell(result: TaskResult) -> str:
    """The "failed / missing" cell of every terminal table: ``failed`` is :attr:`TaskResult.failed`, the one
    meaning reports and leaderboards use too (inference, scoring and judge failures, all counted as wrong);
    how many of them the judge could not decide is said beside it."""
    cell = f"{result.failed} / {result.counts.get('missing', 0)}"
    unjudged = result.counts.get("judge_unavailable", 0)
    return cell + (f" ({unjudged} unjudged)" if unjudged else "")


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
        bad = failed_cell(result)
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


#: exit status of a run or re-scoring whose results were written but whose judge answered none of a task's samples
JUDGE_OUTAGE_EXIT = 3


def judge_outages(run_dir: Path, results: dict[str, TaskResult]) -> list[str]:
    """One line per task in which every scored sample is ``judge_unavailable``, with the first reason."""
    from ming_eval.core.results import JUDGE_UNAVAILABLE
    from ming_eval.store.run_store import RunStore

    lines = []
    for name, result in results.items():
        if not result.counts.get(JUDGE_UNAVAILABLE):
            continue
        scores = list(RunStore(run_dir).task(name).read_merged_scores().values())
        if scores and all(s.status == JUDGE_UNAVAILABLE for s in scores):
            lines.append(f"{name}: none of its {len(scores)} samples could be judged: {scores[0].reason}")
    return lines


def exit_on_judge_outage(console: Console, run_dir: Path, results: dict[str, TaskResult]) -> None:
    """After the tables: exit with :data:`JUDGE_OUTAGE_EXIT` if a task's judge answered nothing, so a
    script does not take a table of zeros for a result."""
    outages = judge_outages(run_dir, results)
    if not outages:
        return
    for line in outages:
        console.print(f"[bold red]error:[/] {escape(redact_text(line))}", highlight=False, soft_wrap=True)
    console.print(
        "[cyan]hint:[/] check the judge's endpoint and key (`ming-eval doctor` probes it), then run the same "
        "command again: only the unjudged samples are sent",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(JUDGE_OUTAGE_EXIT)


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
