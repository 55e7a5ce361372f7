"""Run a function over items in batches; split a failing batch to isolate what fails.

An out-of-memory error halves the batch and retries, and the smaller size is kept for the rest of
the phase. Any other error also splits the batch, so one corrupt image fails one sample, not eight.
An item that still fails alone is handed to ``on_fail`` (the runner records it with its error). If
the first items all fail, the cause is systematic (a bad card, a missing file) and the phase stops
with :class:`TooManyFailuresError` rather than writing thousands of identical failures. Setup errors
(a checkpoint that cannot be loaded, an invalid card) stop the phase at once without recording.
"""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ming_eval.errors import (
    CapabilityError,
    CardError,
    CheckpointError,
    MingEvalError,
    TooManyFailuresError,
)

#: Errors about the setup, not about a sample: they stop the phase at once, and no sample is
#: recorded as failed because of them (a fixed checkpoint path must not need --retry-failed).
FATAL_ERRORS: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    SystemExit,
    TooManyFailuresError,
    CheckpointError,
    CardError,
    CapabilityError,
)

T = TypeVar("T")
R = TypeVar("R")


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Collect unreachable tensors and hand their cached memory back; nothing to do (and no full
    garbage collection over a large run's objects) where torch was never imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def describe(exc: BaseException) -> str:
    """A one-line error for records: type and message, plus the innermost frame for bugs."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if not isinstance(exc, MingEvalError):
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return text


#: how many failures' messages a phase keeps to show
ERRORS_KEPT = 5


@dataclass
class BatchStats:
    done: int = 0
    failed: int = 0
    oom_splits: int = 0
    final_batch_size: int = 0
    first_error: str | None = None
    errors: list[str] = field(default_factory=list)

    @classmethod
    def combined(cls, parts: Sequence[BatchStats]) -> BatchStats:
        """The stats of one phase run in ``parts`` (each rank's shard), as one run would count them."""
        errors = [error for stats in parts for error in stats.errors]
        return cls(
            done=sum(stats.done for stats in parts),
            failed=sum(stats.failed for stats in parts),
            oom_splits=sum(stats.oom_splits for stats in parts),
            final_batch_size=min((stats.final_batch_size for stats in parts), default=0),
            first_error=next((stats.first_error for stats in parts if stats.first_error is not None), None),
            errors=errors[:ERRORS_KEPT],
        )


@dataclass
class BatchRunner(Generic[T, R]):
    fn: Callable[[Sequence[T]], Sequence[R]]
    #: handed each item that succeeded and its result (None: ``on_batch`` is given instead)
    on_done: Callable[[T, R], None] | None
    on_fail: Callable[[T, BaseException], None]
    batch_size: int
    #: handed a batch that succeeded, its items and results together, right after ``fn`` returned
    #: them (for a caller that writes a batch at once); in place of ``on_done``
    on_batch: Callable[[Sequence[T], Sequence[R]], None] | None = field(default=None, kw_only=True)
    #: called with the count of items just handed to ``on_done`` / ``on_fail``, once per batch that
    #: succeeded and once per item that failed alone, before the runner moves on (a writer commits
    #: a batch's records here, and a stop for too many failures comes after it)
    on_progress: Callable[[int], None] = lambda n: None
    #: stop when this many items in a row failed before any succeeded (0 disables)
    fail_fast_after: int = 16
    #: stop when this many items failed in total (0 disables)
    max_failures: int = 0
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        if (self.on_done is None) == (self.on_batch is None):
            raise TypeError("BatchRunner takes one of on_done and on_batch")

    def run(self, items: Sequence[T]) -> BatchStats:
        size = max(1, self.batch_size)
        pos = 0
        while pos < len(items):
            batch = items[pos : pos + size]
            size = self._attempt(batch, size)
            pos += len(batch)
        self.stats.final_batch_size = size
        return self.stats

    def _attempt(self, batch: Sequence[T], size: int) -> int:
        """Process ``batch``; returns the batch size to use from now on."""
        try:
            results = self.fn(batch)
            if len(results) != len(batch):
                raise RuntimeError(f"returned {len(results)} results for a batch of {len(batch)}")
        except FATAL_ERRORS:
            raise
        except BaseException as exc:
            oom = is_oom(exc)
            if oom:
                free_accelerator_memory()
            if len(batch) == 1:
                self._fail(batch[0], exc)
                return size
            half = (len(batch) + 1) // 2
            if oom:
                self.stats.oom_splits += 1
                size = min(size, half)
            # an OOM retries in chunks of the (possibly further shrinking) batch size; any other
            # error bisects, to isolate the failing sample in log2(batch) steps
            pos = 0
            while pos < len(batch):
                chunk = batch[pos : pos + (size if oom else half)]
                size = self._attempt(chunk, size)
                pos += len(chunk)
            return size
        if self.on_done is None:
            assert self.on_batch is not None
            self.on_batch(batch, results)
        else:
            for item, result in zip(batch, results, strict=True):
                self.on_done(item, result)
        self.stats.done += len(batch)
        self.on_progress(len(batch))
        return size

    def _fail(self, item: T, exc: BaseException) -> None:
        self.on_fail(item, exc)
        self.stats.failed += 1
        message = describe(exc)
        if self.stats.first_error is None:
            self.stats.first_error = message
        if len(self.stats.errors) < ERRORS_KEPT:
            self.stats.errors.append(message)
        self.on_progress(1)
        if self.fail_fast_after and self.stats.done == 0 and self.stats.failed >= self.fail_fast_after:
            raise TooManyFailuresError(
                f"the first {self.stats.failed} samples all failed; first error: {self.stats.first_error}",
                hint="the failures are recorded in the run; fix the cause and re-run with --retry-failed",
            ) from exc
        if self.max_failures and self.stats.failed >= self.max_failures:
            raise TooManyFailuresError(
                f"{self.stats.failed} samples failed (--max-failures {self.max_failures}); "
                f"first error: {self.stats.first_error}",
                hint="the failures are recorded in the run; fix the cause and re-run with --retry-failed",
            ) from exc
