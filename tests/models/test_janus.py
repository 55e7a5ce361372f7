"""Janus / Janus-Pro on a tiny random checkpoint in deepseek-community's layout, on CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ming_eval.cards.schema import GenerateProtocol, UnderstandProtocol
from ming_eval.core.sample import Capability, GenerateRequest, ImagePart, TextPart, UnderstandRequest
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models import hf_common
from ming_eval.models.janus import JanusAdapter, content_text, sft_prompt
from ming_eval.models.janus_sampling import sample_image_tokens, unconditional_ids
from tests.models.zoo_support import (
    check_images_follow_their_seeds,
    color_image,
    load,
    single_threaded,
    tiny_cards,
    understand_requests,
)

setup_module, teardown_module = single_threaded()


@pytest.fixture(scope="module")
def janus() -> JanusAdapter:
    adapter = load(tiny_cards("janus-pro-1b"))
    assert isinstance(adapter, JanusAdapter)
    return adapter


def test_prompt_format_follows_deepseek_sft():
    img = ImagePart(color_image((1, 2, 3)))
    assert content_text((img, TextPart("What is it?"))) == "<image_placeholder>\nWhat is it?"
    # VLMEvalKit's Janus prompts start with "\n" already: no second newline
    assert content_text((img, TextPart("\nQ"))) == "<image_placeholder>\nQ"
    assert content_text((TextPart("a"), img, img, TextPart("b"))) == "a\n<image_placeholder><image_placeholder>\nb"
    assert sft_prompt("hi", system=None, user="<|User|>", assistant="<|Assistant|>") == "<|User|>: hi\n\n<|Assistant|>:"
    assert sft_prompt("hi", system="Be brief.", user="User", assistant="Assistant") == (
        "Be brief.\n\nUser: hi\n\nAssistant:"
    )


def test_understand_batched_equals_one_by_one(janus):
    requests = understand_requests()
    protocol = UnderstandProtocol(max_new_tokens=6)
    batched = janus.understand(requests, protocol)
    single = [janus.understand([r], protocol)[0] for r in requests]
    assert batched == single
    assert all(isinstance(t, str) for t in batched)
    assert len(set(batched)) > 1  # the tiny model's answers depend on the input


def test_sampled_answers_do_not_depend_on_the_batch(janus):
    protocol = UnderstandProtocol(max_new_tokens=6, temperature=1.0, top_p=0.9)
    requests = [UnderstandRequest(r.content, r.system, seed=100 + i) for i, r in enumerate(understand_requests())]
    assert janus.understand(requests, protocol) == [janus.understand([r], protocol)[0] for r in requests]


def test_system_prompt_from_protocol_wins(janus):
    req = UnderstandRequest((TextPart("describe a cat"),), system="Answer with one word.")
    plain = janus.understand([req], UnderstandProtocol(max_new_tokens=6))
    other = janus.understand([req], UnderstandProtocol(max_new_tokens=6, system_prompt="You are a dog."))
    none = janus.understand([UnderstandRequest(req.content)], UnderstandProtocol(max_new_tokens=6))
    assert len({plain[0], other[0], none[0]}) == 3


def test_generate_one_rng_per_image(janus):
    # same VQ tokens; the VQ decoder's convolutions may round differently in a batch of 3 (±1 level)
    protocol = GenerateProtocol(cfg=5.0, temperature=1.0, height=32, width=32)
    check_images_follow_their_seeds(janus, protocol, size=32, tolerance=1)


@pytest.mark.parametrize("name", ["janus-pro-1b", "janus-1.3b"])
def test_generate_with_the_cards_own_protocol(name, janus):
    protocol = tiny_cards(name).protocol_for("geneval", Capability.GENERATE)
    assert isinstance(protocol, GenerateProtocol)
    images = janus.generate([GenerateRequest("a red cat", 1, (3,), (0,))], protocol)
    assert images[0][0].size == (32, 32)


def test_image_tokens_do_not_depend_on_the_batch(janus):
    protocol = GenerateProtocol(cfg=5.0, temperature=1.0)
    prompts = [janus.generation_prompt(p, protocol) for p in ("a red cat", "a photo of two apples on a table")]

    def tokens(texts: list[str], seeds: list[int]) -> torch.Tensor:
        enc = janus.tokenizer(texts, padding=True, return_tensors="pt")
        return sample_image_tokens(
            janus.model,
            enc["input_ids"],
            enc["attention_mask"],
            [torch.Generator().manual_seed(s) for s in seeds],
            pad_id=janus.pad_id,
            cfg=5.0,
            temperature=1.0,
            top_k=None,
            num_tokens=janus.num_image_tokens,
        )

    batched = tokens([prompts[0], prompts[1], prompts[0]], [1, 2, 3])
    alone = torch.cat([tokens([prompts[0]], [1]), tokens([prompts[1]], [2]), tokens([prompts[0]], [3])])
    assert torch.equal(batched, alone)


def test_sampling_matches_transformers_image_generate(janus):
    """Batch of one: our loop draws exactly the tokens of transformers' generate(generation_mode="image")
    seeded with torch.manual_seed (same prompt, cfg 5, temperature 1, CPU float32)."""
    protocol = GenerateProtocol(cfg=5.0, temperature=1.0)
    enc = janus.tokenizer([janus.generation_prompt("a blue bench", protocol)], return_tensors="pt")
    ours = sample_image_tokens(
        janus.model,
        enc["input_ids"],
        enc["attention_mask"],
        [torch.Generator().manual_seed(7)],
        pad_id=janus.pad_id,
        cfg=5.0,
        temperature=1.0,
        top_k=None,
        num_tokens=janus.num_image_tokens,
    )
    boi = janus.tokenizer.convert_tokens_to_ids("<begin_of_image>")
    janus.model.generation_config.generation_kwargs = {"boi_token_id": boi}
    torch.manual_seed(7)
    theirs = janus.model.generate(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        generation_mode="image",
        do_sample=True,
        guidance_scale=5.0,
        temperature=1.0,
        top_k=None,
        top_p=None,
    )
    assert torch.equal(ours, theirs)


def test_unconditional_rows_keep_bos_and_boi_only():
    ids = torch.tensor([[0, 0, 1, 5, 6, 9], [1, 4, 5, 6, 7, 9]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    assert unconditional_ids(ids, mask, pad_id=0).tolist() == [[0, 0, 1, 0, 0, 9], [1, 0, 0, 0, 0, 9]]


def test_resolution_other_than_native_is_refused(janus):
    with pytest.raises(ProtocolError, match="only makes 32x32"):
        janus.generate([GenerateRequest("x", 1, (1,), (0,))], GenerateProtocol(cfg=5, temperature=1, height=384))


def test_generate_protocol_must_set_cfg_and_temperature():
    problems = JanusAdapter.check_protocol(Capability.GENERATE, GenerateProtocol(height=384, width=384))
    assert problems == ["generate.cfg is not set", "generate.temperature is not set"]


def test_role_names_and_image_tokens_are_checked_before_loading():
    protocol = GenerateProtocol(cfg=5, temperature=1, extra={"roles": ["User"], "image_token": 576})
    problems = JanusAdapter.check_protocol(Capability.GENERATE, protocol)
    assert len(problems) == 2
    assert problems[0] == "missing required key 'generate.extra.roles[1]'"  # [user, assistant]
    assert problems[1].startswith("unknown key 'generate.extra.image_token' (did you mean 'image_tokens'?)")
    # the understanding extras take roles, but not the generation-only image_tokens
    understand = UnderstandProtocol(extra={"roles": ["User", "Assistant"], "image_tokens": 576})
    assert JanusAdapter.check_protocol(Capability.UNDERSTAND, understand) == [
        "unknown key 'understand.extra.image_tokens'; allowed keys: prompt_prefix, prompt_suffix, "
        "repetition_penalty, roles, top_k"
    ]


def _copy(card_checkpoint: str, dest: Path) -> Path:
    return Path(shutil.copytree(card_checkpoint, dest))


def test_missing_tokenizer_names_the_part(tmp_path):
    card = tiny_cards("janus-pro-1b")
    folder = _copy(card.checkpoint, tmp_path / "ckpt")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match=r"missing tokenizer \(tokenizer.json") as err:
        load(card, checkpoint=str(folder))
    assert "expected layout" in str(err.value) and 'model_type "janus"' in str(err.value)


def test_original_deepseek_checkpoint_gets_conversion_advice(tmp_path):
    folder = _copy(tiny_cards("janus-pro-1b").checkpoint, tmp_path / "ckpt")
    (folder / "config.json").write_text(json.dumps({"model_type": "multi_modality"}))
    with pytest.raises(CheckpointError, match="multi_modality") as err:
        load(tiny_cards("janus-pro-1b"), checkpoint=str(folder))
    assert "convert_janus_weights_to_hf.py" in str(err.value)


def test_hub_checkpoint_type_checked_before_full_download(tmp_path, monkeypatch):
    config_only = tmp_path / "config_only"
    config_only.mkdir()
    (config_only / "config.json").write_text(json.dumps({"model_type": "multi_modality"}))
    calls = []

    def fake_download(repo_id, *, revision=None, allow_patterns=None):
        calls.append(allow_patterns)
        return config_only

    monkeypatch.setattr(hf_common, "download_snapshot", fake_download)
    with pytest.raises(CheckpointError, match="convert"):
        load(tiny_cards("janus-1.3b"), checkpoint="deepseek-ai/Janus-1.3B")
    assert calls == [["config.json"]]
