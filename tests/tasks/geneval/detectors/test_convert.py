from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ming_eval.errors import CheckpointError, ChecksumError
from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.detectors import build_detector, weights
from ming_eval.tasks.geneval.detectors.config import SWIN_S, TINY
from ming_eval.tasks.geneval.detectors.convert import (
    FORMAT,
    convert_checkpoint,
    detect_layout,
    load_converted,
    load_torch_checkpoint,
    read_metadata,
    to_mmdet3_names,
)
from ming_eval.tasks.geneval.detectors.head import Mask2Former
from ming_eval.tasks.geneval.detectors.weights import GENEVAL_MMDET2
from ming_eval.testing.fixtures.geneval import random_state_dict
from tests.tasks.geneval.detectors.conftest import mmdet3_state, save_hostile_checkpoint, save_mmdet_checkpoint


def test_mmdet2_names_spelled_out() -> None:
    state = {
        "panoptic_head.pixel_decoder.encoder.layers.3.attentions.0.sampling_offsets.weight": torch.zeros(1),
        "panoptic_head.pixel_decoder.encoder.layers.3.ffns.0.layers.0.0.weight": torch.zeros(1),
        "panoptic_head.pixel_decoder.encoder.layers.3.norms.1.bias": torch.zeros(1),
        "panoptic_head.transformer_decoder.layers.8.attentions.0.attn.in_proj_weight": torch.zeros(1),
        "panoptic_head.transformer_decoder.layers.8.attentions.1.attn.out_proj.bias": torch.zeros(1),
        "panoptic_head.transformer_decoder.layers.8.ffns.0.layers.1.weight": torch.zeros(1),
        "backbone.stages.2.blocks.17.ffn.layers.0.0.weight": torch.zeros(1),
    }
    assert detect_layout(state, "x") == "mmdet2"
    assert sorted(to_mmdet3_names(state, "mmdet2")) == sorted(
        [
            "panoptic_head.pixel_decoder.encoder.layers.3.self_attn.sampling_offsets.weight",
            "panoptic_head.pixel_decoder.encoder.layers.3.ffn.layers.0.0.weight",
            "panoptic_head.pixel_decoder.encoder.layers.3.norms.1.bias",
            "panoptic_head.transformer_decoder.layers.8.cross_attn.attn.in_proj_weight",
            "panoptic_head.transformer_decoder.layers.8.self_attn.attn.out_proj.bias",
            "panoptic_head.transformer_decoder.layers.8.ffn.layers.1.weight",
            "backbone.stages.2.blocks.17.ffn.layers.0.0.weight",
        ]
    )


