"""A weights file cut short (an interrupted download or copy) is named before anything loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ming_eval.errors import CheckpointError
from ming_eval.models import hf_common as hf


def _checkpoint(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": "x"}))
    save_file({"w": torch.arange(1000, dtype=torch.float32), "b": torch.zeros(10)}, str(root / "model.safetensors"))
    return root / "model.safetensors"


def test_whole_checkpoint_passes(tmp_path: Path) -> None:
    _checkpoint(tmp_path / "ckpt")
    hf.check_parts(tmp_path / "ckpt", [hf.CONFIG, hf.WEIGHTS], layout="config.json + model.safetensors")


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (-100, "is truncated: .* but its header describes"),
        (40, "not a safetensors file, or is truncated"),
        (4, "not a safetensors file, or is truncated"),
    ],
)
def test_truncated_safetensors(keep: int, message: str, tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "ckpt")
    data = weights.read_bytes()
    weights.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match=message) as info:
        hf.check_parts(tmp_path / "ckpt", [hf.CONFIG, hf.WEIGHTS], layout="config.json + model.safetensors")
    assert str(weights) in info.value.message and "re-download or re-copy" in (info.value.hint or "")


def test_truncated_shard_in_a_subfolder(tmp_path: Path) -> None:
    root = tmp_path / "ckpt"
    _checkpoint(root)
    (root / "vision").mkdir()
    save_file({"v": torch.ones(500)}, str(root / "vision" / "model.safetensors"))
    shard = root / "vision" / "model.safetensors"
    shard.write_bytes(shard.read_bytes()[:-1])
    with pytest.raises(CheckpointError, match=r"vision/model\.safetensors is truncated"):
        hf.check_parts(root, [hf.CONFIG, hf.WEIGHTS], layout="...")
