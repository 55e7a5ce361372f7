"""A run directory as reports read it: its manifest, each task's results and, on demand, its scores.

Reports never write into a run. A run that is incomplete (a task without results, scores not merged)
or from another format is described precisely: what is missing and how to finish it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.core.results import SampleScore, TaskResult
from ming_eval.core.summaries import Summary
from ming_eval.errors import MingEvalError, RunStoreError
from ming_eval.registry import summary_catalog
from ming_eval.store.manifest import RunManifest
from ming_eval.store.run_store import MANIFEST, RunStore, TaskStore


@dataclass
class ReportRun:
    """One run directory, loaded for reporting. ``problems`` says, per task, why it has no results."""

    path: Path
    manifest: RunManifest
    results: dict[str, TaskResult]
    problems: dict[str, str] = field(default_factory=dict)
    label: str = ""
    #: the suite summaries of the run's results.json, by key (computed from the suite cards, the way
    #: the runner computes them, for a run written before results.json stored them)
    summaries: dict[str, Summary] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return list(self.manifest.tasks)

    @property
    def model_card(self) -> dict[str, Any]:
        return dict(self.manifest.model.card)

    @property
    def model_name(self) -> str:
        return str(self.model_card.get("name", "?"))

    @property
    def checkpoint(self) -> str | None:
        return self.manifest.model.checkpoint

    @property
    def created(self) -> str:
        return self.manifest.created

    @property
    def git_commit(self) -> str | None:
        for inv in reversed(self.manifest.invocations):
            if inv.git is not None and inv.git.commit:
                return inv.git.commit[:10] + ("+dirty" if inv.git.dirty else "")
        return None

    def task_config(self, task: str) -> dict[str, Any]:
        config = self.manifest.tasks.get(task)
        return config.to_json() if config is not None else {}

    def task_store(self, task: str) -> TaskStore:
        return RunStore(self.path).task(task)

    def rewritten_prompts(self, task: str) -> bool:
        """Whether the task ran on LLM-rewritten prompts (GenEval's "†").

        Read from the task's configuration: the GenEval task's option ``prompt_set: rewritten``
        (the ``geneval_rewritten`` card), or a data file whose name says it holds rewritten or long
        prompts (BAGEL ships ``evaluation_metadata_long.jsonl``).
        """
        cfg = self.task_config(task)
        if (cfg.get("options") or {}).get("prompt_set") == "rewritten":
            return True
        for data_file in (cfg.get("task") or {}).get("data", []) or []:
            name = str(data_file.get("name", "")).lower()
            if "rewrit" in name or name.endswith("_long.jsonl"):
                return True
        return False

    def scores(self, task: str) -> dict[str, SampleScore]:
        """The task's per-sample scores, in sample order; a clear error if the run has none."""
        ts = self.task_store(task)
        if ts.scores_path.is_file():
            return ts.read_merged_scores()
        raise RunStoreError(
            f"{self.path}: task {task} has no scores.jsonl ({describe_missing(ts)})",
            hint=f"finish the run (run the same `ming-eval run` command again) or `ming-eval score {self.path}`",
        )


def describe_missing(ts: TaskStore) -> str:
    """Why a task of a run has no results: the first phase that did not finish."""
    has_records = ts.records_dir.is_dir() and any(ts.records_dir.glob("rank-*.jsonl"))
    if not has_records and not ts.predictions_path.is_file():
        return "no inference records: inference never ran or was interrupted before the first sample"
    has_scores = ts.scoring_dir.is_dir() and any(ts.scoring_dir.glob("rank-*.jsonl"))
    if not has_scores:
        return "inference records but no scores: scoring did not run"
    if not ts.scores_path.is_file():
        return "scores were not merged: scoring was interrupted, or some samples are still missing"
    return "scores but no results.json: aggregation did not finish"


def _default_label(manifest: RunManifest, path: Path) -> str:
    card = manifest.model.card
    label = str(card.get("paper_name") or card.get("name") or path.name)
    ckpt = manifest.model.checkpoint
    if ckpt and ckpt != card.get("checkpoint"):
        label += f" @ {Path(str(ckpt).rstrip('/')).name}"
    return label


def refuse_a_file(path: Path, expected: str, hint: str) -> None:
    """A one-line error when ``path`` is a file where a folder (``expected``) is read: it says so, and
    names the run folder around the file when it is one of a run's own (manifest.json, results.json,
    a task's results.json or scores.jsonl)."""
    if not path.is_file():
        return
    around = next((f for f in (path.parent, path.parent.parent) if (f / MANIFEST).is_file()), None)
    raise RunStoreError(
        f"{path} is a file, not {expected}",
        hint=f"pass the run folder it belongs to: {around}" if around is not None else hint,
    )


def open_run(path: str | Path, label: str | None = None) -> ReportRun:
    """Load a run directory for reports: every task's results, and why any task has none."""
    root = Path(path)
    refuse_a_file(
        root,
        f"a run folder (one made by `ming-eval run --out`, holding {MANIFEST})",
        hint="pass the directory given to `ming-eval run --out`",
    )
    store = RunStore.open_existing(root)
    manifest = store.require_manifest()
    results: dict[str, TaskResult] = {}
    problems: dict[str, str] = {}
    for task in manifest.tasks:
        ts = store.task(task)
        # a damaged file is a RunStoreError naming it and the way out (`ming-eval score`)
        result = ts.read_results()
        if result is None:
            problems[task] = describe_missing(ts)
        else:
            results[task] = result
    try:
        summaries = store.read_summaries()
    except RunStoreError:  # the run's results.json cannot be read: the tasks' own files are
        summaries = None
    if summaries is None:
        summaries = summary_catalog().compute_all(results)
    return ReportRun(root, manifest, results, problems, label or _default_label(manifest, root), summaries)


def open_runs(paths: list[Path], labels: list[str] | None = None) -> list[ReportRun]:
    """Several runs; labels given in order replace the default ones of the first runs (the others keep
    theirs), more labels than runs is an error, and equal labels are told apart."""
    labels = labels or []
    if len(labels) > len(paths):
        raise MingEvalError(
            f"{len(labels)} --label values for {len(paths)} run(s): each label names one run, in order",
            hint=f"drop the last {len(labels) - len(paths)} --label value(s), or add the run(s) they name",
        )
    runs = [open_run(p, labels[i] if i < len(labels) else None) for i, p in enumerate(paths)]
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.label} ({run.path.name})"
    return runs
