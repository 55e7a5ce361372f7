"""One evaluation run end to end: plan -> run store -> inference -> scoring -> results.

Works the same on one process and under torchrun: every rank plans, checks and reads identically;
rank 0 alone writes the manifest and aggregates; the last rank merges the rank files (see scoring).
"""

from __future__ import annotations

import gc
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ming_eval.cards.schema import ModelCard, TaskCard
from ming_eval.core.model import Model
from ming_eval.core.results import TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.summaries import Summary
from ming_eval.core.task import TaskContext
from ming_eval.errors import ConfigMismatchError, DataError, RunStoreError
from ming_eval.graders.service import GraderService
from ming_eval.redaction import redact
from ming_eval.registry import summary_catalog
from ming_eval.runner.batching import BatchStats
from ming_eval.runner.distributed import Dist
from ming_eval.runner.heap import fewer_collections, no_collections
from ming_eval.runner.inference import InferenceSettings, InferenceSummary, run_inference
from ming_eval.runner.invocation import console_notice, new_invocation, new_manifest, recorded
from ming_eval.runner.plan import Plan, TaskPlan, make_plan, task_config, task_context
from ming_eval.runner.results import write_run_results
from ming_eval.runner.scoring import score_task
from ming_eval.store.finished import finished_samples, stamp_key, write_stamp
from ming_eval.store.guard import RunLock, check_same_model
from ming_eval.store.manifest import ModelConfig, RunManifest, TaskConfig, config_differences
from ming_eval.store.run_store import RunStore


@dataclass
class RunConfig:
    tasks: list[str | TaskCard]
    model: str | ModelCard
    checkpoint: str | None = None
    out: Path | None = None
    limit: int | None = None
    batch_size: int | None = None
    score_batch_size: int | None = None
    seed: int | None = None
    device: str | None = None
    force: bool = False
    #: wait for another invocation working in the same directory to finish (else stop at once)
    wait: bool = False
    retry_failed: bool = False
    allow_incomplete: bool = False
    max_failures: int = 0
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_overrides: dict[str, Path] = field(default_factory=dict)
    #: ``--protocol``: task name (or "*" for every task) -> protocol fields set for this run only
    protocol_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    argv: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class RunOutcome:
    run_dir: Path
    results: dict[str, TaskResult]
    inference: list[InferenceSummary] = field(default_factory=list)
    model_loaded: bool = False
    #: the suite summaries (e.g. leaderboard averages) over every finished task of the run directory,
    #: as stored in its results.json
    summaries: dict[str, Summary] = field(default_factory=dict)


def default_run_dir(model: str, checkpoint: str | None) -> Path:
    name = model
    if checkpoint:
        name += "-" + Path(checkpoint.rstrip("/")).name
    return Path("runs") / name


class LazyModel:
    """Builds the model on first use, so a finished run never loads weights.

    :meth:`start` begins the load on a background thread, so that the data index and the samples are
    built while the weights load; the first call waits for it. A load that fails is reported by the
    call that needs the model, never by a run that turns out to need none.
    """

    def __init__(self, plan: Plan, device: str | None, console: Console | None, dist: Dist) -> None:
        self.plan, self.requested_device, self.console, self.dist = plan, device, console, dist
        self.device = ""
        self.model: Model | None = None
        self._loading: threading.Thread | None = None
        self._failed: BaseException | None = None

    def _load(self) -> None:
        if self.plan.model_cls.needs_torch or self.requested_device not in (None, "auto"):
            self.device = self.dist.device(self.requested_device)  # imports torch: only when needed
        else:
            self.device = "cpu"  # an endpoint: no accelerator to choose, no torch to import
        if self.console is not None and self.dist.is_main:
            ckpt = self.plan.checkpoint or self.plan.model_card.checkpoint
            self.console.print(f"loading model [bold]{self.plan.model_card.name}[/] ({ckpt}) on {self.device}")
        # Loading imports the model's libraries and makes hundreds of thousands of objects; every
        # collection their allocations trigger walks all of them again (a sixth of a Qwen2.5-VL
        # load's CPU). So the collector waits for the load, collects once, and freezes what is left:
        # it lives as long as the model, and later collections (during inference) skip it too.
        # close() unfreezes it, so that the model's memory can be collected.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.model = self.plan.model_cls.from_card(
                self.plan.model_card, checkpoint=self.plan.checkpoint, device=self.device
            )
        finally:
            if enabled:
                gc.enable()
        gc.collect()
        gc.freeze()

    def _load_in_background(self) -> None:
        try:
            if self.dist.distributed and "torch" in sys.modules:  # Dist.init chose this rank's GPU ...
                import torch

                if torch.cuda.is_available():  # ... for the main thread: the current device is per thread
                    torch.cuda.set_device(self.dist.local_rank)
            self._load()
        except BaseException as exc:  # handed to the caller that needs the model
            self._failed = exc

    def start(self) -> None:
        """Begin loading on a background thread (once); :meth:`__call__` then waits for it."""
        if self.model is None and self._loading is None:
            self._loading = threading.Thread(target=self._load_in_background, name="ming-eval model load", daemon=True)
            self._loading.start()

    def _wait(self) -> None:
        loading, self._loading = self._loading, None
        if loading is not None:
            loading.join()

    def __call__(self) -> Model:
        self._wait()
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        if self.model is None:
            self._load()
        assert self.model is not None
        return self.model

    @property
    def loaded(self) -> bool:
        """Whether a model was loaded (or is loading) in this invocation and not closed yet."""
        return self.model is not None or self._loading is not None

    def close(self, *, reclaim: bool = True) -> None:
        """Close the model. ``reclaim``: collect its memory now (a full collection over everything the
        model's libraries made, about a third of a second on a CPU core) and hand the accelerator's
        cache back; without it the collector gets to it in its own time."""
        self._wait()  # a load under way finishes, so that its memory is freed here
        self._failed = None
        if self.model is not None:
            self.model.close()
            self.model = None
            gc.unfreeze()  # frozen after the load
            if reclaim:
                from ming_eval.runner.batching import free_accelerator_memory

                free_accelerator_memory()


