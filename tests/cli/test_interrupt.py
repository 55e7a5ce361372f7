"""Ctrl-C in the middle of a run: the user is told what was saved and the command that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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


@pytest.mark.parametrize("stop", ["SIGTERM to the launcher", "Ctrl-C in the terminal", "SIGINT to the launcher"])
def test_stopped_ranks_record_how_the_run_ended_and_say_it_once(engine_cards: Path, tmp_path: Path, stop: str) -> None:
    # `run --ranks 2` stopped by a scheduler (SIGTERM to the launcher, passed on to the ranks), by
    # Ctrl-C (SIGINT to every process of the terminal's group) or by `kill -INT` of the launcher: the
    # ranks stop at once, rank 0 records the invocation as failed and releases the lock, and the user
    # reads what was saved once, without a traceback
    _slow_model(engine_cards, delay_s=0.3)
    out = tmp_path / "run"
    args = ["color_vqa", "-m", "pixel", "--batch-size", "1", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ming_eval", "run", *args, "--ranks", "2"],
        env=_env(engine_cards),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job has
    )
    _wait_for_records(out / "color_vqa" / "records" / "rank-00001.jsonl", n=1)
    if stop == "Ctrl-C in the terminal":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM if stop == "SIGTERM to the launcher" else signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    text = " ".join(err.split())
    # SIGINT to the launcher alone reaches the ranks as SIGTERM
    how = "interrupted" if stop == "Ctrl-C in the terminal" else "stopped by SIGTERM"
    code = 143 if stop == "SIGTERM to the launcher" else 130
    assert proc.returncode == code, text
    assert "Traceback" not in text and "before any run directory" not in text
    assert text.count(f"{how}: saved in {out}") == 1
    assert text.count(f"resume (finished samples are skipped): ming-eval run {' '.join(args)} --ranks 2") == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["invocations"][-1]["status"].startswith("failed: ")
    assert (out / ".lock").read_text() == ""  # released by its holder, not left by a killed one
