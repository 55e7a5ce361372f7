"""Progress in a log file (no terminal): one line per update, the final count once."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ming_eval.runner import progress
from ming_eval.runner.progress import ProgressReporter


@pytest.mark.parametrize(("interval", "lines"), [(0.0, 3), (3600.0, 1)])
def test_final_count_is_printed_once(interval: float, lines: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", interval)
    out = io.StringIO()
    with ProgressReporter(Console(file=out, width=200), "mmstar: inference", 3) as bar:
        for _ in range(3):
            bar.advance()
    text = out.getvalue().splitlines()
    assert len(text) == lines and all(line for line in text)
    assert text[-1].startswith("mmstar: inference: 3/3 in ")
