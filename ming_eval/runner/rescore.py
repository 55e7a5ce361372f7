"""Scoring without the model: re-score a finished run, or score outputs made by another tool."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ming_eval.cards.schema import PROTOCOL_OF, TaskCard
from ming_eval.core.results import TaskResult
from ming_eval.errors import RunStoreError, UnknownNameError
from ming_eval.graders.service import GraderService
from ming_eval.redaction import contains_redacted, redact
from ming_eval.runner.distributed import Dist
from ming_eval.runner.heap import fewer_collections, no_collections
from ming_eval.runner.invocation import console_notice, new_invocation, new_manifest, recorded
from ming_eval.runner.plan import config_entry, load_task, resolve_task, task_context
from ming_eval.runner.results import write_run_results
from ming_eval.runner.scoring import score_task
from ming_eval.store.finished import finished_samples, records_appended, stamp_key, write_stamp
from ming_eval.store.guard import RunLock, check_same_model
from ming_eval.store.manifest import ModelConfig, TaskConfig
from ming_eval.store.run_store import RunStore


def rescore(
    run_dir: Path,
    *,
    tasks: list[str] | None = None,
    task_options: dict[str, dict[str, Any]] | None = None,
    allow_incomplete: bool = False,
    batch_size: int | None = None,
    data_overrides: dict[str, Path] | None = None,
    device: str | None = None,
    console: Console | None = None,
    argv: list[str] | None = None,
    wait: bool = False,
) -> dict[str, TaskResult]:
    """Score (again) the predictions of a run; stored scores are reused when nothing changed.

    ``device`` is where local graders load (default: this rank's accelerator, else the CPU)."""
    dist = Dist.from_env()
    dist.init()
    argv = argv if argv is not None else sys.argv
    lock: RunLock | None = None
    graders = GraderService(device)
    try:
        store = RunStore.open_existing(run_dir)
        if dist.is_main:
            lock = RunLock.acquire(run_dir, argv, wait=wait, on_wait=console_notice(console))
        dist.barrier()
        manifest = store.require_manifest()
        known = manifest.tasks
        names = tasks or list(known)
        for name in names:
            if name not in known:
                raise UnknownNameError(f"task in run {run_dir}", name, known)
        for name, given in (task_options or {}).items():
            if name not in names:
                shown = ", ".join(f"-o {name}.{k}={v}" for k, v in given.items())
                raise RunStoreError(
                    f"{shown}: task {name!r} is not scored here (tasks: {', '.join(names)})",
                    hint=f"add {name} to the tasks to score, or drop the option",
                )
        options = {name: {**known[name].options, **(task_options or {}).get(name, {})} for name in names}
        for name in names:
            hidden = sorted(key for key, value in options[name].items() if contains_redacted(value))
            if hidden:
                raise RunStoreError(
                    f"task {name} of run {run_dir}: option {', '.join(hidden)} held a credential, which the "
                    "manifest does not keep",
                    hint=" ".join(f"-o {name}.{key}=..." for key in hidden) + ": give it again",
                )
        model_name = str(manifest.model.card.get("name", "unknown"))
        invocation = new_invocation("score", argv, dist)
        dist.barrier()
        manifest.invocations.append(invocation)
        if dist.is_main:
            store.write_manifest(manifest)
        results: dict[str, TaskResult] = {}
        with recorded(store, manifest, invocation, dist), fewer_collections():
            for name in names:
                if graders.memory_short():
                    graders.release_all()
                cfg = known[name]
                card = TaskCard.model_validate(cfg.task)
                task = load_task(card, options[name])
                protocol = PROTOCOL_OF[task.capability].model_validate(cfg.protocol)
                ctx = task_context(
                    task,
                    protocol,
                    store.task(name).dir,
                    model_name=model_name,
                    seed=cfg.seed,
                    graders=graders,
                    data_overrides=data_overrides,
                    protocol_overrides=cfg.protocol_overrides or {},
                )
                limit = manifest.limits.get(name)
                tstore = store.task(name)
                if not tstore.records_dir.is_dir():
                    raise RunStoreError(
                        f"run {run_dir} has no predictions for task {name}",
                        hint="run inference first with `ming-eval run`",
                    )
                # the key `run` stamps a finished task with, under the options given here
                config = config_entry(cfg.model.to_json(), task, protocol, cfg.seed, cfg.protocol_overrides)
                key = stamp_key(
                    redact(config), limit, redact(task.scoring_fingerprint()), ctx.data, task.sample_sources(ctx.data)
                )
                if finished_samples(tstore, key, retry_failed=False) is not None:
                    stored = tstore.read_results()
                    if stored is not None:  # unchanged since scored: no sample built, no record read
                        results[name] = stored
                        continue
                # records appended since a complete pass, and nothing else changed: only their samples
                # are looked at again, the other samples' scores and merged lines are read back
                changed = records_appended(tstore, key) if not dist.distributed else None
                with no_collections():  # every sample built: long-lived values, no garbage to find
                    samples = list(task.samples(ctx))
                if limit is not None:
                    samples = samples[:limit]
                result = score_task(
                    task,
                    samples,
                    tstore,
                    ctx,
                    dist,
                    console,
                    batch_size=batch_size,
                    allow_incomplete=allow_incomplete,
                    limit=limit,
                    changed=changed,
                )
                if result is not None:
                    results[name] = result
                    write_stamp(tstore, key, len(samples), result)
            if dist.is_main:
                write_run_results(store, results)
        dist.barrier()
        return results
    finally:
        graders.close()
        if lock is not None:
            lock.release()
        dist.close()


def score_external(
    task_name: str,
    source: Path,
    out: Path,
    *,
    task_options: dict[str, Any] | None = None,
    allow_incomplete: bool = False,
    batch_size: int | None = None,
    data_overrides: dict[str, Path] | None = None,
    device: str | None = None,
    console: Console | None = None,
    argv: list[str] | None = None,
    force: bool = False,
    wait: bool = False,
    predictions: bool = False,
    verdicts: Path | None = None,
) -> dict[str, TaskResult]:
    """Score outputs that another tool wrote (e.g. a GenEval image folder, or with ``predictions`` a
    VLMEvalKit prediction file, and with ``verdicts`` that tool's judge file for it, whose verdicts are
    kept) as a run of their own; into a run directory made from another model or source only with
    ``force``."""
    dist = Dist.from_env()
    dist.init()
    argv = argv if argv is not None else sys.argv
    lock: RunLock | None = None
    graders = GraderService(device)
    try:
        task = resolve_task(task_name, task_options)
        if predictions:
            extra = task.prediction_import_options(source, verdicts)
            task = resolve_task(task_name, {**(task_options or {}), **extra})
        protocol = PROTOCOL_OF[task.capability]()
        store = RunStore.create(out) if dist.is_main else RunStore(out)
        if dist.is_main:
            lock = RunLock.acquire(out, argv, wait=wait, on_wait=console_notice(console))
        dist.barrier()
        model_name = f"external:{source.resolve().name}"
        ctx = task_context(
            task,
            protocol,
            store.task(task.name).dir,
            model_name=model_name,
            seed=0,
            graders=graders,
            data_overrides=data_overrides,
        )
        model = ModelConfig(card={"name": model_name}, checkpoint=None, source=str(source.resolve()))
        existing = store.read_manifest()
        forced = check_same_model(existing, model, out, force=force)
        if predictions and dist.is_main:
            n = task.import_predictions(
                source, ctx, store.task(task.name), allow_incomplete=allow_incomplete, verdicts=verdicts
            )
            if console is not None:
                console.print(f"imported {n} predictions from {source}")
                if verdicts is not None:
                    console.print(f"their verdicts are VLMEvalKit's, from {verdicts}, where it has one")
        dist.barrier()
        samples = list(task.samples(ctx))
        invocation = new_invocation("score-external", argv, dist, forced_differences=forced)
        tstore = store.task(task.name)
        manifest = existing if existing is not None else new_manifest(invocation.start, model)
        dist.barrier()  # every rank has read the manifest before rank 0 replaces it
        manifest.model = model
        entry = redact(config_entry(model.to_json(), task, protocol, 0))
        manifest.tasks[task.name] = TaskConfig.model_validate(entry)
        manifest.invocations.append(invocation)
        results: dict[str, TaskResult] = {}
        with recorded(store, manifest, invocation, dist):
            if dist.is_main and not predictions:
                n = task.import_outputs(source, samples, tstore, allow_incomplete=allow_incomplete)
                if console is not None:
                    console.print(f"imported {n} predictions from {source}")
            if dist.is_main:
                store.write_manifest(manifest)
            dist.barrier()
            result = score_task(
                task, samples, tstore, ctx, dist, console, batch_size=batch_size, allow_incomplete=allow_incomplete
            )
            if result is not None:
                results[task.name] = result
            if dist.is_main:
                write_run_results(store, results)
        dist.barrier()
        return results
    finally:
        graders.close()
        if lock is not None:
            lock.release()
        dist.close()