@pytest.mark.parametrize("layout", ["mmdet2", "mmdet3"])
def test_round_trip_tiny_checkpoint(layout: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    src: Path = request.getfixturevalue(f"{layout}_ckpt")
    out = tmp_path / "tiny.safetensors"
    digest = convert_checkpoint(src, out, cfg=TINY, allow_pickle=True)
    assert (tmp_path / "tiny.safetensors.sha256").read_text() == f"{digest}  tiny.safetensors\n"
    meta = read_metadata(out)
    assert meta["format"] == FORMAT and meta["source_layout"] == layout and meta["source"] == src.name
    assert len(meta["source_sha256"]) == 64
    cfg, state = load_converted(out)
    assert cfg == TINY
    reference = random_state_dict(TINY, seed=0)
    assert state.keys() == reference.keys()  # relative_position_index buffers are dropped
    for key, value in reference.items():
        assert torch.equal(state[key], value), key
    # and the network built from it computes what the network built from the source weights computes
    model_a, model_b = Mask2Former(TINY).eval(), Mask2Former(TINY).eval()
    model_a.load_state_dict(state)
    model_b.load_state_dict(reference)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(model_a(x), model_b(x), strict=True):
            assert torch.equal(a, b)


def test_converted_weights_run_through_build_detector(mmdet2_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.safetensors"
    convert_checkpoint(mmdet2_ckpt, out, cfg=TINY, allow_pickle=True)
    detector = build_detector(DetectorOptions(weights=str(out)), "cpu")
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    (det,) = detector.detect([img])
    assert det.masks is not None and det.masks.shape[1:] == (40, 50)
    detector.close()


def test_numpy_meta_loads_weights_only(mmdet3_ckpt: Path) -> None:
    """mmdet's meta (numpy scalars and arrays) passes the weights-only loader: no full unpickle needed."""
    state = load_torch_checkpoint(mmdet3_ckpt)
    assert state.keys() == load_torch_checkpoint(mmdet3_ckpt, allow_pickle=True).keys()
    assert torch.equal(state["backbone.norm0.weight"], mmdet3_state()["backbone.norm0.weight"])


def test_code_in_a_checkpoint_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    src = save_hostile_checkpoint(tmp_path / "hostile.pth", marker)
    with pytest.raises(CheckpointError, match="weights-only loader refuses") as info:
        load_torch_checkpoint(src)
    assert "--allow-pickle" in str(info.value) and not marker.exists()


def test_downloaded_checkpoint_is_never_fully_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that passed the 8-hex name check (stubbed here) is still read weights-only."""
    marker = tmp_path / "pwned"
    src = save_hostile_checkpoint(tmp_path / GENEVAL_MMDET2.filename, marker)
    monkeypatch.setattr(weights, "fetch_checkpoint", lambda ckpt, folder=None: src)
    with pytest.raises(CheckpointError, match="weights-only loader refuses"):
        weights.default_converted_weights(tmp_path / "cache")
    assert not marker.exists()
    assert not (tmp_path / "cache" / weights.CONVERTED_NAME).exists()


def test_plain_tensor_checkpoint_loads_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "bare.pth"
    torch.save({"state_dict": mmdet3_state()}, path)
    assert "backbone.norm0.weight" in load_torch_checkpoint(path)


def test_missing_file_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.pth does not exist"):
        load_torch_checkpoint(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.pth is not a readable PyTorch checkpoint"):
        load_torch_checkpoint(junk, allow_pickle=True)
    with pytest.raises(CheckpointError, match=r"missing\.safetensors do not exist"):
        load_converted(tmp_path / "missing.safetensors")


def test_wrong_keys_name_the_file_and_the_keys(tmp_path: Path) -> None:
    state = mmdet3_state()
    del state["panoptic_head.cls_embed.weight"]
    del state["backbone.stages.1.blocks.0.attn.w_msa.qkv.bias"]
    state["panoptic_head.extra.weight"] = torch.zeros(1)
    src = save_mmdet_checkpoint(tmp_path / "broken.pth", state)
    with pytest.raises(CheckpointError) as info:
        convert_checkpoint(src, tmp_path / "out.safetensors", cfg=TINY, allow_pickle=True)
    msg = str(info.value)
    assert "broken.pth" in msg
    assert "2 missing" in msg and "panoptic_head.cls_embed.weight" in msg
    assert "backbone.stages.1.blocks.0.attn.w_msa.qkv.bias" in msg
    assert "1 unexpected: panoptic_head.extra.weight" in msg
    assert not (tmp_path / "out.safetensors").exists()


def test_wrong_architecture_is_a_shape_error(mmdet3_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="wrong shape") as info:
        convert_checkpoint(mmdet3_ckpt, tmp_path / "out.safetensors", cfg=SWIN_S, allow_pickle=True)
    assert "tiny_mmdet3.pth" in str(info.value)


def test_not_a_mask2former_checkpoint(tmp_path: Path) -> None:
    src = save_mmdet_checkpoint(tmp_path / "resnet.pth", {"backbone.conv1.weight": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"resnet\.pth is not an mmdet Mask2Former checkpoint"):
        convert_checkpoint(src, tmp_path / "out.safetensors", cfg=TINY, allow_pickle=True)


def test_sidecar_checksum_mismatch(mmdet3_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.safetensors"
    convert_checkpoint(mmdet3_ckpt, out, cfg=TINY, allow_pickle=True)
    sidecar = tmp_path / "tiny.safetensors.sha256"
    sidecar.write_text("0" * 64 + "  tiny.safetensors\n")
    with pytest.raises(ChecksumError, match=r"tiny\.safetensors"):
        load_converted(out)
    sidecar.write_text("garbage\n")
    with pytest.raises(CheckpointError, match="not a sha256sum line"):
        load_converted(out)


def test_foreign_safetensors_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not written by ming-eval"):
        load_converted(path)
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": FORMAT, "config": json.dumps({"nope": 1})})
    with pytest.raises(CheckpointError, match="no valid architecture"):
        load_converted(path)
