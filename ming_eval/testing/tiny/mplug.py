"""A tiny random mPLUG VQA checkpoint in ModelScope's on-disk layout (~8M parameters, most in the ViT layer).

The folder has what ``damo/mplug_visual-question-answering_coco_large_en`` has: ``config.yaml``,
``config_bert.json``, ``vocab.txt`` (a BERT vocabulary with the special tokens at BERT's ids:
[PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), ``configuration.json`` (ModelScope's task and
pipeline names) and ``pytorch_model.bin`` with every tensor ModelScope's model holds, including the
ones VQA never uses (momentum copies, CLIP's text tower). Sizes: one ViT-B-16 layer (ModelScope
sizes the positional embedding 768 wide for ViT-B-16 and 1024 for ViT-L-14 whatever the config says,
so the ViT cannot be narrower), 48 px (9 patches), BERT width 32 (so the visual projection is used),
4 fusion layers built of which 3 run, the third jointly over image and question (``stride_layer`` 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ming_eval.testing.tiny.blocks import CORPUS

CLIP_TEXT = {"width": 32, "heads": 2, "layers": 1, "context": 8, "vocab": 50, "embed": 32}

CONFIG_YAML: dict[str, Any] = {
    "task": "visual-question-answering",
    "bert_config": "config_bert.json",
    "image_res": 48,
    "vision_width": 768,
    "clip_name": "ViT-B-16",
    "distill": True,
    "beam_size": 5,
    "min_length": 1,
    "max_length": 10,
    "clip_embed_dim": CLIP_TEXT["embed"],
    "clip_image_resolution": 32,
    "clip_vision_layers": 1,
    "clip_vision_width": 768,
    "clip_vision_patch_size": 16,
    "clip_context_length": CLIP_TEXT["context"],
    "clip_vocab_size": CLIP_TEXT["vocab"],
    "clip_transformer_width": CLIP_TEXT["width"],
    "clip_transformer_heads": CLIP_TEXT["heads"],
    "clip_transformer_layers": CLIP_TEXT["layers"],
}

CONFIGURATION_JSON = {
    "framework": "pytorch",
    "task": "visual-question-answering",
    "pipeline": {"type": "visual-question-answering"},
    "model": {"type": "mplug"},
    "preprocessor": {"type": "mplug-tasks-preprocessor"},
}


def tiny_vocab() -> list[str]:
    words = sorted({w.strip(".,?") for line in CORPUS for w in line.lower().split()} - {""})
    words += ["yes", "no", "there", "##s", "##ed", "##ing", "square", "circle", "?", ",", "."]
    seen: list[str] = []
    for w in words:
        if w not in seen:
            seen.append(w)
    return ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] + seen


def bert_config(vocab_size: int) -> dict[str, Any]:
    return {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "model_type": "bert",
        "num_attention_heads": 2,
        "num_hidden_layers": 4,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": vocab_size,
        "encoder_width": 32,
        "text_encoder_layers": 2,
        "fusion_layers": 3,
        "text_decode_layers": 2,
        "stride_layer": 2,
    }


def _unused_tensors(seed: int) -> dict[str, Any]:
    """CLIP's text tower and image projection, and the fusion layer that never runs (shapes only
    matter: VQA inference never reads them)."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    w, e = CLIP_TEXT["width"], CLIP_TEXT["embed"]

    def rand(*shape: int) -> Any:
        return torch.randn(*shape, generator=gen) * 0.02

    out: dict[str, Any] = {
        "visual_encoder.positional_embedding": rand(CLIP_TEXT["context"], w),
        "visual_encoder.token_embedding.weight": rand(CLIP_TEXT["vocab"], w),
        "visual_encoder.ln_final.weight": torch.ones(w),
        "visual_encoder.ln_final.bias": torch.zeros(w),
        "visual_encoder.text_projection": rand(w, e),
        "visual_encoder.logit_scale": torch.tensor(4.6),
        "visual_encoder.visual.proj": rand(768, e),
    }
    for i in range(CLIP_TEXT["layers"]):
        p = f"visual_encoder.transformer.resblocks.{i}."
        out.update(
            {
                p + "attn.in_proj_weight": rand(3 * w, w),
                p + "attn.in_proj_bias": torch.zeros(3 * w),
                p + "attn.out_proj.weight": rand(w, w),
                p + "attn.out_proj.bias": torch.zeros(w),
                p + "ln_1.weight": torch.ones(w),
                p + "ln_1.bias": torch.zeros(w),
                p + "mlp.c_fc.weight": rand(4 * w, w),
                p + "mlp.c_fc.bias": torch.zeros(4 * w),
                p + "mlp.c_proj.weight": rand(w, 4 * w),
                p + "mlp.c_proj.bias": torch.zeros(w),
                p + "ln_2.weight": torch.ones(w),
                p + "ln_2.bias": torch.zeros(w),
            }
        )
    return out


