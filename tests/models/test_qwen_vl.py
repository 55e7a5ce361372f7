"""Qwen2.5-VL on a tiny random checkpoint in Qwen's layout, on CPU."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as transformers_smart_resize

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import Capability, TextPart, UnderstandRequest
from ming_eval.errors import CapabilityError, CheckpointError, DataError, ProtocolError
from ming_eval.models.qwen_vl import QwenVLAdapter, smart_resize
from ming_eval.models.text_generation import RowSampler, TextGenerationExtras, generate_kwargs
from tests.models.zoo_support import color_image, load, single_threaded, tiny_cards, understand_requests

SMALL = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}

setup_module, teardown_module = single_threaded()


@pytest.fixture(scope="module")
def qwen() -> QwenVLAdapter:
    adapter = load(tiny_cards("qwen2.5-vl-3b"))
    assert isinstance(adapter, QwenVLAdapter)
    return adapter


def test_smart_resize_agrees_with_transformers():
    """Our resize (the one qwen_vl_utils applies before VLMEvalKit's processor call) against
    transformers' own implementation, an independent copy of the same rule."""
    rng = random.Random(0)
    limits = [(56 * 56, 28 * 28 * 1280), (1280 * 28 * 28, 16384 * 28 * 28), (10 * 10 * 28 * 28, 16384 * 28 * 28)]
    for _ in range(300):
        h, w = rng.randint(10, 4000), rng.randint(10, 4000)
        if max(h, w) / min(h, w) > 150:
            continue
        lo, hi = rng.choice(limits)
        ours = smart_resize(h, w, factor=28, min_pixels=lo, max_pixels=hi)
        assert ours == tuple(transformers_smart_resize(h, w, factor=28, min_pixels=lo, max_pixels=hi))
        assert ours[0] % 28 == 0 and ours[1] % 28 == 0


def test_extreme_aspect_ratio_is_a_data_error():
    with pytest.raises(DataError, match="aspect ratio"):
        smart_resize(10, 3000, factor=28, min_pixels=3136, max_pixels=10**6)


def test_understand_batched_equals_one_by_one(qwen):
    requests = understand_requests()
    protocol = UnderstandProtocol(max_new_tokens=6, extra=SMALL)
    batched = qwen.understand(requests, protocol)
    assert batched == [qwen.understand([r], protocol)[0] for r in requests]
    assert len(set(batched)) > 1


def test_images_are_resized_to_the_protocol_limits(qwen):
    img = color_image((1, 2, 3), (400, 300)).load()
    assert qwen._prepare_image(img, 56 * 56, 112 * 112).size == (112, 84)
    assert qwen._prepare_image(img, 300 * 300, 600 * 600).size == (392, 308)
    with pytest.raises(ProtocolError, match="min_pixels <= max_pixels"):
        qwen.understand(understand_requests()[:1], UnderstandProtocol(extra={"min_pixels": 10, "max_pixels": 5}))


def test_system_prompt_reaches_the_chat_template(qwen):
    req = UnderstandRequest((TextPart("hi"),), system="Answer with one word.")
    text = qwen.processor.apply_chat_template(qwen.messages(req, UnderstandProtocol()), tokenize=False)
    assert "<|im_start|>system\nAnswer with one word.<|im_end|>" in text
    text = qwen.processor.apply_chat_template(
        qwen.messages(req, UnderstandProtocol(system_prompt="Card prompt.")), tokenize=False
    )
    assert "Card prompt." in text and "one word" not in text


def test_checkpoint_repetition_penalty_does_not_leak_into_greedy_decoding(qwen):
    # the tiny checkpoint's generation_config.json says 1.05, like the real one
    assert qwen.model.generation_config.repetition_penalty == 1.05
    kwargs = generate_kwargs(UnderstandProtocol(), TextGenerationExtras(), eos_token_id=1, pad_token_id=None)
    assert kwargs["repetition_penalty"] == 1.0 and kwargs["do_sample"] is False and kwargs["pad_token_id"] == 1
    # sampling is drawn by RowSampler; the checkpoint's sampling settings never reach generate
    sampled = generate_kwargs(
        UnderstandProtocol(temperature=0.7, top_p=0.9),
        TextGenerationExtras(top_k=5),
        eos_token_id=[1, 2],
        pad_token_id=None,
    )
    assert sampled["do_sample"] is False and sampled["pad_token_id"] == 1


def test_row_sampler_keeps_what_transformers_warpers_keep():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    protocol = UnderstandProtocol(temperature=0.7, top_p=0.8)
    sampler = RowSampler(protocol, TextGenerationExtras(top_k=20), seeds=[1, 2, 3])
    warped = scores.clone()
    for warper in (TemperatureLogitsWarper(0.7), TopKLogitsWarper(20), TopPLogitsWarper(0.8)):
        warped = warper(None, warped)
    kept = torch.isfinite(warped)
    picks = torch.stack([sampler(torch.zeros(3, 1, dtype=torch.long), scores).argmax(dim=-1) for _ in range(30)])
    assert kept.gather(1, picks.T).all()  # every draw is a token transformers would keep
    assert all(len(set(row.tolist())) > 1 for row in picks.T)  # drawn, not the top token each time
    assert 1 < int(kept.sum(dim=-1).min()) < 20  # top-p, not only top-k, decided


def test_sampled_answers_do_not_depend_on_the_batch(qwen):
    protocol = UnderstandProtocol(max_new_tokens=6, temperature=1.0, top_p=0.9, extra={**SMALL, "top_k": 50})
    requests = [UnderstandRequest(r.content, r.system, seed=100 + i) for i, r in enumerate(understand_requests())]
    batched = qwen.understand(requests, protocol)
    assert batched == [qwen.understand([r], protocol)[0] for r in requests]
    reseeded = [UnderstandRequest(r.content, r.system, seed=r.seed + 1) for r in requests]
    assert qwen.understand(reseeded, protocol) != batched  # the seed decides the draw


def test_tiny_overrides_cover_the_cards_task_overrides():
    card = tiny_cards("qwen2.5-vl-7b")
    for task in ["mmstar", *card.tasks]:
        extra = card.protocol_for(task, Capability.UNDERSTAND).extra
        assert extra["min_pixels"] <= extra["max_pixels"] <= 112 * 112


def test_generate_raises_capability_error():
    assert Capability.GENERATE not in QwenVLAdapter.capabilities
    adapter = load(tiny_cards("qwen2.5-vl-3b"))
    with pytest.raises(CapabilityError, match="cannot generate"):
        adapter.generate([], None)  # type: ignore[arg-type]


def test_missing_image_processor_config_names_the_part(tmp_path):
    card = tiny_cards("qwen2.5-vl-3b")
    folder = Path(shutil.copytree(card.checkpoint, tmp_path / "ckpt"))
    for name in ("processor_config.json", "preprocessor_config.json"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="missing image processor config"):
        load(card, checkpoint=str(folder))


def test_missing_weight_shard_is_named(tmp_path):
    card = tiny_cards("qwen2.5-vl-3b")
    folder = Path(shutil.copytree(card.checkpoint, tmp_path / "ckpt"))
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    (folder / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}'
    )
    with pytest.raises(CheckpointError, match=r"missing 1 of 2 weight shards.*model-00002-of-00002"):
        load(card, checkpoint=str(folder))