def _check_limit(existing: RunManifest | None, store: RunStore, plan: Plan, limit: int | None, force: bool) -> None:
    """A ``--limit`` below what a task of the directory already has results for would replace them
    with a subset's: refused unless ``--force``."""
    if existing is None or limit is None or force:
        return
    for tp in plan.tasks:
        if tp.name not in existing.limits or not store.task(tp.name).results_path.is_file():
            continue
        before = existing.limits[tp.name]
        if before is None or before > limit:
            had = "all samples" if before is None else f"--limit {before}"
            raise RunStoreError(
                f"{store.root}: task {tp.name} has results for {had}; --limit {limit} would replace them "
                "with a smaller subset's",
                hint="use another --out for the subset, drop --limit to resume, or pass --force to replace them",
            )


def _check_manifest(
    existing: RunManifest | None, configs: dict[str, dict[str, Any]], force: bool, run_dir: Path
) -> list[str]:
    if not existing:
        return []
    diffs: list[str] = []
    for name, cfg in configs.items():
        old = existing.tasks.get(name)
        if old is not None:
            diffs.extend(f"{name}: {d}" for d in config_differences(old.to_json(), cfg))
    if diffs and not force:
        raise ConfigMismatchError(str(run_dir), diffs)
    return diffs


def evaluate(config: RunConfig, console: Console | None = None) -> RunOutcome:
    dist = Dist.from_env()
    dist.init()
    try:
        with ExitStack() as held:  # the run directory's lock, on rank 0, until the end however it ends
            return _evaluate(config, console, dist, held)
    finally:
        dist.close()


def _evaluate(config: RunConfig, console: Console | None, dist: Dist, held: ExitStack) -> RunOutcome:
    plan = make_plan(
        config.tasks,
        config.model,
        checkpoint=config.checkpoint,
        seed=config.seed,
        task_options=config.task_options,
        data_overrides=config.data_overrides,
        protocol_overrides=config.protocol_overrides,
    )
    summary_catalog()  # the suite cards' summaries resolve: a card error stops the run before any work
    run_dir = config.out or default_run_dir(plan.model_card.name, config.checkpoint)
    store = RunStore.create(run_dir) if dist.is_main else RunStore(run_dir)
    if dist.is_main:
        held.enter_context(RunLock.acquire(run_dir, config.argv, wait=config.wait, on_wait=console_notice(console)))
    dist.barrier()

    configs = {tp.name: redact(task_config(plan, tp)) for tp in plan.tasks}
    existing = store.read_manifest()
    model_config = ModelConfig.model_validate(redact(plan.model_config()))
    forced = check_same_model(existing, model_config, run_dir, force=config.force)
    forced += _check_manifest(existing, configs, config.force, run_dir)
    _check_limit(existing, store, plan, config.limit, config.force)
    dist.barrier()  # every rank has read the old manifest before rank 0 replaces it
    invocation = new_invocation(
        "run", config.argv, dist, tasks=[tp.name for tp in plan.tasks], limit=config.limit, forced_differences=forced
    )
    manifest = existing if existing is not None else new_manifest(invocation.start, model_config)
    manifest.model = model_config
    manifest.tasks.update({name: TaskConfig.model_validate(cfg) for name, cfg in configs.items()})
    manifest.limits = {**manifest.limits, **{tp.name: config.limit for tp in plan.tasks}}
    manifest.invocations.append(invocation)
    if dist.is_main:
        store.write_manifest(manifest)

    outcome = RunOutcome(run_dir, {})
    model = LazyModel(plan, config.device, console, dist)
    graders = GraderService(config.device)
    with recorded(store, manifest, invocation, dist), fewer_collections():
        try:
            _run_phases(plan, configs, config, dist, store, model, graders, outcome, console)
        finally:
            model.close()
            graders.close()
    dist.barrier()
    return outcome


