"""Build Ming-Lite-Uni's parts from a checkpoint folder on transformers and diffusers components.

Each part is created on the ``meta`` device and then given the checkpoint's tensors, so a 7B model is
never initialised randomly or held twice; buffers that are not saved (RoPE frequencies) are rebuilt.

What the reference uses, and what is used here:

- ``qwen2_5_vit``: its own copy of the Qwen2.5-VL vision tower -> transformers'
  ``Qwen2_5_VisionTransformerPretrainedModel``.
- ``qwen2_5_llm``: its own ``Qwen2ForCausalLM`` with 3D RoPE (sections 16/24/24) -> transformers'
  ``Qwen2_5_VLTextModel`` (Qwen2 layers, the same multimodal RoPE) plus an ``lm_head``.
- ``connector``: ``AutoModelForCausalLM`` with every layer's ``is_causal`` cleared -> ``AutoModel``
  with ``config.is_causal = False`` and the same per-layer flag (full attention).
- ``mlp``: ``linear_proj``, ``proj_in``/``proj_out``, the queries and ``ToClipMLP`` -> plain modules.
- ``vae``, ``transformer``, ``scheduler``: diffusers' ``AutoencoderDC``, ``SanaTransformer2DModel`` and
  ``FlowMatchEulerDiscreteScheduler`` built from ``scheduler/`` -> the same classes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ming_eval.errors import CheckpointError
from ming_eval.models import hf_common as hf
from ming_eval.models.ming_lite_uni.checkpoint import read_state_dict
from ming_eval.models.ming_lite_uni.mrope import MROPE_SECTION

if TYPE_CHECKING:
    from transformers import PreTrainedModel

SCALES = (4, 8, 16)
CAPTION_HIDDEN = 2048  # ToClipMLP's inner width in the reference

# The reference's vision config class defaults, used for keys a config.json leaves out.
_VISION_DEFAULTS: dict[str, Any] = {
    "depth": 32, "hidden_size": 3584, "hidden_act": "silu", "intermediate_size": 3420, "num_heads": 16,
    "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
    "tokens_per_second": 4, "window_size": 112, "out_hidden_size": 3584, "fullatt_block_indexes": [7, 15, 23, 31],
}  # fmt: skip


def require_transformers_5() -> None:
    """The parts are built on transformers 5 classes (``rope_parameters``, bidirectional masks).

    A :class:`CheckpointError`, so that the runner stops at once rather than failing every sample.
    """
    import transformers
    from packaging.version import Version

    if Version(transformers.__version__).major < 5:
        raise CheckpointError(
            f"Ming-Lite-Uni loads its checkpoint with transformers 5 classes; {transformers.__version__} is installed",
            hint="pip install 'transformers>=5,<6' (the other model-zoo adapters run on it too, MetaQuery's "
            "checkout aside)",
        )


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"the weights in {where} do not fit the model its config describes: {exc}",
            hint="config.json and the weight files of this part come from different checkpoints",
        ) from exc
    module.requires_grad_(False)  # inference only


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _round_rope(module: nn.Module, dtype: torch.dtype) -> None:
    """Round RoPE inverse frequencies to ``dtype`` (kept as float32), as ``model.to(bfloat16)`` does to
    the reference's buffers before its bf16 inference."""
    for sub in module.modules():
        for name in ("inv_freq", "original_inv_freq"):
            buf = getattr(sub, name, None)
            if isinstance(buf, torch.Tensor) and buf.is_floating_point():
                setattr(sub, name, buf.to(dtype).to(torch.float32))


def build_vision(folder: Path, dtype: torch.dtype, attn: str, round_rope: bool) -> PreTrainedModel:
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
        Qwen2_5_VisionTransformerPretrainedModel,
        Qwen2_5_VLVisionRotaryEmbedding,
    )

    raw = hf.read_config(folder)
    raw = raw.get("vision_config", raw)  # the reference accepts a full VL config too
    fields = {key: raw.get(key, default) for key, default in _VISION_DEFAULTS.items()}
    config = Qwen2_5_VLVisionConfig(**fields, rope_parameters={"rope_type": "axial", "rope_theta": 10000.0})
    config._attn_implementation = attn
    with torch.device("meta"):
        model = Qwen2_5_VisionTransformerPretrainedModel(config)
    _load_into(model, read_state_dict(folder, dtype=dtype), folder)
    if round_rope and dtype != torch.float32:
        model.rotary_pos_emb = _half_precision_vision_rope(config, dtype)
    else:
        model.rotary_pos_emb = Qwen2_5_VLVisionRotaryEmbedding(config)
    return model.eval()


