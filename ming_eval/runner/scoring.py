"""The scoring phase of one task on one rank, and the merge + aggregate step.

Every rank scores its shard. The merged files are written by the last rank (``predictions.jsonl``
before its shard, while the others score; ``scores.jsonl`` while rank 0 aggregates), so rank 0
alone does only the aggregation; on one process rank 0 does all of it.

Scores are stored per sample under a fingerprint of what they depend on (the task's scoring options
and version). A scorer is built — and its detector or judge loaded — only when this rank has samples
left to score. Samples whose inference failed are scored 0 with status ``inference_failed``
without calling the scorer, and are counted in every table.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

from rich.console import Console

from ming_eval.core.results import (
    DETAIL_BREAKDOWN,
    DETAIL_CLUSTER,
    DETAIL_GROUPS,
    DETAIL_PROMPT,
    INFERENCE_FAILED,
    RETRY_STATUSES,
    SCORING_FAILED,
    Prediction,
    SampleScore,
    Status,
    TaskResult,
    judge_of,
)
from ming_eval.core.sample import Sample
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.errors import RunStoreError
from ming_eval.redaction import redact
from ming_eval.runner.batching import BatchRunner, describe
from ming_eval.runner.distributed import Dist
from ming_eval.runner.heap import no_collections
from ming_eval.runner.progress import ProgressReporter
from ming_eval.store.run_store import TaskStore

Item = tuple[Sample, Prediction]

#: the bootstrap intervals of the last aggregation, keyed by their inputs (see stats.bootstrap)
INTERVALS = "intervals.json"


def prepare_scoring(task: BaseTask, store: TaskStore, dist: Dist) -> None:
    """On rank 0: if stored scores were made under another fingerprint, move them aside."""
    if dist.is_main:
        fingerprint = redact(task.scoring_fingerprint())  # stored on disk, so compared redacted
        if store.scoring_fingerprint() != fingerprint:
            store.reset_scoring(fingerprint)
    dist.barrier()


def merging_rank(dist: Dist) -> int:
    """The rank that writes the merged files: the last one, whose shard is never larger than rank 0's."""
    return dist.world_size - 1


def _own_hook(task: BaseTask, name: str) -> Callable[[Sample], Any] | None:
    """``task``'s hook ``name``, or None where it is :class:`BaseTask`'s, which adds nothing."""
    hook = getattr(task, name)
    return None if getattr(hook, "__func__", None) is getattr(BaseTask, name) else hook


def annotator(task: BaseTask) -> Callable[[Sample, SampleScore], SampleScore]:
    """What adds a sample's breakdown keys, groups and cluster (for comparisons between runs) and the
    prompt that reports show next to its outputs to its score. The task's hooks are looked up once
    for all its samples: those it keeps from :class:`BaseTask` give nothing and are not called."""
    breakdown_of = _own_hook(task, "sample_breakdown")
    groups_of = _own_hook(task, "sample_groups")
    cluster_of = _own_hook(task, "sample_cluster")
    prompt_of = task.sample_prompt

    def add(sample: Sample, score: SampleScore) -> SampleScore:
        details = score.details
        if breakdown_of is not None and (breakdown := breakdown_of(sample)):
            details.setdefault(DETAIL_BREAKDOWN, breakdown)
        if groups_of is not None and (groups := groups_of(sample)):
            details.setdefault(DETAIL_GROUPS, groups)
        if cluster_of is not None and (cluster := cluster_of(sample)) is not None:
            details.setdefault(DETAIL_CLUSTER, cluster)
        prompt = prompt_of(sample)
        if prompt is not None:
            details.setdefault(DETAIL_PROMPT, prompt)
        return score

    return add


