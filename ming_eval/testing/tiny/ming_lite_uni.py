"""A tiny random Ming-Lite-Uni checkpoint in the released on-disk layout, for tests and the self-test.

Every part is written the way its loader reads it (configs as JSON, weights as safetensors, the LLM
sharded like the real 7B one, SANA's folders as diffusers saves them) and with the sizes the
reference code hard-codes: 128-dim LLM heads (its 3D RoPE sections are fixed at 16/24/24), an 8192-wide
vision output (``linear_proj`` expects it) and 2048/2304-wide caption MLP layers. Weights are drawn
from a fixed-seed numpy generator, so the same files come out on every machine; a tiny model's
outputs mean nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ming_eval.models.ming_lite_uni.loading import CAPTION_HIDDEN, SCALES

SEED = 20250503
LLM_HIDDEN = 256
CONNECTOR_HIDDEN = 64
VISION_OUT = 8192  # the reference's image_emb_dim
CAPTION_OUT = 2304  # SANA 1.6B's caption channels, hard-coded in the reference's ToClipMLP
LATENT = 4

CORPUS = (
    "a photo of a red apple and a blue car on the left of a green dog",
    "two cats, three dogs and four birds sit next to an orange bench below a white clock",
    "add a candle on top of the cake. what colour is the square? answer with one word.",
    "The image shows a yellow banana, a purple umbrella and a black laptop near a brown bear.",
    "Question: which option is correct? A. red B. green C. blue D. none of these. Answer:",
    "describe the picture in detail; count the objects, then say where each one is 0123456789",
)
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>")  # fmt: skip
QWEN_PRETOKENIZE = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHAT_TEMPLATE = (
    "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}"
)


#: fills a part's tensors: (name -> shape, seed) -> name -> tensor
Filler = Callable[[dict[str, tuple[int, ...]], int], dict[str, torch.Tensor]]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _fill(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic values: norm scales near 1, biases small, weights with unit-variance outputs."""
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for name in sorted(shapes):
        shape = shapes[name]
        noise = rng.standard_normal(size=shape).astype(np.float32)
        leaf = name.rsplit(".", 1)[-1]
        if len(shape) == 1 and leaf == "weight" and any(k in name for k in ("norm", "ln_")):
            value = 1.0 + 0.1 * noise
        elif len(shape) == 1:
            value = 0.1 * noise
        else:
            value = noise / math.sqrt(math.prod(shape[1:]))
        out[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return out


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _tokenizer(folder: Path) -> int:
    """A byte-level BPE tokenizer with Qwen2's pre-tokenizer and special tokens; returns its size."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False, special_tokens=[]
    )
    tok.train_from_iterator(list(CORPUS) * 4, trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIALS])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    tok.model.save(str(folder))  # vocab.json + merges.txt, as Qwen2.5 ships them
    specials = {tok.token_to_id(t): t for t in QWEN_SPECIALS}
    _write_json(folder / "tokenizer_config.json", {
        "add_bos_token": False, "add_prefix_space": False, "bos_token": None, "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
        "model_max_length": 32768, "pad_token": "<|endoftext|>", "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
        "additional_special_tokens": [t for t in QWEN_SPECIALS if t != "<|endoftext|>"],
        "added_tokens_decoder": {
            str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                     "special": True}
            for i, t in sorted(specials.items())
        },
    })  # fmt: skip
    return int(tok.get_vocab_size(with_added_tokens=True))


def _qwen2_config(hidden: int, layers: int, heads: int, kv: int, inter: int, vocab: int, **extra: Any) -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "vocab_size": vocab, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "sliding_window": 32768, "max_window_layers": layers, "use_sliding_window": False,
        "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": True, "torch_dtype": "float32",
        "transformers_version": "4.46.3", **extra,
    }  # fmt: skip


def _llm(folder: Path, tokenizer_size: int, sizes: Sizes, fill: Filler) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    added = 34  # the reference's extra tokens (prompting.EXTRA_SPECIAL_TOKENS + INTERLEAVE_TOKENS)
    vocab = sizes.llm_vocab or (tokenizer_size + added + 7) // 8 * 8
    raw = _qwen2_config(*sizes.llm, vocab, bos_token_id=None, eos_token_id=None,
                        tie_word_embeddings=False)  # fmt: skip
    # Keys the reference's Qwen2ForCausalLM reads from the config before it sets them itself.
    raw |= {"use_llm_3drope": True, "audio_vocab_size": 4099, "audio_id_shift": tokenizer_size + added,
            "spatial_merge_size": 2, "tokens_per_second": 2,
            "rope_scaling": {"type": "default", "rope_type": "default", "mrope_section": [16, 24, 24]}}  # fmt: skip
    _write_json(folder / "config.json", raw)
    cfg = {k: v for k, v in raw.items() if k in Qwen2Config().to_dict() and k != "rope_scaling"}
    with torch.device("meta"):
        shapes = _shapes(Qwen2ForCausalLM(Qwen2Config(**cfg)))
    state = fill(shapes, SEED + 1)
    names = sorted(state)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / file), metadata={"format": "pt"})
    total = sum(t.numel() * t.element_size() for t in state.values())
    _write_json(folder / "model.safetensors.index.json", {
        "metadata": {"total_size": total}, "weight_map": {k: f for f, ks in shards.items() for k in ks},
    })  # fmt: skip
    _write_json(folder / "generation_config.json", {"do_sample": False, "eos_token_id": None})


def _connector(folder: Path, sizes: Sizes, fill: Filler) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    raw = _qwen2_config(*sizes.connector, 64, tie_word_embeddings=True, bos_token_id=None, eos_token_id=None)
    _write_json(folder / "config.json", raw)
    with torch.device("meta"):
        shapes = _shapes(Qwen2ForCausalLM(Qwen2Config(**{k: v for k, v in raw.items() if k != "architectures"})))
    shapes.pop("lm_head.weight", None)  # tied to the embedding, not stored
    save_file(fill(shapes, SEED + 2), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _vision(folder: Path, sizes: Sizes, fill: Filler) -> None:
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    raw = {"model_type": "qwen2_5_vit", "architectures": ["Qwen2_5_VisionTransformer"], "depth": 2,
           "hidden_size": 32, "hidden_act": "silu", "intermediate_size": 64, "num_heads": 2, "in_channels": 3,
           "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "tokens_per_second": 2,
           "window_size": 112, "out_hidden_size": VISION_OUT, "fullatt_block_indexes": [1],
           "torch_dtype": "float32", "transformers_version": "4.46.3"}  # fmt: skip
    raw |= sizes.vision
    _write_json(folder / "config.json", raw)
    keys = ("depth", "hidden_size", "intermediate_size", "num_heads", "window_size", "out_hidden_size",
            "fullatt_block_indexes")  # fmt: skip
    fields: dict[str, Any] = {k: raw[k] for k in keys}
    with torch.device("meta"):
        shapes = _shapes(Qwen2_5_VisionTransformerPretrainedModel(Qwen2_5_VLVisionConfig(**fields)))
    save_file(fill(shapes, SEED + 3), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _mlp(folder: Path, sizes: Sizes, fill: Filler) -> None:
    h, c, v = sizes.llm[0], sizes.connector[0], sizes.vision.get("out_hidden_size", VISION_OUT)
    shapes: dict[str, tuple[int, ...]] = {
        "linear_proj.0.weight": (h, v), "linear_proj.0.bias": (h,), "linear_proj.2.weight": (h, h),
        "linear_proj.2.bias": (h,), "proj_in.weight": (c, h), "proj_in.bias": (c,), "proj_out.weight": (h, c),
        "proj_out.bias": (h,), "mlp.fc1.weight": (CAPTION_HIDDEN, h), "mlp.fc1.bias": (CAPTION_HIDDEN,),
        "mlp.layer_norm1.weight": (CAPTION_HIDDEN,), "mlp.layer_norm1.bias": (CAPTION_HIDDEN,),
        "mlp.fc2.weight": (CAPTION_OUT, CAPTION_HIDDEN), "mlp.fc2.bias": (CAPTION_OUT,),
        "mlp.layer_norm2.weight": (CAPTION_OUT,), "mlp.layer_norm2.bias": (CAPTION_OUT,),
        # One SANA tensor too: the reference loads this file non-strictly into its SANA wrapper, so a
        # ``sana.*`` entry overrides the transformer's weight.
        "sana.caption_projection.linear_2.bias": (sizes.sana_transformer["cross_attention_dim"],),
    }  # fmt: skip
    shapes |= {f"query_tokens_dict.{s}x{s}": (s * s, h) for s in SCALES}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(fill(shapes, SEED + 4), str(folder / "model.safetensors"), metadata={"format": "pt"})


SANA_TRANSFORMER = {
    "attention_bias": False, "attention_head_dim": 8, "caption_channels": CAPTION_OUT, "cross_attention_dim": 16,
    "cross_attention_head_dim": 8, "dropout": 0.0, "in_channels": LATENT, "mlp_ratio": 2.5,
    "norm_elementwise_affine": False, "norm_eps": 1e-6, "num_attention_heads": 2, "num_cross_attention_heads": 2,
    "num_layers": 2, "out_channels": LATENT, "patch_size": 1, "sample_size": 16,
}  # fmt: skip
SANA_VAE = {
    "attention_head_dim": 8, "in_channels": 3, "latent_channels": LATENT, "scaling_factor": 0.41407,
    "encoder_block_types": ["ResBlock", "ResBlock", "ResBlock", "EfficientViTBlock", "EfficientViTBlock",
                            "EfficientViTBlock"],
    "decoder_block_types": ["ResBlock", "ResBlock", "ResBlock", "EfficientViTBlock", "EfficientViTBlock",
                            "EfficientViTBlock"],
    "encoder_block_out_channels": [8, 8, 8, 16, 16, 16], "decoder_block_out_channels": [8, 8, 8, 16, 16, 16],
    "encoder_layers_per_block": [1, 1, 1, 1, 1, 1], "decoder_layers_per_block": [1, 1, 1, 1, 1, 1],
    "encoder_qkv_multiscales": [[], [], [], [5], [5], [5]], "decoder_qkv_multiscales": [[], [], [], [5], [5], [5]],
    "upsample_block_type": "interpolate", "downsample_block_type": "Conv", "decoder_norm_types": "rms_norm",
    "decoder_act_fns": "silu",
}  # fmt: skip
SANA_SCHEDULER = {  # SANA 1.6B 512px's DPM-Solver config; the reference builds a flow-matching Euler from it
    "_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.32.0", "algorithm_type": "dpmsolver++",
    "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001, "dynamic_thresholding_ratio": 0.995,
    "euler_at_final": False, "final_sigmas_type": "zero", "flow_shift": 3.0, "lower_order_final": True,
    "num_train_timesteps": 1000, "prediction_type": "flow_prediction", "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0, "solver_order": 2, "solver_type": "midpoint", "steps_offset": 0, "thresholding": False,
    "timestep_spacing": "linspace", "trained_betas": None, "use_beta_sigmas": False, "use_exponential_sigmas": False,
    "use_flow_sigmas": True, "use_karras_sigmas": False, "use_lu_lambdas": False, "variance_type": None,
}  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """The sizes of each part; the defaults are the tiny checkpoint's. ``bench/gpu_suite.sh`` writes the
    same layout at the released model's sizes (``llm_vocab`` None: the tokenizer's size plus the
    reference's added tokens, rounded up to 8)."""

    llm: tuple[int, int, int, int, int] = (LLM_HIDDEN, 2, 2, 1, 512)  # hidden, layers, heads, kv heads, ffn
    llm_vocab: int | None = None
    connector: tuple[int, int, int, int, int] = (CONNECTOR_HIDDEN, 2, 2, 1, 128)
    vision: dict[str, Any] = field(
        default_factory=lambda: {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "fullatt_block_indexes": [1],
        }
    )
    sana_transformer: dict[str, Any] = field(default_factory=lambda: dict(SANA_TRANSFORMER))
    sana_vae: dict[str, Any] = field(default_factory=lambda: dict(SANA_VAE))


def _sana(root: Path, sizes: Sizes, fill: Filler) -> None:
    from diffusers import AutoencoderDC, SanaTransformer2DModel

    for sub, cls, cfg, seed in (
        ("transformer", SanaTransformer2DModel, sizes.sana_transformer, SEED + 5),
        ("vae", AutoencoderDC, sizes.sana_vae, SEED + 6),
    ):
        _write_json(root / sub / "config.json", {"_class_name": cls.__name__, "_diffusers_version": "0.32.0", **cfg})
        with torch.device("meta"):
            module: Any = cls(**cfg)
        shapes = _shapes(module)
        save_file(fill(shapes, seed), str(root / sub / "diffusion_pytorch_model.safetensors"))
    _write_json(root / "scheduler" / "scheduler_config.json", SANA_SCHEDULER)


def write_tiny_checkpoint(root: Path, sizes: Sizes | None = None, fill: Filler = _fill) -> Path:
    """Write the tiny checkpoint (or one of ``sizes``, its tensors made by ``fill``) into ``root``
    (created if needed) and return it."""
    sizes = sizes or Sizes()
    root.mkdir(parents=True, exist_ok=True)
    size = _tokenizer(root / "qwen2_5_llm")
    _llm(root / "qwen2_5_llm", size, sizes, fill)
    _connector(root / "connector", sizes, fill)
    _vision(root / "qwen2_5_vit", sizes, fill)
    _mlp(root / "mlp", sizes, fill)
    _sana(root, sizes, fill)
    return root


def checkpoint_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes: identifies the exact tiny checkpoint."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root).as_posix()).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def card_overrides(folder: Path) -> dict[str, Any]:
    """Build the tiny checkpoint in ``folder``; the card fields that run the Ming-Lite-Uni card on it."""
    root = write_tiny_checkpoint(folder / "Ming-Lite-Uni")
    small = {"steps": 2, "height": 64, "width": 64}
    return {
        "checkpoint": str(root),
        "dtype": "float32",
        "protocol": {"understand": {"max_new_tokens": 4}, "generate": small, "edit": small},
    }
