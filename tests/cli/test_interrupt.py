"""Ctrl-C in the middle of a run: the user is told what was saved and the command that resumes."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.runner.test_concurrent_runs import _env, _slow_model, _start, _wait_for_records

pytestmark = pytest.mark.slow


def test_ctrl_c_prints_what_was_saved_and_how_to_resume(engine_cards: Path, tmp_path: Path) -> None:
    _slow_model(engine_cards, delay_s=0.3)
    out = tmp_path / "run"
    args = ["color_vqa", "-m", "pixel", "--batch-size", "1", "--out", str(out)]
    proc = _start(args, _env(engine_cards))
    records = out / "color_vqa" / "records" / "rank-00000.jsonl"
    _wait_for_records(records, n=2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    text = " ".join(err.split())
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    done = len(records.read_text().splitlines())
    assert 2 <= done < 24
    assert f"interrupted: saved in {out}" in text and f"color_vqa: {done} predictions, 0 scores" in text
    assert f"resume (finished samples are skipped): ming-eval run {' '.join(args)}" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["invocations"][-1]["status"] != "finished"
