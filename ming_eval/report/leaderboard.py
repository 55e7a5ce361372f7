"""One table over many runs: a row per run directory found under a folder, a column per task.

Values are each task's primary metric as stored (GenEval 0-1, understanding 0-100), plus a column
per suite summary (named by its key, e.g. ``avg_opencompass8``) that a run's results.json holds.
Runs that cannot be read are listed with the reason, never silently dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ming_eval.errors import MingEvalError
from ming_eval.report.runs import ReportRun, open_run, refuse_a_file
from ming_eval.store.run_store import MANIFEST

if TYPE_CHECKING:
    import pandas as pd

INFO_COLUMNS = ("run", "model", "checkpoint", "created", "git", "status", "comparable", "judge", "failed", "path")


@dataclass
class Leaderboard:
    frame: pd.DataFrame
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: the runs behind the frame's rows (``--format json`` reads their metrics whole)
    runs: list[ReportRun] = field(default_factory=list)

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in INFO_COLUMNS]


def find_run_dirs(root: Path) -> list[Path]:
    """Every folder under ``root`` (itself included) holding a manifest; runs are not searched inside."""
    hint = "pass the folder that holds your run directories"
    refuse_a_file(root, "a folder of run directories", hint=hint)
    if not root.is_dir():
        raise MingEvalError(f"{root} is not a directory: it does not exist", hint=hint)
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        if MANIFEST in files:
            found.append(Path(current))
            dirs[:] = []  # a run's task folders hold no runs
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found)


def _status(run: ReportRun) -> str:
    if run.problems:
        return "incomplete: " + ", ".join(sorted(run.problems))
    limited = [t for t, r in run.results.items() if "limit" in r.info]
    if limited:
        return "subset (--limit): " + ", ".join(sorted(limited))
    if any(r.counts.get("missing") for r in run.results.values()):
        return "incomplete: samples missing"
    return "complete"


def _comparable(run: ReportRun) -> str:
    """ "yes", or "no: " and each task's reasons (a run is never ranked against published numbers
    silently: the column says so)."""
    reasons = []
    for name, result in sorted(run.results.items()):
        if not result.comparable:
            why = "; ".join(result.not_comparable_because) or "see its notes"
            reasons.append(f"{name} ({why})")
    return "no: " + ", ".join(reasons) if reasons else "yes"


def _judge(run: ReportRun, tasks: Sequence[str] | None) -> str:
    """Each judged task's judge ("task: judge", "; "-joined), "" when no model judged the run's numbers."""
    shown = [(name, r.judge) for name, r in sorted(run.results.items()) if r.judge and (not tasks or name in tasks)]
    return "; ".join(f"{name}: {judge}" for name, judge in shown)


def build_leaderboard(root: Path, *, wide: bool = False, tasks: Sequence[str] | None = None) -> Leaderboard:
    import pandas as pd

    rows: list[dict[str, object]] = []
    skipped: list[tuple[Path, str]] = []
    runs: list[ReportRun] = []
    #: summary key -> how many tasks it covers: the broadest summaries come first
    summary_columns: dict[str, int] = {}
    for path in find_run_dirs(root):
        try:
            run = open_run(path)
        except MingEvalError as exc:
            skipped.append((path, exc.message))
            continue
        runs.append(run)
        row: dict[str, object] = {
            "run": str(path.relative_to(root)) if path != root else path.name,
            "model": run.model_name,
            "checkpoint": run.checkpoint or "",
            "created": run.created,
            "git": run.git_commit or "",
            "status": _status(run),
            "comparable": _comparable(run),
            "judge": _judge(run, tasks),
            "failed": sum(r.failed for r in run.results.values()),
            "path": str(path),
        }
        for name, result in run.results.items():
            if tasks and name not in tasks:
                continue
            row[name] = result.primary_metric.value
            if wide:
                for metric, m in result.metrics.items():
                    if metric != result.primary:
                        row[f"{name}:{metric}"] = m.value
        for key, summary in run.summaries.items():
            row[key] = summary.metric.value
            summary_columns[key] = max(summary_columns.get(key, 0), len(summary.tasks))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(INFO_COLUMNS))
    metric_cols = [c for c in frame.columns if c not in INFO_COLUMNS]
    summaries = sorted(summary_columns, key=lambda k: (-summary_columns[k], k))
    others = sorted(set(metric_cols) - set(summaries))
    ordered = [c for c in INFO_COLUMNS if c != "path"] + summaries + others + ["path"]
    return Leaderboard(frame.reindex(columns=ordered), skipped, runs)


def sort_leaderboard(board: Leaderboard, by: str | None, *, ascending: bool = False) -> Leaderboard:
    """Sort by a column (exact name, or the one column whose name starts with ``by``); NaN last."""
    frame = board.frame
    if by is None:
        metric = board.metric_columns
        by = metric[0] if metric else "run"
    column = by if by in frame.columns else None
    if column is None:
        matches = [c for c in frame.columns if c.lower().startswith(by.lower())]
        if len(matches) != 1:
            raise MingEvalError(
                f"cannot sort by {by!r}: " + (f"ambiguous ({', '.join(matches)})" if matches else "no such column"),
                hint=f"columns: {', '.join(frame.columns)}",
            )
        column = matches[0]
    frame = frame.sort_values(column, ascending=ascending, na_position="last", kind="stable")
    return Leaderboard(frame.reset_index(drop=True), board.skipped, board.runs)


def export(board: Leaderboard, path: Path, kind: Literal["csv", "parquet"]) -> None:
    """Write the leaderboard to ``path`` as CSV or Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise MingEvalError(
                "Parquet export needs pyarrow", hint="pip install 'ming-eval[reports]' (or pip install pyarrow)"
            ) from exc
        board.frame.to_parquet(path, engine="pyarrow", index=False)
    else:
        board.frame.to_csv(path, index=False)


def cell_text(value: object, digits: int = 2) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return "" if value is None else str(value)


def to_markdown(board: Leaderboard, columns: Sequence[str] | None = None) -> str:
    cols = list(columns or [c for c in board.frame.columns if c != "path"])
    align = ["--:" if c in board.metric_columns else ":--" for c in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    for _, row in board.frame.iterrows():
        lines.append("| " + " | ".join(cell_text(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"
