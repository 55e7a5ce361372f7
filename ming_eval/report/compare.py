"""Two runs of the same benchmarks (a base checkpoint and a new one), sample by sample.

For each shared task: the delta of the primary metric on the samples both runs scored, its paired
bootstrap interval, and a paired test (:mod:`ming_eval.stats.headline`). The primary metric is
recomputed from per-sample scores by the statistic the task declares (stored in its ``results.json``:
a mean, a mean of category means, a sum, or e.g. MMBench's circular accuracy), so the test is of the
headline number itself. Then the same per category
where the task records each sample's category (``details["breakdown"]``). The verdict: a task
regressed when its delta is negative, significant at ``alpha`` after Holm's correction across the
tasks compared, and at least ``min_delta`` percentage points. Categories are shown with their own,
uncorrected tests but do not decide the verdict.

Runs made under different protocols (model settings, prompts, task options, judge, data, scoring)
are not compared unless forced; the differences are listed either way. The checkpoint is what
differs by design, so it is not part of the protocol.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ming_eval.core.results import DETAIL_BREAKDOWN, DETAIL_CLUSTER, SampleScore, TaskResult
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.errors import MingEvalError, RunStoreError
from ming_eval.report.runs import ReportRun, open_run
from ming_eval.stats.bootstrap import DEFAULT, BootstrapConfig
from ming_eval.stats.headline import headline_value, paired_headline, score_keys
from ming_eval.stats.paired import PairedComparison, holm_adjust, paired_compare
from ming_eval.store.manifest import config_differences

# Parts of a task's configuration that may differ between two checkpoints' runs: the checkpoint
# itself, names, and the card's batch sizes (results do not depend on them). The card's protocol
# blocks are compared in their resolved form (the task's own "protocol" entry) instead.
IGNORED = (
    ("model", "checkpoint"),
    ("model", "card", "checkpoint"),
    ("model", "card", "revision"),
    ("model", "card", "name"),
    ("model", "card", "paper_name"),
    ("model", "card", "family"),
    ("model", "card", "batch_size"),
    ("model", "card", "protocol"),
    ("model", "card", "tasks"),
)
VERSIONED = ("torch", "transformers", "diffusers", "open_clip_torch", "mmdet", "mmcv", "ming-eval")


class ProtocolMismatchError(MingEvalError):
    """Two runs made under different protocols, compared without ``--force``."""

    def __init__(self, differences: Mapping[str, list[str]]) -> None:
        lines = "\n".join(f"  - {task}: {d}" for task, diffs in differences.items() for d in diffs)
        super().__init__(
            f"the runs were made under different protocols, so their scores are not comparable:\n{lines}",
            hint="re-run one of them with the other's settings, or pass --force to compare anyway "
            "(the differences are listed in the summary)",
        )
        self.differences = dict(differences)


def _strip(config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(dict(config))
    for path in IGNORED:
        node: Any = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def protocol_differences(base: ReportRun, new: ReportRun, task: str) -> list[str]:
    """What differs in how ``task`` was run, besides the checkpoint: configuration and scoring."""
    diffs = config_differences(_strip(base.task_config(task)), _strip(new.task_config(task)))
    fp_base = base.task_store(task).scoring_fingerprint()
    fp_new = new.task_store(task).scoring_fingerprint()
    if fp_base is not None and fp_new is not None:
        diffs += [f"scoring.{d}" for d in config_differences(fp_base, fp_new)]
    return diffs


def version_differences(base: ReportRun, new: ReportRun) -> list[str]:
    """Package versions of the two runs' last invocations that differ (shown, never refused)."""

    def versions(run: ReportRun) -> dict[str, str]:
        invocations = run.manifest.invocations
        return dict(invocations[-1].versions) if invocations else {}

    vb, vn = versions(base), versions(new)
    return [f"{p}: {vb.get(p)} -> {vn.get(p)}" for p in VERSIONED if vb.get(p) != vn.get(p)]


@dataclass
class TaskComparison:
    task: str
    primary: str
    n_base: int
    n_new: int
    overall: PairedComparison
    categories: dict[str, dict[str, PairedComparison]] = field(default_factory=dict)
    metric_base: float | None = None
    metric_new: float | None = None
    notes: list[str] = field(default_factory=list)
    p_adjusted: float = 1.0
    significant: bool = False
    regression: bool = False
    improvement: bool = False

    @property
    def n_shared(self) -> int:
        return self.overall.n