def run_scoring(
    task: BaseTask,
    samples: Sequence[Sample],
    predictions: dict[str, Prediction],
    store: TaskStore,
    ctx: TaskContext,
    dist: Dist,
    console: Console | None,
    batch_size: int | None = None,
    changed: Set[str] | None = None,
) -> dict[str, SampleScore]:
    """Score this rank's shard of what has no valid score yet. Returns the stored scores of
    ``predictions`` with this rank's new ones, as :meth:`TaskStore.read_scores` would give them
    afterwards; on one process, those are every score, with the keys this version stores. ``ctx``:
    the task's context with ``samples`` and ``predictions`` filled in (:meth:`TaskContext.for_scoring`).

    ``changed``: on one process, the samples whose records may have changed since the last complete
    pass (see :func:`ming_eval.store.finished.records_appended`), when nothing else did. Then every
    other sample keeps the score and the merged lines that pass wrote, read back as they are."""
    add = annotator(task)
    kept = None
    if changed is not None and not dist.distributed:
        with no_collections():  # 50k scores parsed: the collector would scan the run's heap, freeing nothing
            kept = store.read_kept_scores(samples)
    # the merged predictions with the changed samples' lines replaced (what they held before: their
    # scores were made for those)
    before = store.update_predictions(samples, predictions, changed) if changed is not None and kept else None
    if kept is not None and before is not None:
        scores = kept
        pending: list[Item] = []
        for sample in samples:
            if sample.id in before:
                pred = predictions[sample.id]
                if before[sample.id].digest != pred.digest:  # (a complete pass leaves no retry status)
                    del scores[sample.id]
                    pending.append((sample, pred))
    else:
        scores = store.read_scores(predictions)
        get, stored = predictions.get, scores.get
        pending = [  # without a score, or one whose cause may have gone (the judge may be back)
            (sample, found)
            for sample in samples
            if (found := get(sample.id)) is not None
            and ((score := stored(sample.id)) is None or score.status in RETRY_STATUSES)
        ]
        if scores and not dist.distributed:  # scores kept from an earlier pass (see merged_scores)
            for sample in samples:
                if (score := stored(sample.id)) is not None and score.status not in RETRY_STATUSES:
                    add(sample, score)
        dist.barrier()
        if dist.rank == merging_rank(dist):  # while the other ranks score; kept if scoring fails
            store.write_predictions(samples, predictions)
    mine = dist.shard(pending)
    if not mine:
        return scores
    writer = store.score_writer(dist.rank)

    def write(items: Sequence[Item], given: Sequence[SampleScore]) -> None:
        """Annotate and write the scores of a batch's items together (one write, flushed: on disk
        before the next batch)."""
        entries = [(add(sample, score), pred) for (sample, pred), score in zip(items, given, strict=True)]
        for score in writer.write_scores(entries):
            scores[score.id] = score

    try:
        ok = [item for item in mine if item[1].status is Status.OK]
        failed = [item for item in mine if item[1].status is not Status.OK] if len(ok) < len(mine) else []
        write(
            failed,
            [
                SampleScore(s.id, 0.0, correct=False, status=INFERENCE_FAILED, reason=f"inference failed: {p.error}")
                for s, p in failed
            ],
        )
        if ok:  # verdicts another tool already gave (an imported judge file) are stored as they are
            imported = task.imported_scores(ctx)
            if imported:
                given = [item for item in ok if item[0].id in imported]
                write(given, [imported[sample.id] for sample, _ in given])
                ok = [item for item in ok if item[0].id not in imported]
        if ok:
            # one device rule for every model a scorer loads: the grader service's (--device, else
            # this rank's accelerator, else the CPU); "cpu" without importing torch for tasks that need none
            device = ctx.graders.device if task.needs_torch else "cpu"
            scorer: Scorer = task.scorer(dataclasses.replace(ctx, device=device))
            try:
                _score_items(task, ok, scorer, write, dist, console, batch_size)
            finally:
                scorer.close()
    finally:
        writer.close()
    return scores


def _score_items(
    task: BaseTask,
    items: list[Item],
    scorer: Scorer,
    write: Callable[[Sequence[Item], Sequence[SampleScore]], None],
    dist: Dist,
    console: Console | None,
    batch_size: int | None,
) -> None:
    def call(batch: Sequence[Item]) -> list[SampleScore]:
        scores = scorer.score(batch)
        for (sample, _), score in zip(batch, scores, strict=False):
            if score.id != sample.id:
                raise RuntimeError(f"scorer returned a score for {score.id!r} in place of {sample.id!r}")
        return scores

    # a batch's scores are written together as it is done, an item that failed alone by itself
    def on_fail(item: Item, exc: BaseException) -> None:
        reason = f"scoring failed: {describe(exc)}"
        write([item], [SampleScore(item[0].id, 0.0, correct=False, status=SCORING_FAILED, reason=reason)])

    suffix = f" (rank 0 of {dist.world_size})" if dist.distributed else ""
    with ProgressReporter(console, f"{task.name}: scoring{suffix}", len(items), enabled=dist.is_main) as bar:
        runner: BatchRunner[Item, SampleScore] = BatchRunner(
            call, None, on_fail, batch_size or scorer.batch_size, on_batch=write, on_progress=bar.advance
        )
        runner.run(items)


def missing_ids(samples: Sequence[Sample], have: Mapping[str, object]) -> list[str]:
    return [s.id for s in samples if s.id not in have]


def merged_scores(
    task: BaseTask,
    samples: Sequence[Sample],
    predictions: dict[str, Prediction],
    store: TaskStore,
) -> dict[str, SampleScore]:
    """Every rank's scores of ``predictions``, with the keys this version stores (scores kept from
    an earlier pass get them too)."""
    scores = store.read_scores(predictions)
    add = annotator(task)
    for sample in samples:  # scores kept from an earlier pass get the keys this version stores
        score = scores.get(sample.id)
        if score is not None and not store.written_here(score):  # (this pass's were annotated as written)
            add(sample, score)
    return scores


