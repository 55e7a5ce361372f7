"""Progress bars on rank 0 (samples/s and ETA); silence elsewhere."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
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


class ProgressReporter:
    """``with ProgressReporter(console, "geneval: generate", total) as p: p.advance(n)``"""

    def __init__(self, console: Console | None, description: str, total: int, *, enabled: bool = True) -> None:
        self.enabled = enabled and console is not None and total > 0
        self._progress: Progress | None = None
        self._task_id: int | None = None
        if self.enabled:
            assert console is not None
            self._progress = Progress(
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
            self._task_id = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task_id is not None:
            self._progress.advance(self._task_id, n)  # type: ignore[arg-type]

    def __enter__(self) -> ProgressReporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