@dataclass
class RunComparison:
    base: ReportRun
    new: ReportRun
    tasks: list[TaskComparison]
    alpha: float
    min_delta: float
    correction: str
    only_base: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    forced_differences: dict[str, list[str]] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[TaskComparison]:
        return [t for t in self.tasks if t.regression]

    @property
    def improvements(self) -> list[TaskComparison]:
        return [t for t in self.tasks if t.improvement]


# -- estimators ---------------------------------------------------------------------------------
def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _breakdowns(scores: Sequence[SampleScore]) -> dict[str, list[str | None]]:
    """Each breakdown name -> every sample's key (None where a sample does not say)."""
    names: dict[str, None] = {}
    for s in scores:
        bd = s.details.get(DETAIL_BREAKDOWN)
        if isinstance(bd, dict):
            names.update(dict.fromkeys(str(k) for k in bd))
    out: dict[str, list[str | None]] = {}
    for name in names:
        keys: list[str | None] = []
        for s in scores:
            bd = s.details.get(DETAIL_BREAKDOWN)
            keys.append(str(bd[name]) if isinstance(bd, dict) and name in bd else None)
        out[name] = keys
    return out


def declared_headline(task: str, result: TaskResult) -> tuple[Statistic, str | None]:
    """The task's declared headline statistic from its ``results.json``, and a note when the run is
    too old to declare one (its primary metric is then compared as the plain mean)."""
    if result.headline is not None:
        return result.headline, None
    scale = result.primary_metric.scale or 1.0
    return Mean(scale=scale), (
        f"results.json of {task} declares no headline statistic (made by an older ming-eval): "
        f"{result.primary} is compared as the mean of the per-sample scores"
    )


def check_headline(task: str, result: TaskResult, statistic: Statistic, scores: Sequence[SampleScore]) -> str | None:
    """A note when the declared statistic of the stored scores is not the stored primary metric."""
    metric = result.primary_metric
    values = np.array([s.score for s in scores], dtype=np.float64)
    if values.size == 0 or math.isnan(metric.value):
        return None
    keys, clusters = score_keys(statistic, scores, task)
    try:
        recomputed = headline_value(statistic, values, keys, clusters=clusters)
    except ValueError as exc:
        raise MingEvalError(f"task {task}: cannot recompute its headline ({statistic.describe()}): {exc}") from exc
    if _close(recomputed, metric.value):
        return None
    return (
        f"the {statistic.describe()} of the per-sample scores ({recomputed:.4g}) is not the stored "
        f"{result.primary} ({metric.value:.4g}), e.g. a --limit run with partial groups: the delta and test "
        "are of the recomputed number"
    )


# -- comparing ----------------------------------------------------------------------------------
def _clusters(scores: Sequence[SampleScore]) -> list[str] | None:
    if not any(DETAIL_CLUSTER in s.details for s in scores):
        return None
    return [str(s.details.get(DETAIL_CLUSTER, f"id:{s.id}")) for s in scores]