def _half_precision_vision_rope(config: Any, dtype: torch.dtype) -> Any:
    """The vision tower's RoPE as the reference computes it after ``model.to(bfloat16)``: frequencies,
    position x frequency products and their cos/sin all in ``dtype`` (transformers uses float32)."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLVisionRotaryEmbedding

    class HalfPrecisionVisionRope(Qwen2_5_VLVisionRotaryEmbedding):
        def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            freqs = position_ids[..., None].to(dtype) * self.inv_freq.to(device=x.device, dtype=dtype)
            cos = self.recomposition_frequencies(freqs.cos().float())
            sin = self.recomposition_frequencies(freqs.sin().float())
            return cos, sin

    return HalfPrecisionVisionRope(config)


def build_llm(folder: Path, dtype: torch.dtype, attn: str, round_rope: bool) -> tuple[PreTrainedModel, nn.Linear]:
    """The decoder (Qwen2.5-VL text model: Qwen2 layers with multimodal RoPE) and its LM head."""
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRotaryEmbedding, Qwen2_5_VLTextModel

    raw = hf.read_config(folder)
    hidden, heads = int(raw["hidden_size"]), int(raw["num_attention_heads"])
    if hidden // heads != 2 * sum(MROPE_SECTION):
        raise CheckpointError(
            f"{folder}/config.json: head size {hidden // heads}, but Ming-Lite-Uni's 3D RoPE sections "
            f"{list(MROPE_SECTION)} need heads of {2 * sum(MROPE_SECTION)}",
            hint="qwen2_5_llm/ must be the Qwen2.5 LLM of a Ming-Lite-Uni checkpoint",
        )
    theta = raw.get("rope_theta") or (raw.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    config = Qwen2_5_VLTextConfig(
        vocab_size=int(raw["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(raw["intermediate_size"]),
        num_hidden_layers=int(raw["num_hidden_layers"]),
        num_attention_heads=heads,
        num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
        hidden_act=raw.get("hidden_act", "silu"),
        max_position_embeddings=int(raw.get("max_position_embeddings", 32768)),
        rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        use_sliding_window=False,
        attention_dropout=0.0,
        rope_parameters={"rope_type": "default", "rope_theta": float(theta), "mrope_section": list(MROPE_SECTION)},
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    config._attn_implementation = attn
    state = read_state_dict(folder, dtype=dtype)
    with torch.device("meta"):
        model = Qwen2_5_VLTextModel(config)
    _load_into(model, _strip(state, "model."), folder)
    model.rotary_emb = Qwen2_5_VLRotaryEmbedding(config=config)  # type: ignore[arg-type]  # text config is what it reads
    if round_rope:
        _round_rope(model, dtype)
    # A tied head is the embedding, whatever the file holds (as transformers' tie_weights makes it).
    head_weight = model.embed_tokens.weight if raw.get("tie_word_embeddings") else state.get("lm_head.weight")
    if head_weight is None:
        raise CheckpointError(f"{folder} has no lm_head.weight", hint="qwen2_5_llm/ must be a causal LM checkpoint")
    lm_head = nn.Linear(hidden, head_weight.shape[0], bias=False, device="meta")
    lm_head.weight = nn.Parameter(head_weight, requires_grad=False)
    return model.eval(), lm_head


def build_connector(folder: Path, dtype: torch.dtype, attn: str, round_rope: bool) -> PreTrainedModel:
    """The connector: a causal LM's decoder run with full (bidirectional) attention, as the reference
    does by clearing ``is_causal``; its token embedding is never used and is not loaded."""
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(str(folder))
    except Exception as exc:  # unknown model types and malformed configs raise various errors
        raise CheckpointError(f"cannot read {folder}/config.json: {exc}", hint="re-download connector/") from exc
    config._attn_implementation = attn
    config.is_causal = False
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    model.embed_tokens = nn.Identity()
    state = _strip(read_state_dict(folder, dtype=dtype), "model.")
    state = {k: v for k, v in state.items() if not k.startswith("embed_tokens.")}
    _load_into(model, state, folder)
    _rebuild_meta_buffers(model, config, folder)
    for module in model.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = False
    if round_rope:
        _round_rope(model, dtype)
    return model.eval()


def _rebuild_meta_buffers(model: nn.Module, config: Any, folder: Path) -> None:
    for name, sub in list(model.named_modules()):
        if any(b.is_meta for b in sub.buffers(recurse=False)):
            try:
                fresh = type(sub)(config=config)
            except TypeError as exc:
                raise CheckpointError(
                    f"cannot rebuild {type(sub).__name__} of the connector in {folder}: {exc}",
                    hint="the connector must be a transformers decoder (e.g. Qwen2)",
                ) from exc
            parent_name, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attr, fresh)


class CaptionMLP(nn.Module):
    """The reference's ``ToClipMLP``: LLM-width query embeddings to SANA's caption width."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.layer_norm1 = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.layer_norm2 = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_norm2(self.fc2(torch.relu(self.layer_norm1(self.fc1(x)))))


