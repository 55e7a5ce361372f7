"""Progress on rank 0: a live bar (samples/s and ETA) on a terminal; plain periodic lines in logs."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # rich.progress is imported where a bar is drawn (a terminal), not by every run
    from rich.progress import Progress, TaskID

LOG_INTERVAL_S = 30.0


def _bar(console: Console, description: str, total: int) -> tuple[Progress, TaskID]:
    """A live bar (description, bar, done/total, samples/s, elapsed, ETA) and its task id."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("- samples/s", style="progress.data.speed")
            return Text(f"{speed:,.1f} samples/s", style="progress.data.speed")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    )
    return progress, progress.add_task(description, total=total)


class ProgressReporter:
    """``with ProgressReporter(console, "geneval: generate", total) as p: p.advance(n)``

    On a terminal it draws a rich progress bar. Elsewhere (CI, a SLURM log file) it prints a line
    every 30 s and one at the end, so logs show throughput without escape sequences.
    """

    def __init__(self, console: Console | None, description: str, total: int, *, enabled: bool = True) -> None:
        self._logged_done = -1  # the count the last plain line showed
        self.console = console
        self.description = description
        self.total = total
        self.enabled = enabled and console is not None and total > 0
        self.done = 0
        self._start = self._last_log = 0.0
        self._progress: Progress | None = None
        self._task_id: TaskID | None = None
        if self.enabled and console is not None and console.is_terminal:
            self._progress, self._task_id = _bar(console, description, total)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        return f"{self.description}: {self.done}/{self.total} in {elapsed:.1f}s ({rate:,.1f} samples/s" + (
            f", ETA {eta:.0f}s)" if self.done < self.total and rate > 0 else ")"
        )

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._progress is not None and self._task_id is not None:
            self._progress.advance(self._task_id, n)
        elif self.enabled and self.console is not None:
            now = time.perf_counter()
            if now - self._last_log >= LOG_INTERVAL_S:
                self._last_log = now
                self._logged_done = self.done
                self.console.print(self._line(), highlight=False)

    def __enter__(self) -> ProgressReporter:
        self._start = self._last_log = time.perf_counter()
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif self.enabled and self.console is not None and self._logged_done != self.done:
            self.console.print(self._line(), highlight=False)  # the final count, unless just printed