def compare_task(task: str, base: ReportRun, new: ReportRun, cfg: BootstrapConfig = DEFAULT) -> TaskComparison:
    base_scores = base.scores(task)
    new_scores = new.scores(task)
    shared = [sid for sid in base_scores if sid in new_scores]
    if not shared:
        raise MingEvalError(
            f"task {task}: the runs share no sample ids (base {len(base_scores)}, new {len(new_scores)}); "
            "they were made on different data",
            hint="check the task's data files and --limit in both runs' manifest.json",
        )
    result = base.results[task]
    scale = result.primary_metric.scale or 1.0
    b_list = [base_scores[s] for s in shared]
    n_list = [new_scores[s] for s in shared]
    b = np.array([s.score for s in b_list], dtype=np.float64)
    n = np.array([s.score for s in n_list], dtype=np.float64)
    notes: list[str] = []
    if len(shared) < max(len(base_scores), len(new_scores)):
        notes.append(
            f"compared on the {len(shared)} samples both runs scored (base {len(base_scores)}, new {len(new_scores)})"
        )
    statistic, note = declared_headline(task, result)
    notes += [x for x in (note, check_headline(task, result, statistic, list(base_scores.values()))) if x]
    keys, clusters = score_keys(statistic, b_list, task)
    try:
        overall = paired_headline(statistic, b, n, keys, clusters=clusters, cfg=cfg)
    except ValueError as exc:
        raise MingEvalError(f"task {task}: cannot compare its headline ({statistic.describe()}): {exc}") from exc
    breakdowns = _breakdowns(b_list)
    categories: dict[str, dict[str, PairedComparison]] = {}
    for name, column in breakdowns.items():
        labels = np.array([k if k is not None else "" for k in column], dtype=object)
        per: dict[str, PairedComparison] = {}
        for key in dict.fromkeys(k for k in column if k is not None):
            mask = labels == key
            sub_clusters = None if clusters is None else [c for c, m in zip(clusters, mask, strict=True) if m]
            per[key] = paired_compare(b[mask], n[mask], clusters=sub_clusters, scale=scale, cfg=cfg)
        if per:
            categories[name] = per
    new_result = new.results.get(task)
    failed = {
        "base": sum(s.status != "ok" for s in b_list),
        "new": sum(s.status != "ok" for s in n_list),
    }
    if failed["base"] or failed["new"]:
        notes.append(f"failed samples count as wrong: base {failed['base']}, new {failed['new']}")
    return TaskComparison(
        task=task,
        primary=result.primary,
        n_base=len(base_scores),
        n_new=len(new_scores),
        overall=overall,
        categories=categories,
        metric_base=result.primary_metric.value,
        metric_new=None if new_result is None else new_result.primary_metric.value,
        notes=notes,
    )


def compare_runs(
    base_path: str | Path,
    new_path: str | Path,
    *,
    alpha: float = 0.05,
    min_delta: float = 0.0,
    force: bool = False,
    correction: Literal["holm", "none"] = "holm",
    tasks: Sequence[str] | None = None,
    cfg: BootstrapConfig = DEFAULT,
) -> RunComparison:
    """Compare every task the two runs share (or ``tasks``); see the module docstring."""
    if not 0.0 < alpha < 1.0:
        raise MingEvalError(f"--alpha must be between 0 and 1, got {alpha}")
    if min_delta < 0:
        raise MingEvalError(f"--min-delta must be >= 0 (percentage points), got {min_delta}")
    base, new = open_run(base_path), open_run(new_path)
    shared = [t for t in base.tasks if t in new.tasks]
    if tasks:
        unknown = [t for t in tasks if t not in shared]
        if unknown:
            raise MingEvalError(
                f"task(s) {', '.join(unknown)} are not in both runs; shared: {', '.join(shared) or 'none'}"
            )
        shared = [t for t in shared if t in tasks]
    if not shared:
        raise MingEvalError(
            f"{base.path} and {new.path} have no task in common "
            f"(base: {', '.join(base.tasks) or 'none'}; new: {', '.join(new.tasks) or 'none'})"
        )
    incomplete = [
        f"{run.path}: task {t}: {run.problems[t]}" for t in shared for run in (base, new) if t in run.problems
    ]
    if incomplete:
        raise RunStoreError(
            "cannot compare incomplete runs:\n" + "\n".join(f"  - {line}" for line in incomplete),
            hint="finish them (run the same `ming-eval run` command again, or `ming-eval score RUN`), "
            "or compare only finished tasks with --task",
        )
    differences = {t: d for t in shared if (d := protocol_differences(base, new, t))}
    if differences and not force:
        raise ProtocolMismatchError(differences)
    comparisons = [compare_task(t, base, new, cfg) for t in shared]
    p_values = [c.overall.p_value for c in comparisons]
    adjusted = holm_adjust(p_values) if correction == "holm" else list(p_values)
    for comp, p_adj in zip(comparisons, adjusted, strict=True):
        comp.p_adjusted = p_adj
        comp.significant = p_adj < alpha
        big_enough = abs(comp.overall.delta_points) >= min_delta and comp.overall.delta != 0.0
        comp.regression = comp.significant and comp.overall.delta < 0 and big_enough
        comp.improvement = comp.significant and comp.overall.delta > 0 and big_enough
    return RunComparison(
        base=base,
        new=new,
        tasks=comparisons,
        alpha=alpha,
        min_delta=min_delta,
        correction=correction,
        only_base=[t for t in base.tasks if t not in new.tasks],
        only_new=[t for t in new.tasks if t not in base.tasks],
        forced_differences=differences,
        versions=version_differences(base, new),
    )
