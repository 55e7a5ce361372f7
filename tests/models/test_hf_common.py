"""Checkpoint resolution, part checks, dtype choice and image conversion shared by the HF adapters."""

from __future__ import annotations

import json
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

from ming_eval.core.sample import Capability
from ming_eval.errors import CheckpointError
from ming_eval.models import hf_common as hf


def test_local_paths_and_hub_ids(tmp_path):
    assert hf.resolve_checkpoint(str(tmp_path), model="m") == tmp_path
    with pytest.raises(CheckpointError, match="has no checkpoint"):
        hf.resolve_checkpoint(None, model="m")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file"):
        hf.resolve_checkpoint(str(tmp_path / "file.bin"), model="m")
    with pytest.raises(CheckpointError, match=r"does not exist .*not a Hugging Face hub id"):
        hf.resolve_checkpoint(str(tmp_path / "a" / "b" / "c"), model="m")
    assert hf.looks_like_repo_id("deepseek-community/Janus-Pro-7B")
    assert not any(hf.looks_like_repo_id(p) for p in ("./runs/ckpt", "/abs/x", "x", "a/b/c"))


RESPONSE = SimpleNamespace(headers={}, request=None)  # what the hub errors read from an HTTP response


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (LocalEntryNotFoundError("not cached"), "not in the Hugging Face cache and offline mode is on"),
        (GatedRepoError("gated", response=RESPONSE), "is gated"),
        (RepositoryNotFoundError("nope", response=RESPONSE), "neither a local folder nor a model repository"),
        (OSError("disk full"), "cannot download checkpoint org/model: OSError"),
    ],
)
def test_download_errors_become_checkpoint_errors(monkeypatch, exc, message):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fail)
    with pytest.raises(CheckpointError, match=message) as err:
        hf.resolve_checkpoint("org/model", model="m")
    assert err.value.hint


def test_offline_mode_only_looks_in_the_cache(monkeypatch, tmp_path):
    seen = {}

    def fake(repo_id, **kwargs):
        seen.update(kwargs, repo_id=repo_id)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    assert hf.resolve_checkpoint("org/model", model="m", revision="abc") == tmp_path
    assert seen == {"repo_id": "org/model", "revision": "abc", "allow_patterns": None, "local_files_only": True}


def test_parts_and_shards(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"missing weights \(model.safetensors or") as err:
        hf.check_parts(tmp_path, [hf.CONFIG, hf.WEIGHTS], layout="LAYOUT-TEXT")
    assert "LAYOUT-TEXT" in str(err.value)
    index = {"weight_map": {"a": "s1", "b": "s2", "c": "s1"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "s1").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"missing 1 of 2 weight shards .*: s2"):
        hf.check_parts(tmp_path, [hf.CONFIG, hf.WEIGHTS], layout="")
    (tmp_path / "s2").write_bytes(b"")
    hf.check_parts(tmp_path, [hf.CONFIG, hf.WEIGHTS], layout="")
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read shard index"):
        hf.check_parts(tmp_path, [hf.CONFIG, hf.WEIGHTS], layout="")


def test_model_type_check(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(CheckpointError, match="model_type 'llava'; this adapter loads janus"):
        hf.check_model_type(tmp_path, ["janus"])
    (tmp_path / "config.json").write_text("[1, 2")
    with pytest.raises(CheckpointError, match="cannot parse"):
        hf.check_model_type(tmp_path, ["janus"])


def test_dtype_choice():
    assert hf.torch_dtype("bfloat16", "cpu") is torch.float32
    assert hf.torch_dtype("bfloat16", "cpu", force=True) is torch.bfloat16
    assert hf.torch_dtype("bfloat16", "cuda:0") is torch.bfloat16
    assert hf.torch_dtype("float16", "cuda") is torch.float16
    assert hf.torch_dtype("auto", "cuda", config_dtype="bfloat16") is torch.bfloat16
    assert hf.torch_dtype("auto", "cuda", config_dtype=None) is torch.float32
    assert hf.config_dtype({"text_config": {"torch_dtype": "float16"}}) == "float16"


def test_tensor_to_pil_scales_clips_and_truncates():
    x = torch.tensor([[[[-1.0, 0.0], [1.0, 2.0]]]]).repeat(1, 3, 1, 1)  # (1, 3, 2, 2) in [-1, 1]
    img = hf.tensor_to_pil(x, value_range=(-1.0, 1.0))[0]
    assert img.mode == "RGB" and img.size == (2, 2)
    assert [img.getpixel((0, 0)), img.getpixel((1, 0)), img.getpixel((0, 1)), img.getpixel((1, 1))] == [
        (0, 0, 0),
        (127, 127, 127),
        (255, 255, 255),
        (255, 255, 255),
    ]
    assert len(hf.cpu_generators([1, 2])) == 2


def test_images_per_request_regroups_one_image_per_seed():
    from PIL import Image

    from ming_eval.core.sample import GenerateRequest

    requests = [GenerateRequest("a", 2, seeds=(1, 2)), GenerateRequest("b", 1, seeds=(3,))]
    images = [Image.new("L", (1, 1), v) for v in (10, 20, 30)]
    grouped = hf.images_per_request(images, requests)
    assert [[img.getpixel((0, 0)) for img in row] for row in grouped] == [[(10,) * 3, (20,) * 3], [(30,) * 3]]
    with pytest.raises(RuntimeError, match="returned 2 images for 3 seeds"):
        hf.images_per_request(images[:2], requests)


@pytest.mark.parametrize("index", ['{"weight_map": ["s1"]}', '{"weight_map": {"a": null}}', "[]"])
def test_malformed_shard_index_is_a_checkpoint_error(tmp_path, index):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors.index.json").write_text(index)
    with pytest.raises(CheckpointError, match="cannot read shard index"):
        hf.check_parts(tmp_path, [hf.CONFIG, hf.WEIGHTS], layout="")


def test_check_shards_returns_the_shards_in_order(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "s2", "b": "s1", "c": "s2"}}))
    (tmp_path / "s1").write_bytes(b"")
    (tmp_path / "s2").write_bytes(b"")
    assert hf.check_shards(tmp_path, index) == [tmp_path / "s1", tmp_path / "s2"]


def test_protocol_extras_that_are_not_numbers_are_card_errors():
    from ming_eval.cards.schema import UnderstandProtocol
    from ming_eval.core.model import protocol_extras
    from ming_eval.errors import ProtocolError
    from ming_eval.models.qwen_vl import QwenVLExtras
    from ming_eval.models.text_generation import TextGenerationExtras

    protocol = UnderstandProtocol(extra={"repetition_penalty": "strong"})
    with pytest.raises(ProtocolError, match=r"understand\.extra\.repetition_penalty: Input should be a valid number"):
        protocol_extras(TextGenerationExtras, Capability.UNDERSTAND, protocol)
    numeric = UnderstandProtocol(extra={"min_pixels": "3136"})
    assert protocol_extras(QwenVLExtras, Capability.UNDERSTAND, numeric).min_pixels == 3136
