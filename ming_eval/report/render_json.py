"""``--format json`` of ``report``, ``leaderboard`` and ``compare``: one JSON document for scripts.

Each document names its schema (``"schema": "ming-eval-report/1"`` and so on) and holds ``rows``:
one object per value shown, with the same keys in every document where they mean the same thing:

* ``model``: the row's label as the tables show it (our runs: their label, "(this run: DIR)" added
  when it is a published row's name; published rows: the model's name);
* ``kind``: ``"ours"`` (a run) or ``"baseline"`` (a published number); ``run``: our run's directory
  (``null`` for a published number); ``source``: the run's directory, or the citations of a
  published number ("; "-joined), with their addresses in ``urls``;
* ``task`` (``null`` when the value is a summary of several tasks, or a published number that more
  than one task could produce), ``tasks`` (every task the value is computed from), ``metric``;
* ``value`` on ``scale`` (100: percentages; 1: fractions), ``null`` when not a number;
* ``comparable``: false when the value is not the benchmark as published (``not_comparable_because``
  says why, where known);
* ``interval``: ``{"low", "high", "confidence"}`` or ``null`` when unknown; ``n``: samples, or ``null``.

Keys are only ever added within a schema version; a change of meaning gets a new version.
The documentation of every key is docs/output-json.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ming_eval.registry import summary_catalog
from ming_eval.report.format import source_notes, table_notes
from ming_eval.report.tables import ColumnSpec, ReportTable, Row

if TYPE_CHECKING:
    from ming_eval.report.compare import RunComparison
    from ming_eval.report.leaderboard import Leaderboard
    from ming_eval.report.runs import ReportRun
    from ming_eval.stats.paired import PairedComparison

REPORT_SCHEMA = "ming-eval-report/1"
LEADERBOARD_SCHEMA = "ming-eval-leaderboard/1"
COMPARE_SCHEMA = "ming-eval-compare/1"


def _num(x: float | None) -> float | None:
    """A float for JSON: NaN and infinities (not JSON) become null."""
    return None if x is None or not math.isfinite(x) else float(x)


def _interval(low: float | None, high: float | None, confidence: float | None) -> dict[str, float | None] | None:
    if _num(low) is None or _num(high) is None:
        return None
    return {"low": _num(low), "high": _num(high), "confidence": _num(confidence)}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# -- report ---------------------------------------------------------------------------------------
def _column_tasks(col: ColumnSpec) -> list[str]:
    if col.summary is not None:
        return list(summary_catalog().tasks(col.summary))
    return list(col.tasks or [])


def _report_row(table: ReportTable, row: Row, col: ColumnSpec, reasons: list[str]) -> dict[str, Any] | None:
    cell = row.cells[col.key]
    if cell.empty:
        return None
    tasks = list(cell.tasks) if row.ours else _column_tasks(col)
    single = tasks[0] if col.summary is None and len(tasks) == 1 else None
    return {
        "table": table.spec.name,
        "table_title": table.spec.title,
        "group": row.group,
        "model": row.label,
        "kind": row.kind,
        "run": row.key if row.ours else None,
        "source": "; ".join(link.plain() for link in row.sources),
        "urls": [link.url for link in row.sources if link.url],
        "column": col.key,
        "column_label": col.label,
        "task": single,
        "tasks": tasks,
        "summary": col.summary,
        "metric": col.metric if col.summary is None else col.summary,
        "value": _num(cell.value),
        "scale": table.spec.scale,
        "comparable": row.comparable,
        "not_comparable_because": reasons,
        "interval": _interval(cell.ci_low, cell.ci_high, cell.confidence) if row.ours else None,
        "n": cell.n,
        "best": cell.best,
        "verified": cell.verified,
        "rewritten": row.rewritten,
        "judge": row.judge or None,
    }


def _reasons(runs: Sequence[ReportRun]) -> dict[tuple[str, str], list[str]]:
    """(run directory, task) -> why that task's results are not comparable."""
    return {
        (str(run.path), task): list(result.not_comparable_because) or ([] if result.comparable else ["see its notes"])
        for run in runs
        for task, result in run.results.items()
    }


