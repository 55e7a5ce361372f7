"""`ming-eval selftest` passes on this machine: every task with a tiny model of every family."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def test_selftest_passes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MING_EVAL_CARDS")}
    env.update(PYTHONPATH=str(REPO_ROOT), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "ming_eval", "selftest", "--keep", str(tmp_path / "st")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    assert "SMOKE TEST" in out and "these scores mean nothing" in out and "selftest passed" in out
    assert "resume check: ok" in out
    # every registered task ran, and every tiny family ran generation and understanding where it can
    for task in ("geneval", "mmstar", "mmvet", "hallusionbench", "ocrbench", "mathvista_mini"):
        assert task in out
    for model in ("ming-lite-uni", "janus-1.3b", "qwen2.5-vl-3b", "sdxl", "flux.1-dev", "sana-1600m"):
        assert model in out
    # GenEval's whole scorer ran on every generator's images: the detector's instances reached the
    # rules, and the CLIP colour classifier named the colour of some
    images = [
        image
        for scores in (tmp_path / "st" / "runs").glob("*/geneval/geneval/scores.jsonl")
        for line in scores.read_text().splitlines()
        for image in json.loads(line)["details"]["images"]
    ]
    assert len(images) == 4 * 6 * 2  # 4 generators x 6 prompts x 2 images
    assert all(image["detections"] for image in images)
    assert any(image.get("colors") for image in images)
