"""Checkpoint layout, download resolution, dtype choice and the checks made before any weight loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from ming_eval.cards.schema import GenerateProtocol, ModelCard, UnderstandProtocol
from ming_eval.core.sample import Capability
from ming_eval.errors import CapabilityError, CheckpointError, ProtocolError
from ming_eval.models.hf_common import resolve_checkpoint
from ming_eval.models.ming_lite_uni import MingLiteUni
from ming_eval.models.ming_lite_uni.checkpoint import PARTS, missing_parts, read_state_dict, validate_layout
from ming_eval.runner.plan import make_plan
from tests.models.ming_lite_uni_support import tiny_card, tiny_checkpoint


def _linked_copy(root: Path, dest: Path, *, drop: str | None = None, drop_file: str | None = None) -> Path:
    """A copy of the checkpoint made of symlinks, without part ``drop`` or file ``drop_file``."""
    for part in root.iterdir():
        if part.name == drop:
            continue
        (dest / part.name).mkdir(parents=True)
        for file in part.iterdir():
            if f"{part.name}/{file.name}" != drop_file:
                (dest / part.name / file.name).symlink_to(file)
    return dest


def test_tiny_checkpoint_has_the_released_layout(tmp_path_factory):
    root = tiny_checkpoint(tmp_path_factory)
    validate_layout(root)
    assert {p.folder for p in PARTS} == {p.name for p in root.iterdir()}
    index = json.loads((root / "qwen2_5_llm" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 2  # sharded, like the 7B release
    scheduler = json.loads((root / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["_class_name"] == "DPMSolverMultistepScheduler"  # as SANA's diffusers release


@pytest.mark.parametrize("part", [p.folder for p in PARTS])
def test_missing_part_is_named_with_the_expected_layout(tmp_path_factory, tmp_path, part):
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop=part)
    with pytest.raises(CheckpointError) as err:
        validate_layout(broken)
    text = str(err.value)
    assert f"{part}/" in text and "is missing" in text
    assert "qwen2_5_vit/" in text and "scheduler_config.json" in text  # the expected layout is shown


@pytest.mark.parametrize(
    ("drop_file", "said"),
    [
        ("qwen2_5_llm/tokenizer_config.json", "qwen2_5_llm/tokenizer_config.json is missing"),
        ("vae/diffusion_pytorch_model.safetensors", "vae/ has no weights"),
        ("transformer/config.json", "transformer/config.json is missing"),
        ("mlp/model.safetensors", "mlp/ has no weights"),
    ],
)
def test_missing_file_is_named(tmp_path_factory, tmp_path, drop_file, said):
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop_file=drop_file)
    assert any(said in line for line in missing_parts(broken))
    with pytest.raises(CheckpointError, match=said):
        validate_layout(broken)


def test_missing_shard_is_named(tmp_path_factory, tmp_path):
    shard = "qwen2_5_llm/model-00002-of-00002.safetensors"
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop_file=shard)
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002\.safetensors"):
        read_state_dict(broken / "qwen2_5_llm")


def test_truncated_weights_are_reported(tmp_path_factory, tmp_path):
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop_file="mlp/model.safetensors")
    (broken / "mlp" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match=r"(?s)mlp/model.safetensors.*corrupt or truncated"):
        read_state_dict(broken / "mlp")


def test_adapter_reports_a_missing_part_before_loading(tmp_path_factory, tmp_path):
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop="connector")
    adapter = MingLiteUni.from_card(tiny_card(broken), device="cpu")
    assert isinstance(adapter, MingLiteUni)
    with pytest.raises(CheckpointError, match="connector/"):
        adapter.model  # noqa: B018


def test_hub_id_resolves_from_the_hf_cache_offline(tmp_path_factory, tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hub"
    repo = cache / "models--inclusionAI--Ming-Lite-Uni"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    _linked_copy(tiny_checkpoint(tmp_path_factory), repo / "snapshots" / "0123abcd")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = resolve_checkpoint("inclusionAI/Ming-Lite-Uni", model="ming-lite-uni")
    assert root == repo / "snapshots" / "0123abcd"
    validate_layout(root)


def test_hub_id_not_cached_offline_says_how_to_prefetch(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint("inclusionAI/Ming-Lite-Uni", model="ming-lite-uni")
    assert "offline" in str(err.value) and "hf download inclusionAI/Ming-Lite-Uni" in str(err.value)


def test_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="is not a folder"):
        validate_layout(tmp_path / "nope")
    with pytest.raises(CheckpointError, match=r"(?s)qwen2_5_vit/ .* is missing.*expected layout"):
        validate_layout(tmp_path)


@pytest.mark.parametrize(
    ("device", "force", "want"),
    [
        ("cpu", False, torch.float32),
        ("cpu", True, torch.bfloat16),
        ("cuda:0", False, torch.bfloat16),
    ],
)
def test_dtype_is_the_cards_on_gpus_and_fp32_on_cpu(tmp_path_factory, device, force, want):
    card = tiny_card(tiny_checkpoint(tmp_path_factory), dtype="bfloat16", options={"force_dtype": force})
    adapter = MingLiteUni.from_card(card, device=device)
    seen = {}

    class Recorder:
        def __init__(self, root, *, device, dtype, attn, round_rope):
            seen.update(device=device, dtype=dtype, attn=attn)

    import ming_eval.models.ming_lite_uni.adapter as adapter_module

    original = adapter_module.MingLiteUniModel
    adapter_module.MingLiteUniModel = Recorder  # type: ignore[misc,assignment]
    try:
        adapter.model  # noqa: B018
    finally:
        adapter_module.MingLiteUniModel = original
    assert seen == {"device": torch.device(device), "dtype": want, "attn": "sdpa"}


def test_incomplete_generate_protocol_is_listed():
    problems = MingLiteUni.check_protocol(Capability.GENERATE, GenerateProtocol(cfg=5.0, height=512, width=512))
    assert problems == ["generate.steps is not set"]
    problems = MingLiteUni.check_protocol(
        Capability.EDIT, GenerateProtocol(steps=30, cfg=5.0, height=512, width=512, negative_prompt="blurry")
    )
    assert len(problems) == 1 and "negative_prompt" in problems[0]
    problems = MingLiteUni.check_protocol(Capability.UNDERSTAND, UnderstandProtocol(extra={"repetition_penalty": 1.05}))
    assert len(problems) == 1 and "repetition_penalty" in problems[0]
    assert MingLiteUni.check_protocol(Capability.UNDERSTAND, UnderstandProtocol(extra={"repetition_penalty": 1})) == []


def test_engine_rejects_an_incomplete_card_before_loading(engine_cards, tmp_path):
    card = tiny_card(tmp_path / "never-read")
    data = card.model_dump(mode="json", by_alias=True, exclude_unset=True)
    del data["protocol"]["generate"]["steps"]
    with pytest.raises(ProtocolError, match=r"generate\.steps is not set"):
        make_plan(["paint"], ModelCard.model_validate(data))
    assert not (tmp_path / "never-read").exists()


def test_engine_rejects_a_capability_the_card_lacks(engine_cards, tmp_path):
    data = tiny_card(tmp_path / "never-read").model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["capabilities"] = ["understand"]
    with pytest.raises(CapabilityError, match="paint needs a model that can generate"):
        make_plan(["paint"], ModelCard.model_validate(data))


def test_card_protocol_for_geneval():
    from ming_eval.registry import get_model_card

    card = get_model_card("ming-lite-uni")
    geneval = card.protocol_for("geneval", Capability.GENERATE)
    assert isinstance(geneval, GenerateProtocol)
    assert (geneval.steps, geneval.cfg, geneval.height, geneval.width, geneval.images_per_prompt) == (
        30,
        5.0,
        512,
        512,
        4,
    )
    assert card.checkpoint == "inclusionAI/Ming-Lite-Uni" and card.dtype == "bfloat16"
    assert MingLiteUni.check_protocol(Capability.GENERATE, geneval) == []
    assert os.fspath(card.source or "").endswith("ming-lite-uni.yaml")


def test_old_transformers_is_refused_before_any_download(monkeypatch):
    """A setup error the runner stops on (CheckpointError), raised before a hub checkpoint is fetched."""
    import transformers

    import ming_eval.models.hf_common as hf_common

    fetched = []
    monkeypatch.setattr(hf_common, "download_snapshot", lambda *a, **k: fetched.append(a))
    monkeypatch.setattr(transformers, "__version__", "4.52.1")
    adapter = MingLiteUni.from_card(tiny_card(Path("inclusionAI/Ming-Lite-Uni")), device="cpu")
    assert isinstance(adapter, MingLiteUni)
    with pytest.raises(CheckpointError, match=r"transformers 5 .*4\.52\.1 is installed"):
        adapter.model  # noqa: B018
    assert fetched == []


@pytest.mark.parametrize("part", ["transformer/diffusion_pytorch_model.safetensors", "qwen2_5_vit/model.safetensors"])
def test_adapter_names_a_truncated_weights_file_before_loading(tmp_path_factory, tmp_path, part):
    broken = _linked_copy(tiny_checkpoint(tmp_path_factory), tmp_path / "ckpt", drop_file=part)
    whole = (tiny_checkpoint(tmp_path_factory) / part).read_bytes()
    (broken / part).write_bytes(whole[: len(whole) - 64])  # a download cut short
    adapter = MingLiteUni.from_card(tiny_card(broken), device="cpu")
    with pytest.raises(CheckpointError, match="is truncated") as err:
        adapter.model  # noqa: B018
    assert str(broken / part) in err.value.message and "\n" not in err.value.message
    assert "re-download" in (err.value.hint or "")
