"""A tiny random Qwen2.5-VL checkpoint in the layout of ``Qwen/Qwen2.5-VL-*-Instruct`` (~0.3M parameters).

The real classes and files: ``Qwen2_5_VLForConditionalGeneration`` (2-layer text model of width 64
with M-RoPE, 2-layer vision tower of width 32, patch 14, merge 2), a ``Qwen2Tokenizer`` trained
offline with Qwen's special tokens, and a ``Qwen2_5_VLProcessor`` with image and video processors
and a chat template in Qwen's format (written here, not copied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen's chat format: a default system turn when none is given, images as vision_start/pad/end.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen2_5_vl(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2Tokenizer,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    from ming_eval.testing.tiny.blocks import spread_weights, train_bpe_in_place

    folder.mkdir(parents=True, exist_ok=True)
    tok_dir = folder / "_tokenizer"
    tok: Any = Qwen2Tokenizer(eos_token="<|im_end|>", pad_token="<|endoftext|>")
    train_bpe_in_place(tok, SPECIALS)
    tok.save_pretrained(tok_dir)
    tok = Qwen2Tokenizer.from_pretrained(tok_dir)
    pixels: dict[str, Any] = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        video_processor=Qwen2VLVideoProcessor(**pixels),
        tokenizer=tok,
        chat_template=CHAT_TEMPLATE,
    )
    ids = {
        name: tok.convert_tokens_to_ids(token)
        for name, token in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "fullatt_block_indexes": [1],
            "window_size": 28,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        **ids,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    spread_weights(model.model.language_model)
    model.generation_config.eos_token_id = [tok.eos_token_id, tok.pad_token_id]
    model.generation_config.pad_token_id = tok.pad_token_id
    # as the real checkpoint's generation_config.json, which the adapter must override
    model.generation_config.repetition_penalty = 1.05
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    for path in tok_dir.iterdir():
        path.unlink()
    tok_dir.rmdir()
    return folder


def card_overrides(folder: Path) -> dict[str, Any]:
    """Build the tiny checkpoint in ``folder``; the card fields that run a Qwen2.5-VL card on it."""
    build_tiny_qwen2_5_vl(folder)
    small = {"extra": {"min_pixels": 56 * 56, "max_pixels": 112 * 112}}
    return {
        "checkpoint": str(folder),
        "dtype": "float32",
        "protocol": {"understand": {"max_new_tokens": 6, **small}},
        # the card's per-task pixel settings are sized for the real model
        "tasks": {"ocrbench": {"understand": small}},
    }