def build_tiny_mplug(folder: Path, *, seed: int = 0) -> Path:
    """Write the tiny checkpoint into ``folder`` (created); returns it."""
    import torch
    import yaml

    from ming_eval.models.mplug.config import read_modelscope_config
    from ming_eval.models.mplug.modeling import MPlugVQA

    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (folder / "config_bert.json").write_text(json.dumps(bert_config(len(vocab)), indent=2), encoding="utf-8")
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG_YAML, sort_keys=False), encoding="utf-8")
    (folder / "configuration.json").write_text(json.dumps(CONFIGURATION_JSON, indent=2), encoding="utf-8")
    cfg = read_modelscope_config(folder)
    torch.manual_seed(seed)
    model = MPlugVQA(cfg).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or ".ln_" in name or "layer_norm" in name:
                param.normal_(1.0 if name.endswith("weight") else 0.0, 0.1)
            else:
                param.normal_(0.0, 0.3 if param.dim() > 1 else 0.5)
        # answers in words: the head rarely picks [PAD] / [unusedN] / [UNK] / [CLS] / [MASK]
        bias = model.text_decoder.cls.predictions.bias
        bias[:102] -= 6.0
        bias[103] -= 6.0
        bias[102] += 2.0
        # the answer head shares the decoder's word embeddings (ModelScope's BERT ties them on load)
        model.text_decoder.cls.predictions.decoder.weight.copy_(
            model.text_decoder.bert.embeddings.word_embeddings.weight
        )
    state: dict[str, Any] = dict(model.state_dict())
    # what ModelScope's model also holds: the decoder bias tied to the head, position ids,
    # the momentum copies of distillation, CLIP's text tower, and the fusion layer that never runs
    state["text_decoder.cls.predictions.decoder.bias"] = state["text_decoder.cls.predictions.bias"]
    for prefix in ("text_encoder.", "text_decoder.bert."):
        state[prefix + "embeddings.position_ids"] = torch.arange(64).expand(1, -1)
    fusion_layer_1 = {k: v for k, v in state.items() if k.startswith("fusion_encoder.encoder.layer.1.")}
    for key, value in fusion_layer_1.items():
        state[key.replace("layer.1.", "layer.0.")] = value.clone() * 0.5
    state.update(_unused_tensors(seed))
    momentum = {
        "visual_encoder.visual.": "visual_encoder_m.visual.",
        "text_encoder.": "text_encoder_m.",
        "fusion_encoder.": "fusion_encoder_m.",
        "text_decoder.": "text_decoder_m.",
        "visn_fc.": "visn_fc_m.",
        "visn_layer_norm.": "visn_layer_norm_m.",
    }
    for key, value in list(state.items()):
        for src, dst in momentum.items():
            if key.startswith(src):
                state[dst + key[len(src) :]] = value.clone()
    # ModelScope's loader strips "model." and reads a top-level "model" entry; real files vary
    torch.save({"model": {k: v.contiguous() for k, v in state.items()}}, folder / "pytorch_model.bin")
    return folder


def card_overrides(folder: Path) -> dict[str, Any]:
    """Build the tiny checkpoint in ``folder``; the card fields that run the mPLUG card on it."""
    build_tiny_mplug(folder)
    return {"checkpoint": str(folder), "dtype": "float32"}