def _run_phases(
    plan: Plan,
    configs: dict[str, dict[str, Any]],
    config: RunConfig,
    dist: Dist,
    store: RunStore,
    model: LazyModel,
    graders: GraderService,
    outcome: RunOutcome,
    console: Console | None,
) -> None:
    """Inference for every task (one model load at most), then scoring of every task; graders load
    after the model is closed, and are released between tasks when memory is short. ``configs``: each
    task's configuration as the manifest records it."""
    contexts = _prefetch(plan, config, dist, store, graders)
    keys = {
        tp.name: stamp_key(
            configs[tp.name],
            config.limit,
            redact(tp.task.scoring_fingerprint()),
            contexts[tp.name].data,
            tp.task.sample_sources(contexts[tp.name].data),
        )
        for tp in plan.tasks
    }
    # a task whose stamp matches is finished: no sample is built, no record read, no file written
    finished: dict[str, int] = {}
    for tp in plan.tasks:
        n = (
            None
            if config.force
            else finished_samples(store.task(tp.name), keys[tp.name], retry_failed=config.retry_failed)
        )
        if n is not None:
            finished[tp.name] = n
    if any(tp.name not in finished and not store.task(tp.name).has_records() for tp in plan.tasks):
        model.start()  # a first run needs the model: it loads while the samples are built
    task_samples: dict[str, list[Sample]] = {}
    for tp in plan.tasks:
        if tp.name in finished:
            n = finished[tp.name]
            outcome.inference.append(InferenceSummary(tp.name, n, n, 0, 0))
            continue
        samples = _limited(tp, contexts[tp.name], config.limit)
        task_samples[tp.name] = samples
        settings = InferenceSettings(
            batch_size=config.batch_size or plan.model_card.default_batch_size(tp.task.capability),
            run_seed=tp.seed,
            retry_failed=config.retry_failed,
            max_failures=config.max_failures,
        )
        outcome.inference.append(
            run_inference(tp.task, samples, store.task(tp.name), tp.protocol, model, dist, settings, console)
        )
    outcome.model_loaded = model.loaded
    # the model's memory is needed back now only when scoring loads models of its own (a detector,
    # a local grader); a task that scores without torch does not wait for a full collection
    model.close(reclaim=any(tp.task.needs_torch for tp in plan.tasks if tp.name not in finished))
    _gather_inference_stats(outcome.inference, dist)  # (every rank's inference is done: a barrier)

    for tp in plan.tasks:
        tstore = store.task(tp.name)
        if tp.name in finished:
            stored = tstore.read_results()
            if stored is not None:
                outcome.results[tp.name] = stored
            continue
        if graders.memory_short():
            graders.release_all()
        result = score_task(
            tp.task,
            task_samples[tp.name],
            store.task(tp.name),
            contexts[tp.name],
            dist,
            console,
            batch_size=config.score_batch_size,
            allow_incomplete=config.allow_incomplete,
            limit=config.limit,
        )
        if result is not None:
            outcome.results[tp.name] = result
            write_stamp(tstore, keys[tp.name], len(task_samples[tp.name]), result)
    if dist.is_main:
        outcome.summaries = write_run_results(store, outcome.results)


def _gather_inference_stats(summaries: list[InferenceSummary], dist: Dist) -> None:
    """On rank 0, each task's inference stats over every rank (failures, their first errors, splits
    after running out of memory), so that what it reports counts every rank's samples, not its own."""
    gathered = dist.all_gather([summary.stats for summary in summaries])
    if not dist.distributed or not dist.is_main:
        return
    for i, summary in enumerate(summaries):
        ranks: list[BatchStats] = [stats[i] for stats in gathered if stats[i] is not None]
        if ranks:
            summary.stats = BatchStats.combined(ranks)


def _prefetch(
    plan: Plan, config: RunConfig, dist: Dist, store: RunStore, graders: GraderService
) -> dict[str, TaskContext]:
    """Local rank 0 downloads and verifies every data file first; the other ranks then read them."""
    contexts: dict[str, TaskContext] = {}
    for tp in plan.tasks:
        ctx = task_context(
            tp.task,
            tp.protocol,
            store.task(tp.name).dir,
            model_name=plan.model_card.name,
            seed=tp.seed,
            graders=graders,
            data_overrides=config.data_overrides,
            protocol_overrides=tp.protocol_overrides,
        )
        contexts[tp.name] = ctx
        files = ctx.data
        if dist.local_rank == 0:
            for spec in files.specs.values():
                if spec.required:
                    files.path(spec.name)
    dist.barrier()
    return contexts


def _limited(tp: TaskPlan, ctx: TaskContext, limit: int | None) -> list[Sample]:
    with no_collections():  # every sample built lives for the run: no garbage for a pass to find
        samples = list(tp.task.samples(ctx))
    if limit is not None:
        samples = samples[:limit]
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise DataError(f"task {tp.name} produced the sample id {s.id!r} twice; ids must be unique")
        seen.add(s.id)
    return samples