def render_report(tables: Sequence[ReportTable], runs: Sequence[ReportRun]) -> str:
    """Every value of every table (published and ours), with the notes under each table."""
    why = _reasons(runs)
    rows: list[dict[str, Any]] = []
    for table in tables:
        for row in table.rows:
            for col in table.columns:
                tasks = row.cells[col.key].tasks
                reasons = [f"{t}: {r}" for t in tasks for r in why.get((row.key, t), [])] if row.ours else []
                out = _report_row(table, row, col, reasons)
                if out is not None:
                    rows.append(out)
    return dumps(
        {
            "schema": REPORT_SCHEMA,
            "runs": [{"model": run.label, "run": str(run.path), "problems": dict(run.problems)} for run in runs],
            "tables": [
                {
                    "name": t.spec.name,
                    "title": t.spec.title,
                    "scale": t.spec.scale,
                    "notes": table_notes(t),
                    "sources": [{"text": s.link.text, "url": s.link.url, "rows": s.rows} for s in source_notes(t)],
                }
                for t in tables
            ],
            "rows": rows,
        }
    )


# -- leaderboard -----------------------------------------------------------------------------------
def render_leaderboard(board: Leaderboard) -> str:
    """One row per (run, value shown), in the leaderboard's order."""
    rows: list[dict[str, Any]] = []
    by_path = {str(run.path): run for run in board.runs}
    for _, frame_row in board.frame.iterrows():
        run = by_path[str(frame_row["path"])]
        common = {
            "model": run.model_name,
            "kind": "ours",
            "run": str(frame_row["run"]),
            "path": str(run.path),
            "source": str(run.path),
            "checkpoint": run.checkpoint,
            "created": run.created,
            "git": run.git_commit,
            "status": frame_row["status"],
        }
        for column in board.metric_columns:
            value = frame_row[column]
            if not isinstance(value, float) or math.isnan(value):
                continue
            if column in run.summaries:
                summary = run.summaries[column]
                results = [run.results[t] for t in summary.tasks if t in run.results]
                metric, task, summary_key, tasks = summary.metric, None, column, list(summary.tasks)
                metric_name = column
            else:
                task, _, metric_name = column.partition(":")
                result = run.results[task]
                metric_name = metric_name or result.primary
                metric = result.metrics[metric_name]
                results, summary_key, tasks = [result], None, [task]
            reasons = [f"{r.task}: {why}" for r in results for why in r.not_comparable_because]
            rows.append(
                {
                    **common,
                    "task": task,
                    "tasks": tasks,
                    "summary": summary_key,
                    "metric": metric_name,
                    "value": _num(metric.value),
                    "scale": metric.scale,
                    "comparable": all(r.comparable for r in results),
                    "not_comparable_because": reasons,
                    "interval": _interval(metric.ci_low, metric.ci_high, metric.confidence),
                    "n": metric.n or None,
                    "failed": sum(r.failed for r in results),
                    "judge": "; ".join(sorted({r.judge for r in results if r.judge})) or None,
                }
            )
    skipped = [{"path": str(path), "reason": why} for path, why in board.skipped]
    return dumps({"schema": LEADERBOARD_SCHEMA, "rows": rows, "skipped": skipped})


# -- compare ---------------------------------------------------------------------------------------
def _paired(c: PairedComparison) -> dict[str, Any]:
    return {
        "n": c.n,
        "value_base": _num(c.base),
        "value_new": _num(c.new),
        "delta": _num(c.delta),
        "delta_points": _num(c.delta_points),
        "scale": c.scale,
        "interval": _interval(c.ci_low, c.ci_high, c.confidence),
        "p_value": _num(c.p_value),
        "test": c.test,
    }


def render_comparison(comp: RunComparison) -> str:
    """One row per task (``category`` null) and per category of each task, base vs new."""
    rows: list[dict[str, Any]] = []
    for t in comp.tasks:
        comparable = t.task not in comp.forced_differences
        base = {"task": t.task, "metric": t.primary, "comparable": comparable}
        rows.append(
            {
                **base,
                "breakdown": None,
                "category": None,
                **_paired(t.overall),
                "p_adjusted": _num(t.p_adjusted),
                "significant": t.significant,
                "regression": t.regression,
                "improvement": t.improvement,
                "notes": list(t.notes),
            }
        )
        for breakdown, per in t.categories.items():
            for key, c in per.items():
                rows.append({**base, "breakdown": breakdown, "category": key, **_paired(c)})

    def side(run: ReportRun) -> dict[str, Any]:
        return {"model": run.label, "run": str(run.path), "checkpoint": run.checkpoint}

    return dumps(
        {
            "schema": COMPARE_SCHEMA,
            "base": side(comp.base),
            "new": side(comp.new),
            "alpha": comp.alpha,
            "min_delta": comp.min_delta,
            "correction": comp.correction,
            "regressions": [t.task for t in comp.regressions],
            "improvements": [t.task for t in comp.improvements],
            "only_base": list(comp.only_base),
            "only_new": list(comp.only_new),
            "protocol_differences": {k: list(v) for k, v in comp.forced_differences.items()},
            "versions": list(comp.versions),
            "rows": rows,
        }
    )
