"""``load_run``: a finished (or partial) run as pandas DataFrames, for notebooks and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ming_eval.core.results import TaskResult
from ming_eval.core.summaries import Summary
from ming_eval.store.jsonl import read_jsonl
from ming_eval.store.manifest import RunManifest
from ming_eval.store.run_store import RunStore, TaskStore

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunData:
    """A run's manifest and its tables, one row per (task, sample) or (task, metric)."""

    path: Path
    manifest: RunManifest
    predictions: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame
    breakdowns: pd.DataFrame
    results: dict[str, TaskResult] = field(default_factory=dict)
    #: the suite summaries stored in the run's results.json, by key (empty for a run written before
    #: they were stored, until ``ming-eval score`` stores them)
    summaries: dict[str, Summary] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return list(self.manifest.tasks)


def _task_predictions(ts: TaskStore) -> list[dict[str, Any]]:
    if ts.predictions_path.is_file():
        return list(read_jsonl(ts.predictions_path))
    return [p.to_record() for p in ts.read_predictions().values()]


def _task_scores(ts: TaskStore) -> list[dict[str, Any]]:
    if ts.scores_path.is_file():
        return list(read_jsonl(ts.scores_path))
    return [s.to_record() for s in ts.read_scores().values()]


def load_run(path: str | Path) -> RunData:
    """Load a run directory made by ``ming-eval run`` (or ``score``).

    ``predictions`` and ``scores`` have a ``task`` and an ``id`` column; ``metrics`` has one row per
    (task, metric) with ``value``, ``ci_low``, ``ci_high``, ``n``; ``breakdowns`` one row per
    (task, breakdown, key).
    """

    store = RunStore.open_existing(Path(path))
    manifest = store.require_manifest()
    preds: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    breakdowns: list[dict[str, Any]] = []
    results: dict[str, TaskResult] = {}
    for task in manifest.tasks:
        ts = store.task(task)
        preds.extend({"task": task, **r} for r in _task_predictions(ts))
        for r in _task_scores(ts):
            row = {"task": task, **r}
            row["details"] = json.dumps(row.get("details") or {}, ensure_ascii=False)
            scores.append(row)
        result = ts.read_results()
        if result is None:
            continue
        results[task] = result
        for name, m in result.metrics.items():
            metrics.append({"task": task, "metric": name, "primary": name == result.primary, **m.to_dict()})
        for table, entries in result.breakdowns.items():
            for key, m in entries.items():
                breakdowns.append({"task": task, "breakdown": table, "key": key, **m.to_dict()})
    pred_cols = ["task", "id", "status", "output", "error", "seed", "elapsed_s", "target"]
    score_cols = ["task", "id", "score", "correct", "reason", "status", "details"]
    metric_cols = ["task", "metric", "primary", "value", "ci_low", "ci_high", "n", "confidence", "scale"]
    bd_cols = ["task", "breakdown", "key", "value", "ci_low", "ci_high", "n", "confidence", "scale"]
    return RunData(
        path=store.root,
        manifest=manifest,
        predictions=_frame(preds, pred_cols),
        scores=_frame(scores, score_cols),
        metrics=_frame(metrics, metric_cols),
        breakdowns=_frame(breakdowns, bd_cols),
        results=results,
        summaries=store.read_summaries() or {},
    )


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with at least ``columns`` (first, in order), even when there are no rows."""
    import pandas as pd

    df = pd.DataFrame(rows)
    return df.reindex(columns=columns + [c for c in df.columns if c not in columns])
