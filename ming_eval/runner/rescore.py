"""Scoring without the model: re-score a finished run, or score outputs made by another tool."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ming_eval.cards.schema import PROTOCOL_OF, TaskCard
from ming_eval.core.results import TaskResult
from ming_eval.core.task import BaseTask, TaskContext
from ming_eval.data.files import DataFiles
from ming_eval.errors import RunStoreError, UnknownNameError
from ming_eval.runner.distributed import Dist
from ming_eval.runner.plan import load_task, resolve_task
from ming_eval.runner.scoring import score_task
from ming_eval.store.manifest import (
    FORMAT,
    git_revision,
    host_info,
    now,
    package_versions,
    redact,
    redact_argv,
)
from ming_eval.store.run_store import RunStore

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _context(task: BaseTask, protocol: Any, store: RunStore, model_name: str, seed: int,
             data_overrides: dict[str, Path]) -> TaskContext:
    names = {f.name for f in task.data_files()}
    files = DataFiles(
        task.name, task.data_files(), overrides={k: v for k, v in data_overrides.items() if k in names},
        search_dirs=task.data_search_dirs(),
    )
    return TaskContext(protocol=protocol, data=files, model_name=model_name, run_seed=seed,
                       work_dir=store.task(task.name).dir)


def _invocation(command: str, dist: Dist, argv: list[str] | None) -> dict[str, Any]:
    return {
        "command": command,
        "start": now(),
        "end": None,
        "status": "running",
        "argv": redact_argv(list(argv if argv is not None else sys.argv)),
        "host": host_info(dist.world_size),
        "versions": package_versions(),
        "git": git_revision(PACKAGE_ROOT),
    }


def rescore(
    run_dir: Path,
    *,
    tasks: list[str] | None = None,
    task_options: dict[str, dict[str, Any]] | None = None,
    allow_incomplete: bool = False,
    batch_size: int | None = None,
    data_overrides: dict[str, Path] | None = None,
    console: Console | None = None,
    argv: list[str] | None = None,
) -> dict[str, TaskResult]:
    """Score (again) the predictions of a run; stored scores are reused when nothing changed."""
    dist = Dist.from_env()
    dist.init()
    try:
        store = RunStore.open_existing(run_dir)
        manifest = store.read_manifest() or {}
        known = manifest.get("tasks", {})
        names = tasks or list(known)
        for name in names:
            if name not in known:
                raise UnknownNameError(f"task in run {run_dir}", name, known)
        model_name = str(manifest.get("model", {}).get("card", {}).get("name", "unknown"))
        invocation = _invocation("score", dist, argv)
        dist.barrier()
        if dist.is_main:
            manifest.setdefault("invocations", []).append(invocation)
            store.write_manifest(manifest)
        results: dict[str, TaskResult] = {}
        for name in names:
            cfg = known[name]
            card = TaskCard.model_validate(cfg["task"])
            overrides = {**cfg.get("options", {}), **(task_options or {}).get(name, {})}
            task = load_task(card, overrides)
            protocol = PROTOCOL_OF[task.capability].model_validate(cfg["protocol"])
            ctx = _context(task, protocol, store, model_name, int(cfg.get("seed", 0)), data_overrides or {})
            limit = manifest.get("limits", {}).get(name)
            samples = list(task.samples(ctx))
            if limit is not None:
                samples = samples[:limit]
            if not store.task(name).records_dir.is_dir():
                raise RunStoreError(f"run {run_dir} has no predictions for task {name}",
                                    hint="run inference first with `ming-eval run`")
            result = score_task(task, samples, store.task(name), ctx, dist, console, batch_size=batch_size,
                                allow_incomplete=allow_incomplete, limit=limit)
            if result is not None:
                results[name] = result
        if dist.is_main:
            store.write_results(results)
            invocation.update(end=now(), status="finished")
            store.write_manifest(manifest)
        dist.barrier()
        return results
    finally:
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
    console: Console | None = None,
    argv: list[str] | None = None,
) -> dict[str, TaskResult]:
    """Score outputs that another tool wrote (e.g. a GenEval image folder) as a run of their own."""
    dist = Dist.from_env()
    dist.init()
    try:
        task = resolve_task(task_name, task_options)
        protocol = PROTOCOL_OF[task.capability]()
        store = RunStore.create(out) if dist.is_main else RunStore(out)
        dist.barrier()
        model_name = f"external:{source.resolve().name}"
        ctx = _context(task, protocol, store, model_name, 0, data_overrides or {})
        samples = list(task.samples(ctx))
        invocation = _invocation("score-external", dist, argv)
        tstore = store.task(task.name)
        if dist.is_main:
            n = task.import_outputs(source, samples, tstore, allow_incomplete=allow_incomplete)
            if console is not None:
                console.print(f"imported {n} predictions from {source}")
            manifest = store.read_manifest() or {"format": FORMAT, "created": invocation["start"], "tasks": {},
                                                 "invocations": []}
            manifest["model"] = {"card": {"name": model_name}, "checkpoint": None, "source": str(source.resolve())}
            manifest["tasks"][task.name] = redact({
                "model": manifest["model"],
                "task": task.card.model_dump(mode="json", by_alias=True, exclude={"description", "paper", "suites"}),
                "options": task.options.model_dump(mode="json"),
                "protocol": protocol.model_dump(mode="json"),
                "seed": 0,
            })
            manifest["invocations"].append(invocation)
            store.write_manifest(manifest)
        dist.barrier()
        result = score_task(task, samples, tstore, ctx, dist, console, batch_size=batch_size,
                            allow_incomplete=allow_incomplete)
        results = {task.name: result} if result is not None else {}
        if dist.is_main:
            store.write_results(results)
            manifest = store.read_manifest() or {}
            manifest["invocations"][-1].update(end=now(), status="finished")
            store.write_manifest(manifest)
        dist.barrier()
        return results
    finally:
        dist.close()
