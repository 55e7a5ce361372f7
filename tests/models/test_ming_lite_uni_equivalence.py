"""Our Ming-Lite-Uni against the reference code's own outputs on the same tiny checkpoint.

Provenance of ``fixtures/ming_lite_uni_reference.{npz,json}`` (the JSON has the details): the reference
code, inclusionAI/Ming @ 4876ed4 (folder ``Ming-unify``), was run outside this project in its own
environment (torch 2.14.1 CPU, transformers 4.46.3, diffusers 0.33.0, float32), changed only to run on
a CPU (flash-attn -> SDPA, CUDA device -> CPU, hard-coded tokenizer path -> ``qwen2_5_llm/``, the
query placeholders' hard-coded bfloat16 -> the model dtype), on the checkpoint that
``write_tiny_checkpoint`` writes (its sha256 is recorded and checked here). Understanding used the
reference's own chat loop with the ``<image>`` generation prefix removed and ``eos_token_id`` set to
``<|im_end|>`` (it is undefined as released). The reference's SANA was run three times per image as
released; it also checked that one lone 16x16 run gives the identical image.

Measured when the fixture was made (float32): prompt ids and pixel values identical; first-step logits
within 2.4e-6 (alone and in a left-padded batch); greedy tokens identical (12 per prompt); for
text-to-image the 16x16 query states and SANA prompt embeddings identical (0.0), for editing within
2.4e-6 and 1.5e-7; images within 1 grey level (116 of 262,144 pixels of a 512x512 image differ by 1,
the edit image is identical).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ming_eval.models.ming_lite_uni import image_processing
from ming_eval.models.ming_lite_uni.modeling import Prompt, SanaSettings
from ming_eval.models.ming_lite_uni.prompting import question_text
from ming_eval.testing.tiny.ming_lite_uni import checkpoint_digest
from tests.models.ming_lite_uni_support import make_image, tiny_adapter, tiny_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
PROVENANCE = json.loads((FIXTURES / "ming_lite_uni_reference.json").read_text())
UNDERSTAND = [(u["image"], u["text"]) for u in PROVENANCE["understand"]]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "ming_lite_uni_reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tiny_checkpoint(tmp_path_factory)
    if checkpoint_digest(root) != PROVENANCE["tiny_checkpoint_sha256"]:
        pytest.fail(
            "the tiny checkpoint differs from the one the reference outputs were made from: "
            "regenerate tests/models/fixtures/ming_lite_uni_reference.* (see its JSON)"
        )
    return tiny_adapter(tmp_path_factory).model


def _understand_prompt(model, kind, text) -> Prompt:
    if kind is None:
        return Prompt(model.prompts.build(question_text([text]), generate_image=False))
    [(feats, grid)] = model.encode_images([make_image(kind)])
    return Prompt(model.prompts.build(question_text([feats.shape[0], text]), generate_image=False), [feats], [grid])


def _generate_prompt(model, kind, text) -> Prompt:
    if kind is None:
        return Prompt(model.prompts.build(question_text([text]), generate_image=False), queries=True)
    [(feats, grid)] = model.encode_images([make_image(kind)])
    ids = model.prompts.build(question_text([feats.shape[0], text]), generate_image=False)
    return Prompt(ids, [feats], [grid], queries=True)


@pytest.mark.parametrize("i", [0, 1])
def test_pixels_match_reference_processor(ref, i):
    patches, grid = image_processing.preprocess(make_image(UNDERSTAND[i][0]))
    assert list(grid) == ref[f"u{i}_grid"].tolist()
    np.testing.assert_array_equal(patches[:4].numpy(), ref[f"u{i}_pixels_head"])
    np.testing.assert_allclose(
        [patches.double().sum().item(), patches.double().abs().sum().item()], ref[f"u{i}_pixels_sum"], rtol=1e-9
    )


def test_understanding_matches_reference(model, ref):
    prompts = [_understand_prompt(model, kind, text) for kind, text in UNDERSTAND]
    for i, p in enumerate(prompts):
        assert p.ids == ref[f"u{i}_input_ids"].tolist(), f"prompt {i}: token ids differ from the reference processor"
    alone = [model.logits([p])[0].numpy() for p in prompts]
    batched = model.logits(prompts).numpy()  # left-padded batch of three
    for i in range(len(prompts)):
        np.testing.assert_allclose(alone[i], ref[f"u{i}_logits0"], atol=2e-5, rtol=0)
        np.testing.assert_allclose(batched[i], ref[f"u{i}_logits0"], atol=2e-5, rtol=0)
    tokens = model.answer(prompts, max_new_tokens=12)
    assert tokens == [ref[f"u{i}_tokens"].tolist() for i in range(len(prompts))]


@pytest.mark.parametrize(
    ("name", "kind", "text", "seed"),
    [
        ("t2i_s42", None, "a photo of a red apple and a blue car", 42),
        ("edit_s7", "gradient", "add a candle on top of the cake", 7),
    ],
)
def test_generation_matches_reference(model, ref, name, kind, text, seed):
    p = _generate_prompt(model, kind, text)
    assert p.ids + model.query_tail == ref[f"{name}_input_ids"].tolist()
    states = model.query_states([p])[0]
    q16 = states[16 + 64 :]
    np.testing.assert_allclose(q16[:8].numpy(), ref[f"{name}_q16_head"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        [q16.double().sum().item(), q16.double().abs().sum().item()], ref[f"{name}_q16_stats"], rtol=1e-5, atol=1e-3
    )
    emb = model.prompt_embeds([p])
    np.testing.assert_allclose(emb[0, :8].numpy(), ref[f"{name}_emb16_head"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        [emb.double().sum().item(), emb.double().abs().sum().item()], ref[f"{name}_emb16_stats"], rtol=1e-6, atol=1e-4
    )
    caption = model.mlp.caption_mlp(emb)
    negative = model.mlp.caption_mlp(torch.zeros_like(emb))
    for tensor, key in ((caption, "caption_stats"), (negative, "negative_caption_stats")):
        np.testing.assert_allclose(
            [tensor.double().sum().item(), tensor.double().abs().sum().item()],
            ref[f"{name}_{key}"],
            rtol=1e-7,
            atol=1e-2,
        )
    seeds = [seed, 43] if name == "t2i_s42" else [seed]
    images = model.sample(emb.expand(len(seeds), -1, -1), seeds, SanaSettings(3, 5.0, 64, 64))
    expected = [ref[f"{name}_image"]] + ([ref["t2i_s43_image"]] if name == "t2i_s42" else [])
    for got, want in zip(images, expected, strict=True):
        diff = np.abs(np.asarray(got, dtype=np.int16) - want.astype(np.int16))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_full_size_image_matches_reference(model, ref):
    """512x512 (SANA-512's native size, no resize): a crop and the mean of the reference image."""
    p = _generate_prompt(model, None, "a photo of a red apple and a blue car")
    [image] = model.sample(model.prompt_embeds([p]), [42], SanaSettings(3, 5.0, 512, 512))
    arr = np.asarray(image)
    assert arr.shape == (512, 512, 3)
    crop = arr[240:272, 240:272].astype(np.int16)
    assert np.abs(crop - ref["t2i_512_image_crop"].astype(np.int16)).max() <= 1
    assert abs(arr.astype(np.float64).mean() - ref["t2i_512_image_mean"][0]) < 0.01
