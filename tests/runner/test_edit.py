"""The EDIT path end to end through the runner: the recolouring task and model of tests/engine_plugins.py."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ming_eval.cards import loader
from ming_eval.core.seeds import derive_seed
from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.conftest import REPO_ROOT
from tests.engine_plugins import PixelEditor, write_edit_cards

N = 6  # samples, two edits each
SEED = 11  # the pixel-editor card's protocol.edit.seed


@pytest.fixture()
def edit_cards(engine_cards: Path) -> Path:
    write_edit_cards(engine_cards, Path(os.environ["MING_EVAL_CACHE"]), n=N)
    loader._INDEX = None
    PixelEditor.edit_batches = []
    return engine_cards


def _config(tmp_path: Path, **kw: object) -> RunConfig:
    base: dict = {"tasks": ["recolour"], "model": "pixel-editor", "out": tmp_path / "run", "argv": ["test"]}
    base.update(kw)
    return RunConfig(**base)


def _images(run: Path) -> dict[str, bytes]:
    root = run / "recolour" / "images"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def _expected_accuracy() -> float:
    """What the editor's per-image seeds imply: an edit follows the instruction with probability 0.7,
    else it takes the colour its seed draws, which may still be the right one."""
    import numpy as np

    hits = []
    for i in range(N):
        for k in range(2):
            rng = np.random.default_rng(derive_seed(SEED, "recolour", f"{i:03d}", k))
            wanted = (i + 1) % 3
            hits.append(rng.random() < 0.7 or int(rng.integers(3)) == wanted)
    per_sample = [np.mean(hits[2 * i : 2 * i + 2]) for i in range(N)]
    return float(np.mean(per_sample) * 100)


def test_edit_run_writes_the_tasks_layout_and_scores(edit_cards, tmp_path):
    out = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    assert set(_images(run)) == {f"{i:03d}/edit-{k}.png" for i in range(N) for k in range(2)}
    preds = [json.loads(x) for x in (run / "recolour" / "predictions.jsonl").read_text().splitlines()]
    assert [p["output"] for p in preds] == [[f"{i:03d}/edit-0.png", f"{i:03d}/edit-1.png"] for i in range(N)]
    scores = [json.loads(x) for x in (run / "recolour" / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == N and all(len(s["details"]["hits"]) == 2 for s in scores)
    result = out.results["recolour"]
    assert result.counts["n"] == N and not result.counts.get("inference_failed")
    assert result.primary_metric.value == pytest.approx(_expected_accuracy())
    assert 0 < result.primary_metric.value < 100  # some edits follow the instruction, some do not
    stored = json.loads((run / "results.json").read_text())["tasks"]["recolour"]
    assert stored["metrics"]["accuracy"]["value"] == pytest.approx(_expected_accuracy())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["tasks"]["recolour"]["seed"] == SEED


def test_edits_are_seeded_per_image_whatever_the_batch(edit_cards, tmp_path):
    alone = evaluate(_config(tmp_path, out=tmp_path / "alone", batch_size=1))
    batched = evaluate(_config(tmp_path, out=tmp_path / "batched", batch_size=5))
    assert max(len(b) for b in PixelEditor.edit_batches) == 5
    images = _images(tmp_path / "alone")
    assert images == _images(tmp_path / "batched")  # same seed, same image, alone or in a batch
    assert all(images[f"{i:03d}/edit-0.png"] != images[f"{i:03d}/edit-1.png"] for i in range(N))  # a seed each
    assert alone.results["recolour"].to_dict() == batched.results["recolour"].to_dict()
    other = evaluate(_config(tmp_path, out=tmp_path / "other-seed", seed=SEED + 1))
    assert _images(tmp_path / "other-seed") != images
    assert other.results["recolour"].counts["n"] == N


def test_edit_resumes_per_image(edit_cards, tmp_path):
    evaluate(_config(tmp_path))
    run = tmp_path / "run"
    before = _images(run)
    # as if killed after writing sample 002's first edit: its second edit and its record are missing
    (run / "recolour" / "images" / "002" / "edit-1.png").unlink()
    records = run / "recolour" / "records" / "rank-00000.jsonl"
    kept = [line for line in records.read_text().splitlines() if json.loads(line)["id"] != "002"]
    records.write_text("\n".join(kept) + "\n")
    PixelEditor.edit_batches = []
    again = evaluate(_config(tmp_path))
    seed = derive_seed(SEED, "recolour", "002", 1)
    assert PixelEditor.edit_batches == [[f"make it red [{seed}]"]]  # only the missing image
    assert _images(run) == before
    assert again.results["recolour"].primary_metric.value == pytest.approx(_expected_accuracy())


def test_failed_edits_are_counted_then_retried(edit_cards, tmp_path):
    card_path = edit_cards / "model_zoo" / "pixel-editor.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["options"] = {"fail_on": "make it blue"}
    card_path.write_text(yaml.safe_dump(card))
    loader._INDEX = None
    failed = evaluate(_config(tmp_path)).results["recolour"]
    assert failed.counts["inference_failed"] == 2  # samples 001 and 004 ask for blue
    assert failed.primary_metric.value < _expected_accuracy()
    card["options"] = {}
    card_path.write_text(yaml.safe_dump(card))
    loader._INDEX = None
    PixelEditor.edit_batches = []
    fixed = evaluate(_config(tmp_path, retry_failed=True, force=True)).results["recolour"]
    retried = [r for b in PixelEditor.edit_batches for r in b]
    assert len(retried) == 2 and all(r.startswith("make it blue") for r in retried)  # only those two
    assert not fixed.counts.get("inference_failed")
    assert fixed.primary_metric.value == pytest.approx(_expected_accuracy())


@pytest.mark.slow
def test_sigkill_mid_edit_then_resume_equals_a_clean_run(edit_cards, tmp_path):
    card_path = edit_cards / "model_zoo" / "pixel-editor.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["options"] = {"delay_s": 0.3}
    card_path.write_text(yaml.safe_dump(card))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", MING_EVAL_CARDS_PATH=str(edit_cards))
    cli = [sys.executable, "-m", "ming_eval", "run", "recolour", "--model", "pixel-editor", "--batch-size", "1"]
    killed = tmp_path / "killed"
    records = killed / "recolour" / "records" / "rank-00000.jsonl"
    proc = subprocess.Popen([*cli, "--out", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (records.is_file() and len(records.read_text().splitlines()) >= 2):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 2 <= len(records.read_text().splitlines()) < N, "the kill must land in the middle of the run"
    for out in (killed, tmp_path / "clean"):
        done = subprocess.run([*cli, "--out", str(out)], env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ids = [json.loads(line)["id"] for line in records.read_text().splitlines()]
    assert sorted(ids) == [f"{i:03d}" for i in range(N)]  # none lost, none twice
    assert _images(killed) == _images(tmp_path / "clean")
    assert json.loads((killed / "recolour" / "results.json").read_text()) == json.loads(
        (tmp_path / "clean" / "recolour" / "results.json").read_text()
    )