def finalize(
    task: BaseTask,
    samples: Sequence[Sample],
    predictions: dict[str, Prediction],
    store: TaskStore,
    ctx: TaskContext,
    *,
    allow_incomplete: bool,
    limit: int | None,
    write_merged: bool = True,
    scores: dict[str, SampleScore] | None = None,
) -> TaskResult:
    """Rank 0: merge scores (and write them, unless ``write_merged`` is False: another rank does),
    check completeness, aggregate, write the task's results, and call the task's finalize hook.
    ``ctx``: as for :func:`run_scoring`.
    ``scores``: every rank's scores with the keys this version stores, when the caller has them
    (:func:`run_scoring` on one process); else they are read and merged here."""
    if scores is None:
        scores = merged_scores(task, samples, predictions, store)
    if write_merged:
        store.write_scores(samples, scores)
    missing = missing_ids(samples, scores)
    if missing and not allow_incomplete:
        no_pred = [sid for sid in missing if sid not in predictions]
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        why = f"{len(no_pred)} have no prediction" if no_pred else "they were not scored"
        raise RunStoreError(
            f"task {task.name}: {len(missing)} of {len(samples)} samples have no score ({why}): {shown}",
            hint="re-run the same command to finish them, or pass --allow-incomplete to score what "
            "is there (the count of missing samples is shown in every table)",
        )
    get = scores.get
    scored_scores = [score for s in samples if (score := get(s.id)) is not None]
    scored = list(samples) if len(scored_scores) == len(samples) else [s for s in samples if s.id in scores]
    statuses = Counter(score.status for score in scored_scores)
    # intervals whose inputs did not change since the last pass are read back, not resampled
    from ming_eval.stats.bootstrap import IntervalCache  # numpy: imported when there is something to aggregate

    intervals = IntervalCache(store.scoring_dir / INTERVALS)
    with intervals.active():
        result = task.aggregate(scored, scored_scores, ctx)
    result.headline = task.headline()
    if result.judge is None:  # the judge the scorers named, in the one place reports read it
        result.judge = judge_of(scored_scores)
    result.notes.extend(task.source_notes(ctx))
    result.counts.setdefault("n", len(scored))
    result.counts["missing"] = len(missing)
    for status, count in statuses.items():
        result.counts[status] = count
    if limit is not None:
        result.mark_not_comparable(f"--limit {limit}: a subset of the benchmark")
    if missing:
        result.mark_not_comparable(f"{len(missing)} samples missing")
    for reason in task.comparability(ctx):
        result.mark_not_comparable(reason)
    for key, value in ctx.protocol_overrides.items():
        result.mark_not_comparable(f"protocol {key}={value!r} set with --protocol for this run")
    if limit is not None:
        result.notes.append(f"--limit {limit}: a subset of the benchmark; not comparable to published numbers")
        result.info["limit"] = limit
    if missing:
        result.notes.append(f"incomplete: {len(missing)} samples missing (--allow-incomplete)")
    if statuses.get(INFERENCE_FAILED) or statuses.get(SCORING_FAILED):
        result.notes.append(
            f"{statuses.get(INFERENCE_FAILED, 0)} inference failures and "
            f"{statuses.get(SCORING_FAILED, 0)} scoring failures count as wrong"
        )
    store.write_results(result)
    with intervals.active():
        task.finalize(result, scored, scored_scores, ctx)
    intervals.save()
    return result


def score_task(
    task: BaseTask,
    samples: Sequence[Sample],
    store: TaskStore,
    ctx: TaskContext,
    dist: Dist,
    console: Console | None,
    *,
    batch_size: int | None = None,
    allow_incomplete: bool = False,
    limit: int | None = None,
    changed: Set[str] | None = None,
) -> TaskResult | None:
    """Score what is left (each rank its shard), write the merged files and (on rank 0) aggregate;
    None on other ranks. ``changed``: see :func:`run_scoring`."""
    with no_collections():  # every record parsed (on a resume): long-lived values, no garbage to find
        predictions = store.read_predictions()
    prepare_scoring(task, store, dist)
    ctx = ctx.for_scoring(samples, predictions)  # once for the pass: it maps every sample by id
    scores = run_scoring(task, samples, predictions, store, ctx, dist, console, batch_size, changed)
    merger = merging_rank(dist)
    dist.barrier()  # every rank's scores are written
    result = None
    if dist.is_main:
        result = finalize(
            task,
            samples,
            predictions,
            store,
            ctx,
            allow_incomplete=allow_incomplete,
            limit=limit,
            write_merged=merger == 0,
            scores=None if dist.distributed else scores,
        )
    elif dist.rank == merger:
        store.write_scores(samples, merged_scores(task, samples, predictions, store))
    dist.barrier()  # scores.jsonl is on disk before rank 0 stamps the task finished
    return result
