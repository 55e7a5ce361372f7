"""A tiny random Janus checkpoint in the layout of ``deepseek-community/Janus-Pro-*`` (1.3M parameters).

Same classes and files as the real one: a Llama text model, a SigLIP-style vision tower (32 px,
patch 8, 16 image tokens), a VQ-VAE (4x4 token grid decoded to 32x32 pixels), the generation head,
a byte-level BPE tokenizer with DeepSeek's special tokens, and a ``JanusProcessor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
IMAGE, BOI, EOI = "<image_placeholder>", "<begin_of_image>", "<end_of_image>"


def build_tiny_janus(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import (
        JanusConfig,
        JanusForConditionalGeneration,
        JanusImageProcessor,
        JanusProcessor,
        LlamaConfig,
        PreTrainedTokenizerFast,
    )

    from ming_eval.testing.tiny.blocks import CORPUS, spread_weights

    folder.mkdir(parents=True, exist_ok=True)
    specials = [BOS, EOS, PAD, IMAGE, BOI, EOI]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        list(CORPUS) * 4,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    bpe.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, bpe.token_to_id(BOS))])
    tokenizer: Any = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens={"image_token": IMAGE, "boi_token": BOI, "eoi_token": EOI},
    )
    processor = JanusProcessor(
        image_processor=JanusImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer, num_image_tokens=16
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = JanusConfig(
        text_config=text,
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 64,
            "num_image_tokens": 16,
        },
        # GroupNorm(32) in the VQ decoder needs channel counts in multiples of 32
        vq_config={
            "embed_dim": 8,
            "num_embeddings": 64,
            "base_channels": 32,
            "latent_channels": 32,
            "channel_multiplier": [1, 1, 2, 2],
            "num_res_blocks": 1,
            "num_patches": 4,
            "projection_dim": 64,
            "image_token_embed_dim": 64,
        },
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE),
    )
    torch.manual_seed(seed)
    model = JanusForConditionalGeneration(config).eval()
    spread_weights(model.model.language_model)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def card_overrides(folder: Path) -> dict[str, Any]:
    """Build the tiny checkpoint in ``folder``; the card fields that run a Janus card on it."""
    build_tiny_janus(folder)
    return {
        "checkpoint": str(folder),
        "dtype": "float32",
        "protocol": {
            "understand": {"max_new_tokens": 6},
            "generate": {"height": 32, "width": 32, "extra": {"image_tokens": 16}},
        },
    }
