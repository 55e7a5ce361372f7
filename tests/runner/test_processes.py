"""Real processes: a 2-rank torchrun run (gloo, CPU) and a run killed with SIGKILL then resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _env(engine_cards):
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", MING_EVAL_CARDS_PATH=str(engine_cards))


def _rows(path, drop=("elapsed_s", "files")):  # timings and file mtimes differ between runs
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _run(args, env, timeout=240):
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_torchrun_two_ranks_equal_one_rank(engine_cards, tmp_path):
    env = _env(engine_cards)
    cli = ["-m", "ming_eval", "run", "color_vqa", "paint", "--model", "pixel", "--batch-size", "3"]
    _run([sys.executable, *cli, "--out", str(tmp_path / "one")], env)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517"]
    _run([*torchrun, *cli, "--out", str(tmp_path / "two")], env)
    # the finished run scored again by two ranks: its results read back, and reported once, by rank 0
    scored = _run([*torchrun, "-m", "ming_eval", "score", str(tmp_path / "two")], env)
    assert scored.stdout.count("scores of") == 1
    for task in ("color_vqa", "paint"):
        one, two = tmp_path / "one" / task, tmp_path / "two" / task
        assert _rows(one / "predictions.jsonl") == _rows(two / "predictions.jsonl")
        assert _rows(one / "scores.jsonl") == _rows(two / "scores.jsonl")
        assert json.loads((one / "results.json").read_text()) == json.loads((two / "results.json").read_text())
        assert sorted((two / "records").glob("rank-*.jsonl")) == [
            two / "records" / "rank-00000.jsonl",
            two / "records" / "rank-00001.jsonl",
        ]
    images_one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    images_two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.png"))
    assert images_one == images_two
    for rel in images_one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()


def test_sigkill_then_resume_loses_and_duplicates_nothing(engine_cards, tmp_path):
    card_path = engine_cards / "model_zoo" / "pixel.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["options"] = {"delay_s": 0.05}
    card_path.write_text(yaml.safe_dump(card))
    env = _env(engine_cards)
    cli = [sys.executable, "-m", "ming_eval", "run", "color_vqa", "--model", "pixel", "--batch-size", "1"]
    killed = tmp_path / "killed"
    records = killed / "color_vqa" / "records" / "rank-00000.jsonl"
    proc = subprocess.Popen([*cli, "--out", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records.is_file() and len(records.read_text().splitlines()) >= 8:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(records.read_text().splitlines())
    assert 8 <= done_before < 24, "the kill must land in the middle of the run"

    _run([*cli, "--out", str(killed)], env)
    _run([*cli, "--out", str(tmp_path / "clean")], env)
    ids = [json.loads(line)["id"] for line in records.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(24)]  # none lost, none twice
    clean = tmp_path / "clean" / "color_vqa"
    assert _rows(killed / "color_vqa" / "predictions.jsonl") == _rows(clean / "predictions.jsonl")
    assert json.loads((killed / "color_vqa" / "results.json").read_text()) == json.loads(
        (clean / "results.json").read_text()
    )
