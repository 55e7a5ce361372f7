"""GenEval scoring of a folder under torchrun with 2 ranks equals 1 rank, image by image.

The folder is in GenEval's layout; the detector and CLIP are the tiny random ones of the self-test,
so the decisions mean nothing, but every recorded detection and decision must be identical.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ming_eval.testing.fixtures.geneval import (
    SELFTEST_PROMPTS,
    build_tiny_clip,
    write_selftest_metadata,
    write_tiny_detector,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _folder(root):
    rng = np.random.default_rng(0)
    for index, meta in enumerate(SELFTEST_PROMPTS):
        sub = root / f"{index:05d}"
        (sub / "samples").mkdir(parents=True)
        (sub / "metadata.jsonl").write_text(json.dumps(meta) + "\n")
        for k in range(2):
            pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(sub / "samples" / f"{k:04d}.png")
    return root


def test_two_ranks_score_like_one(tmp_path):
    images = _folder(tmp_path / "images")
    prompts = write_selftest_metadata(tmp_path / "prompts.jsonl")
    clip = build_tiny_clip(tmp_path / "clip")
    opts = [
        "-o",
        "geneval.prompt_set=custom",
        "-o",
        f"geneval.prompts_file={prompts}",
        "-o",
        f"geneval.clip_model={clip}",
        "-o",
        "geneval.clip_pretrained=null",
        "-o",
        f"geneval.detector={{weights: {write_tiny_detector(tmp_path / 'detector.safetensors')}, batch_size: 3}}",
        "-o",
        "geneval.images_per_prompt=2",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    cli = ["-m", "ming_eval", "score", "geneval", "--images", str(images), "--batch-size", "2", *opts]
    runs = {
        "one": [sys.executable],
        "two": [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531"],
    }
    for name, launcher in runs.items():
        proc = subprocess.run(
            [*launcher, *cli, "--out", str(tmp_path / name)], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    one = (tmp_path / "one" / "geneval" / "scores.jsonl").read_text().splitlines()
    two = (tmp_path / "two" / "geneval" / "scores.jsonl").read_text().splitlines()
    assert len(one) == len(SELFTEST_PROMPTS) and one == two
    assert len(list((tmp_path / "two" / "geneval" / "scoring").glob("rank-*.jsonl"))) == 2
    r1 = json.loads((tmp_path / "one" / "geneval" / "results.json").read_text())
    r2 = json.loads((tmp_path / "two" / "geneval" / "results.json").read_text())
    assert r1["info"].pop("html_report").startswith(str(tmp_path / "one"))  # the only path that differs
    assert r2["info"].pop("html_report").startswith(str(tmp_path / "two"))
    assert r1 == r2
