"""One entry per command in a run's manifest: what was run, where, with which versions, and how it
ended. Shared by ``run``, ``score`` and ``score --images``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from ming_eval.redaction import redact_argv, redact_text
from ming_eval.runner.distributed import Dist
from ming_eval.store.manifest import (
    FORMAT,
    Invocation,
    ModelConfig,
    RunManifest,
    git_revision,
    gpu_info,
    host_info,
    now,
    package_versions,
)
from ming_eval.store.run_store import RunStore

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def new_invocation(command: str, argv: list[str], dist: Dist, **extra: Any) -> Invocation:
    """``extra``: the command's own keys (``run``: ``tasks``, ``limit``, ``forced_differences``)."""
    return Invocation(
        command=command,
        start=now(),
        end=None,
        status="running",
        argv=redact_argv(list(argv)),
        host=host_info(dist.world_size),
        versions=package_versions(),
        git=git_revision(PACKAGE_ROOT),
        **extra,
    )


def new_manifest(created: str, model: ModelConfig) -> RunManifest:
    return RunManifest(format=FORMAT, created=created, tasks={}, invocations=[], model=model)


@contextmanager
def recorded(store: RunStore, manifest: RunManifest, invocation: Invocation, dist: Dist) -> Iterator[None]:
    """Mark the invocation finished or failed (with the error), stamp its end, and save the manifest
    on rank 0 — also when the command fails, so the manifest says how far a run got."""
    try:
        yield
        invocation.status = "finished"
    except BaseException as exc:
        invocation.status = redact_text(f"failed: {type(exc).__name__}: {exc}")[:500]
        raise
    finally:
        invocation.end = now()
        invocation.gpus = gpu_info()
        if dist.is_main:
            store.write_manifest(manifest)


def console_notice(console: Console | None) -> Callable[[str], None] | None:
    """Print a line of plain text (a path, a command) on ``console``; nothing without one."""
    return None if console is None else lambda text: console.print(text, markup=False, highlight=False)
