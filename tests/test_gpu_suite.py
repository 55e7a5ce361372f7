"""``bench/gpu_suite.sh --dry-run``: every part of the GPU suite runs on the CPU with tiny models, and the
full-size configs it would build on a GPU have the released models' sizes."""

import os
import re
import subprocess

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def test_gpu_suite_dry_run(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "bench" / "gpu_suite.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "failed" not in out and "stopped at its budget" not in out
    # each measured part printed its ratio: Qwen and Ming understanding, Ming and Janus text-to-image,
    # GenEval scoring
    assert len(re.findall(r"speed-up:? (?:end to end )?\d+\.\d+x", out)) == 4
    assert '"speedup"' in out and '"same_verdicts": true' in out
    # the full-size parts, built without weights, have the released models' parameter counts
    ming = re.search(r"ming-lite-uni at full size: [\d.]+B parameters \(LLM ([\d.]+)B.*SANA transformer ([\d.]+)B", out)
    janus = re.search(r"janus-pro-7b at full size: ([\d.]+)B parameters", out)
    assert ming is not None and janus is not None, out[-4000:]
    assert ming.group(1) == "7.62" and ming.group(2) == "1.60"  # Qwen2.5-7B, SANA 1600M
    assert janus.group(1) == "7.40"  # Janus-Pro-7B
