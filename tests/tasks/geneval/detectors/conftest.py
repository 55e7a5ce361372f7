"""Tiny Mask2Former checkpoints written the way mmdetection publishes them.

mmdet's ``.pth`` files are ``{"meta": {...}, "state_dict": {...}}`` saved with the legacy (non-zip)
serializer, their ``meta`` holds numpy objects, and their state dict includes Swin's
``relative_position_index`` buffers. The 2.x names are spelled out literally here (from mmcv 1.x's
``BaseTransformerLayer``: ``attentions.<i>`` in operation order, ``ffns.0``), independently of the
converter under test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from ming_eval.tasks.geneval.detectors.config import TINY
from ming_eval.tasks.geneval.detectors.swin import relative_position_index
from ming_eval.testing.fixtures.geneval import random_state_dict


def mmdet3_state(seed: int = 0) -> dict[str, Tensor]:
    state = random_state_dict(TINY, seed=seed)
    for s, depth in enumerate(TINY.depths):
        for b in range(depth):
            state[f"backbone.stages.{s}.blocks.{b}.attn.w_msa.relative_position_index"] = relative_position_index(
                TINY.window_size
            )
    return state


def mmdet2_name(key: str) -> str:
    enc = re.match(r"(panoptic_head\.pixel_decoder\.encoder\.layers\.\d+\.)(self_attn|ffn)\.(.*)", key)
    if enc:
        return enc.group(1) + {"self_attn": "attentions.0", "ffn": "ffns.0"}[enc.group(2)] + "." + enc.group(3)
    dec = re.match(r"(panoptic_head\.transformer_decoder\.layers\.\d+\.)(cross_attn|self_attn|ffn)\.(.*)", key)
    if dec:
        new = {"cross_attn": "attentions.0", "self_attn": "attentions.1", "ffn": "ffns.0"}[dec.group(2)]
        return dec.group(1) + new + "." + dec.group(3)
    return key


def save_mmdet_checkpoint(path: Path, state: dict[str, Tensor]) -> Path:
    meta = {"mmdet_version": "2.25.0", "CLASSES": ("person", "bicycle"), "epoch": np.int64(50), "seed": np.array([7])}
    torch.save({"meta": meta, "state_dict": state}, path, _use_new_zipfile_serialization=False)
    return path


class _Payload:
    """Unpickling this runs code (here: touches a file), as a hostile checkpoint would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))


def save_hostile_checkpoint(path: Path, marker: Path) -> Path:
    """An mmdet-shaped checkpoint whose meta touches ``marker`` when fully unpickled."""
    torch.save({"meta": {"hook": _Payload(marker)}, "state_dict": mmdet3_state()}, path)
    return path


@pytest.fixture
def mmdet3_ckpt(tmp_path: Path) -> Path:
    return save_mmdet_checkpoint(tmp_path / "tiny_mmdet3.pth", mmdet3_state())


@pytest.fixture
def mmdet2_ckpt(tmp_path: Path) -> Path:
    state = {mmdet2_name(k): v for k, v in mmdet3_state().items()}
    return save_mmdet_checkpoint(tmp_path / "tiny_mmdet2.pth", state)
