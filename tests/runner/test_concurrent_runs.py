"""Two invocations on one run directory, as real processes: the second stops (or waits with --wait),
so no work is done twice and no task is lost from the manifest; and a directory keeps one model."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.cli.test_cli import run_cli
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _env(engine_cards):
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", MING_EVAL_CARDS_PATH=str(engine_cards))


def _slow_model(engine_cards, delay_s=0.05):
    card_path = engine_cards / "model_zoo" / "pixel.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["options"] = {"delay_s": delay_s}
    card_path.write_text(yaml.safe_dump(card))


def _start(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "ming_eval", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_records(path, n=2, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} got no records")


def test_a_second_run_on_the_same_directory_stops_and_names_the_first(engine_cards, tmp_path):
    _slow_model(engine_cards, delay_s=0.5)  # 12 s of work: the second process starts well within it
    env = _env(engine_cards)
    out = tmp_path / "run"
    first = _start(["color_vqa", "-m", "pixel", "--batch-size", "1", "--out", str(out)], env)
    _wait_for_records(out / "color_vqa" / "records" / "rank-00000.jsonl")
    second = _start(["color_vqa", "-m", "pixel", "--batch-size", "1", "--out", str(out)], env)
    std, err = second.communicate(timeout=120)
    records = out / "color_vqa" / "records" / "rank-00000.jsonl"
    assert len(records.read_text().splitlines()) < 24, "the first run must still be working when the second stops"
    text = " ".join(err.split())
    assert second.returncode == 2, std + text
    assert f"{out} is in use by another ming-eval invocation: pid {first.pid}" in text
    assert f"run color_vqa -m pixel --batch-size 1 --out {out}`" in text and "--wait" in text
    assert first.wait(timeout=120) == 0
    # nothing done twice: one record per sample
    ids = [json.loads(x)["id"] for x in (out / "color_vqa" / "records" / "rank-00000.jsonl").read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(24)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["status"] for i in manifest["invocations"]] == ["finished"]  # the refused one left no trace


def test_with_wait_two_runs_of_different_tasks_both_land_in_the_manifest(engine_cards, tmp_path):
    _slow_model(engine_cards, delay_s=0.3)  # 7 s of work: the second process starts within it
    env = _env(engine_cards)
    out = tmp_path / "run"
    first = _start(["color_vqa", "-m", "pixel", "--batch-size", "1", "--out", str(out)], env)
    _wait_for_records(out / "color_vqa" / "records" / "rank-00000.jsonl")
    second = _start(["paint", "-m", "pixel", "--out", str(out), "--wait"], env)
    out2, err2 = second.communicate(timeout=240)
    assert second.returncode == 0, out2[-2000:] + err2[-2000:]
    assert first.wait(timeout=120) == 0
    assert "waiting for it to finish" in " ".join(out2.split())
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["tasks"]) == {"color_vqa", "paint"}
    assert [i["tasks"] for i in manifest["invocations"]] == [["color_vqa"], ["paint"]]
    results = json.loads((out / "results.json").read_text())["tasks"]
    assert set(results) == {"color_vqa", "paint"}


def test_another_model_into_the_same_directory_is_refused_unless_forced(engine_cards, tmp_path, capsys):
    card = yaml.safe_load((engine_cards / "model_zoo" / "pixel.yaml").read_text())
    card["name"] = "pixel-b"
    (engine_cards / "model_zoo" / "pixel-b.yaml").write_text(yaml.safe_dump(card))
    out = tmp_path / "run"
    code, text = run_cli(["run", "color_vqa", "-m", "pixel", "--out", str(out)], capsys)
    assert code == 0, text
    before = (out / "results.json").read_text()
    code, text = run_cli(["run", "paint", "-m", "pixel-b", "--out", str(out)], capsys)
    assert code == 2
    assert f"{out} holds results of model pixel @ none, not of pixel-b @ none" in text and "--force" in text
    assert (out / "results.json").read_text() == before and not (out / "paint").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["card"]["name"] == "pixel" and len(manifest["invocations"]) == 1
    # another checkpoint is another model too
    code, text = run_cli(["run", "color_vqa", "-m", "pixel", "--checkpoint", "step-2", "--out", str(out)], capsys)
    assert code == 2 and "not of pixel @ step-2" in text

    code, text = run_cli(["run", "paint", "-m", "pixel-b", "--out", str(out), "--force"], capsys)
    assert code == 0, text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["card"]["name"] == "pixel-b"
    assert manifest["invocations"][-1]["forced_differences"] == ["model: pixel @ none -> pixel-b @ none"]
