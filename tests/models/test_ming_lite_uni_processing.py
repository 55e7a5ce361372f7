"""Prompt building, image preprocessing and 3D RoPE positions (no model weights needed)."""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest
import torch
from PIL import Image

from ming_eval.errors import DataError
from ming_eval.models.ming_lite_uni import image_processing, mrope
from ming_eval.models.ming_lite_uni.prompting import (
    EXTRA_SPECIAL_TOKENS,
    IMAGE_PATCH,
    INTERLEAVE_TOKENS,
    PromptBuilder,
    image_text,
    load_tokenizer,
    question_text,
)
from tests.models.ming_lite_uni_support import tiny_checkpoint


@pytest.mark.parametrize(("h", "w"), [(200, 300), (96, 64), (672, 672), (1080, 1920), (10, 12), (3000, 40)])
def test_smart_resize_keeps_about_672_squared(h, w):
    rh, rw = image_processing.smart_resize(h, w)
    assert rh % 28 == 0 and rw % 28 == 0
    assert 0.8 * image_processing.PIXELS <= rh * rw <= 1.25 * image_processing.PIXELS
    if h == w == 672:
        assert (rh, rw) == (672, 672)


def test_extreme_aspect_ratio_is_refused():
    with pytest.raises(DataError, match="aspect ratio"):
        image_processing.smart_resize(10, 2500)


def test_patches_are_laid_out_as_the_vision_tower_expects():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (56, 84, 3), dtype=np.uint8))
    patches, grid = image_processing.preprocess(img, pixels=56 * 84)
    assert grid == (1, 4, 6) and patches.shape == (24, 3 * 2 * 14 * 14)
    norm = (np.asarray(img, dtype=np.float64) / 255 - image_processing.CLIP_MEAN) / image_processing.CLIP_STD
    # merged 2x2 groups are contiguous: patch 0 = (row 0, col 0), 1 = (0, 1), 2 = (1, 0), 3 = (1, 1),
    # then the next group starts at column 2; each patch is (channel, temporal, 14, 14).
    for index, (row, col) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3)]):
        block = norm[row * 14 : (row + 1) * 14, col * 14 : (col + 1) * 14].transpose(2, 0, 1)
        want = np.stack([block, block], axis=1).reshape(-1)  # both temporal slots hold the still image
        np.testing.assert_allclose(patches[index].numpy(), want, atol=1e-5)
    assert image_processing.merged_tokens(grid) == 6


def test_question_text_follows_the_reference_processor():
    img = image_text(2)
    assert img == "<image>" + IMAGE_PATCH * 2 + "</image>"
    assert question_text([2, "What is it?"]) == img + "\n What is it?"  # f"<image>\n {prompt}"
    assert question_text([2]) == img
    assert question_text([2, "  spaced  "]) == img + "\n   spaced"  # stripped with an image
    assert question_text([" a prompt "]) == " a prompt "  # text-to-image prompts are used as given
    one = image_text(1)
    assert question_text(["Compare ", 1, "and", 1, "."]) == "Compare " + one + "\n and" + one + "\n ."


def test_tokenizer_gets_the_reference_tokens_once(tmp_path_factory, tmp_path):
    root = tiny_checkpoint(tmp_path_factory)
    tokenizer, ids = load_tokenizer(root / "qwen2_5_llm")
    base = len(tokenizer) - len(EXTRA_SPECIAL_TOKENS) - len(INTERLEAVE_TOKENS)
    # the reference adds its 15 special tokens, then the 19 interleave tokens, in this order
    assert tokenizer.convert_tokens_to_ids("[item]") == base
    assert ids.image_patch == base + len(EXTRA_SPECIAL_TOKENS)
    assert (ids.image_start, ids.image_end) == (ids.image_patch + 1, ids.image_patch + 2)
    tokenizer.save_pretrained(tmp_path / "with_tokens")
    for name in ("config.json",):
        (tmp_path / "with_tokens" / name).write_text((root / "qwen2_5_llm" / name).read_text())
    again, ids_again = load_tokenizer(tmp_path / "with_tokens")  # a checkpoint that already has them
    assert ids_again == ids and len(again) == len(tokenizer)


def test_prompt_layout(tmp_path_factory):
    tokenizer, ids = load_tokenizer(tiny_checkpoint(tmp_path_factory) / "qwen2_5_llm")
    builder = PromptBuilder(tokenizer, ids)
    chat = builder.build("hello", generate_image=False)
    gen = builder.build("hello", generate_image=True)
    assert gen == [*chat, ids.image_start] and chat[-1] != ids.image_start
    text = tokenizer.decode(chat)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhello"
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    other = tokenizer.decode(builder.build("hello", system="Answer briefly.", generate_image=False))
    assert other.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>")


def test_positions_by_hand():
    p, s = 9, 8  # patch and image-start ids
    tokens = [1, 2, s, p, p, p, p, p, p, 3, s, p, p, p, 4]
    pos = mrope.positions(tokens, [(2, 3), (1, 3)], p)
    assert pos[:, :3].tolist() == [[0, 1, 2]] * 3
    assert pos[:, 3:9].tolist() == [[3] * 6, [3, 3, 3, 4, 4, 4], [3, 4, 5, 3, 4, 5]]
    assert pos[:, 9:11].tolist() == [[6, 7]] * 3  # after a 2x3 image: start + max(2, 3)
    assert pos[:, 11:14].tolist() == [[8, 8, 8], [8, 8, 8], [8, 9, 10]]  # a 1-D query row
    assert pos[:, 14].tolist() == [11, 11, 11]
    with pytest.raises(ValueError):
        mrope.positions(tokens, [(2, 3)], p)


def test_positions_match_transformers_qwen2_5_vl_get_rope_index():
    """The claim in mrope's docstring: the same positions as transformers' Qwen2.5-VL for still images."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel

    patch, start, end = 50, 51, 52
    grids_thw = [(1, 4, 6), (1, 2, 32), (1, 2, 128)]  # an image, then 16- and 64-query rows (1-D layout)
    tokens: list[int] = [1, 2, 3]
    for t, h, w in grids_thw:
        tokens += [start] + [patch] * (t * h * w // 4) + [end, 7]
    tokens += [8, 9]
    stub = types.SimpleNamespace(
        config=types.SimpleNamespace(vision_config=types.SimpleNamespace(spatial_merge_size=2, tokens_per_second=2))
    )
    stub.get_vision_position_ids = functools.partial(Qwen2_5_VLModel.get_vision_position_ids, stub)
    ids = torch.tensor([tokens])
    want, _ = Qwen2_5_VLModel.get_rope_index(
        stub, ids, (ids == patch).int(), image_grid_thw=torch.tensor(grids_thw), attention_mask=torch.ones_like(ids)
    )
    ours = mrope.positions(tokens, [(h // 2, w // 2) for _, h, w in grids_thw], patch)
    assert torch.equal(ours, want[:, 0])


def test_batch_positions_left_pad():
    p = 9
    rows = [[1, 2, 3], [1, p, p, 4, 5]]
    pos, following = mrope.batch_positions(rows, [[], [(1, 2)]], p, 5)
    assert pos[:, 0, 2:].tolist() == [[0, 1, 2]] * 3 and pos[:, 0, :2].tolist() == [[1, 1]] * 3
    assert following.tolist() == [3, 5]