class MlpParts(nn.Module):
    """Everything in ``mlp/model.safetensors``: ``linear_proj`` (vision -> LLM), ``proj_in`` /
    ``proj_out`` (around the connector), the multi-scale queries and the caption MLP."""

    def __init__(self, state: dict[str, torch.Tensor], folder: Path) -> None:
        super().__init__()
        need = ["linear_proj.0.weight", "linear_proj.2.weight", "proj_in.weight", "proj_out.weight", "mlp.fc1.weight",
                "mlp.fc2.weight"] + [f"query_tokens_dict.{s}x{s}" for s in SCALES]  # fmt: skip
        missing = [k for k in need if k not in state]
        if missing:
            raise CheckpointError(
                f"{folder}/model.safetensors lacks {', '.join(missing)}",
                hint="mlp/model.safetensors must come from a Ming-Lite-Uni checkpoint",
            )
        llm_dim, vision_dim = state["linear_proj.0.weight"].shape
        conn_dim = state["proj_in.weight"].shape[0]
        with torch.device("meta"):
            self.linear_proj = nn.Sequential(nn.Linear(vision_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim))
            self.proj_in = nn.Linear(llm_dim, conn_dim)
            self.proj_out = nn.Linear(conn_dim, llm_dim)
            self.caption_mlp = CaptionMLP(llm_dim, state["mlp.fc1.weight"].shape[0], state["mlp.fc2.weight"].shape[0])
            self.queries = nn.ParameterDict(
                {f"{s}x{s}": nn.Parameter(torch.empty(s * s, llm_dim), requires_grad=False) for s in SCALES}
            )
        mine = {k: v for k, v in state.items() if k.startswith(("linear_proj.", "proj_in.", "proj_out."))}
        mine |= {k.replace("mlp.", "caption_mlp.", 1): v for k, v in state.items() if k.startswith("mlp.")}
        mine |= {k.replace("query_tokens_dict.", "queries.", 1): v for k, v in state.items() if k.startswith("query_")}
        _load_into(self, mine, folder)
        self.requires_grad_(False)


def build_mlp(folder: Path, dtype: torch.dtype) -> tuple[MlpParts, dict[str, torch.Tensor]]:
    """The mlp parts, and any ``sana.*`` tensors the file also holds (they override SANA's transformer,
    as the reference's non-strict load of this file into its SANA wrapper does)."""
    state = read_state_dict(folder, dtype=dtype)
    return MlpParts(state, folder), _strip(state, "sana.")


def build_sana(root: Path, dtype: torch.dtype, overrides: dict[str, torch.Tensor]) -> tuple[Any, Any, Any]:
    """VAE, transformer and the flow-matching Euler scheduler, loaded as the reference loads them."""
    from diffusers import AutoencoderDC, FlowMatchEulerDiscreteScheduler, SanaTransformer2DModel
    from diffusers.utils import logging as diffusers_logging

    try:
        vae = AutoencoderDC.from_pretrained(str(root), subfolder="vae", torch_dtype=dtype)
        transformer = SanaTransformer2DModel.from_pretrained(str(root), subfolder="transformer", torch_dtype=dtype)
        # The folder usually holds SANA's DPM-Solver config; the reference samples with the
        # flow-matching Euler scheduler built from it, and so do we. Silence the class-mismatch note.
        level = diffusers_logging.get_verbosity()
        diffusers_logging.set_verbosity(logging.ERROR)
        try:
            scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(str(root), subfolder="scheduler")
        finally:
            diffusers_logging.set_verbosity(level)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"cannot load SANA from {root} (vae/, transformer/, scheduler/): {exc}",
            hint="these folders must be as diffusers saves AutoencoderDC, SanaTransformer2DModel and a scheduler",
        ) from exc
    if overrides:
        result = transformer.load_state_dict({k: v.to(dtype) for k, v in overrides.items()}, strict=False)
        if result.unexpected_keys:
            logging.getLogger(__name__).warning(
                "mlp/model.safetensors: %d sana.* tensors match no SANA weight", len(result.unexpected_keys)
            )
    vae.requires_grad_(False)
    transformer.requires_grad_(False)
    return vae.eval(), transformer.eval(), scheduler
