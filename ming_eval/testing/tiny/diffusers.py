"""Tiny random diffusers checkpoints in the layout of the real SDXL, SD3, Sana, FLUX and InstructPix2Pix
repositories.

Each builder instantiates the real pipeline class from tiny components (UNet/DiT of a few thousand
parameters, a 2-level VAE, 1-2 layer text encoders, tokenizers trained offline with their real
classes) and writes it with ``save_pretrained``: ``model_index.json`` plus one subfolder per
component, exactly as on the hub. Images come out at 64x64 px in a couple of steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ming_eval.testing.tiny import blocks as tiny


def _clip_config(vocab: int, **extra: Any) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=32,
        projection_dim=32,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        **extra,
    )


def _t5(vocab: int, d_model: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config(
            vocab_size=vocab,
            d_model=d_model,
            d_ff=64,
            d_kv=16,
            num_layers=1,
            num_heads=2,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def _vae(latent_channels: int, **extra: Any) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(32, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=64,
        **extra,
    )


def _unet(in_channels: int, cross_attention_dim: int, **extra: Any) -> Any:
    """SD's 2-level UNet (SDXL and InstructPix2Pix)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=32,
        **extra,
    )


def _save(pipe: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_sdxl(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tmp = folder / "_build"
    tok = tiny.clip_tokenizer(tmp / "tokenizer")
    tok_2 = tiny.clip_tokenizer(tmp / "tokenizer_2")
    torch.manual_seed(seed)
    unet = _unet(
        4,
        64,
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        # SDXL's micro-conditioning: 6 size/crop numbers x 8 + the pooled text embedding (32)
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=80,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(4),
        text_encoder=CLIPTextModel(_clip_config(len(tok))),
        text_encoder_2=CLIPTextModelWithProjection(_clip_config(len(tok_2))),
        tokenizer=tok,
        tokenizer_2=tok_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
            steps_offset=1,
        ),
        add_watermarker=False,
    )
    _cleanup(tmp)
    return _save(pipe, folder)


def build_tiny_sd3(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    tmp = folder / "_build"
    tok, tok_2 = tiny.clip_tokenizer(tmp / "t1"), tiny.clip_tokenizer(tmp / "t2")
    tok_3 = tiny.t5_tokenizer(tmp / "t3")
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=1,
        in_channels=4,
        out_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=64,
        pooled_projection_dim=64,
    )
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(4, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=CLIPTextModelWithProjection(_clip_config(len(tok))),
        tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(_clip_config(len(tok_2))),
        tokenizer_2=tok_2,
        text_encoder_3=_t5(len(tok_3), 64),
        tokenizer_3=tok_3,
    )
    _cleanup(tmp)
    return _save(pipe, folder)


def build_tiny_flux(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    tmp = folder / "_build"
    tok, tok_2 = tiny.clip_tokenizer(tmp / "t1"), tiny.t5_tokenizer(tmp / "t2")
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=64,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=(4, 4, 8),
    )
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096
        ),
        vae=_vae(4, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611),
        text_encoder=CLIPTextModel(_clip_config(len(tok))),
        tokenizer=tok,
        text_encoder_2=_t5(len(tok_2), 64),
        tokenizer_2=tok_2,
        transformer=transformer,
    )
    _cleanup(tmp)
    return _save(pipe, folder)


def build_tiny_sana(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from diffusers import AutoencoderDC, DPMSolverMultistepScheduler, SanaPipeline, SanaTransformer2DModel
    from transformers import Gemma2Config, Gemma2Model

    tmp = folder / "_build"
    tok = tiny.gemma_tokenizer(tmp / "tokenizer")
    torch.manual_seed(seed)
    transformer = SanaTransformer2DModel(
        patch_size=1,
        in_channels=4,
        out_channels=4,
        num_layers=2,
        num_attention_heads=2,
        attention_head_dim=4,
        num_cross_attention_heads=2,
        cross_attention_head_dim=4,
        cross_attention_dim=8,
        caption_channels=8,
        sample_size=32,
    )
    vae = AutoencoderDC(
        in_channels=3,
        latent_channels=4,
        attention_head_dim=2,
        encoder_block_types=("ResBlock", "EfficientViTBlock"),
        decoder_block_types=("ResBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        encoder_qkv_multiscales=((), (5,)),
        decoder_qkv_multiscales=((), (5,)),
        encoder_layers_per_block=(1, 1),
        decoder_layers_per_block=(1, 1),
        downsample_block_type="conv",
        upsample_block_type="interpolate",
        decoder_norm_types="rms_norm",
        decoder_act_fns="silu",
        scaling_factor=0.41407,
    )
    text_encoder = Gemma2Model(
        Gemma2Config(
            vocab_size=len(tok),
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=4,
            pad_token_id=tok.pad_token_id,
        )
    )
    pipe = SanaPipeline(
        tokenizer=tok,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        # as Sana's repositories: flow-matching DPM-Solver++ (MetaQuery loads this scheduler too)
        scheduler=DPMSolverMultistepScheduler(
            use_flow_sigmas=True,
            flow_shift=3.0,
            prediction_type="flow_prediction",
            algorithm_type="dpmsolver++",
            solver_order=2,
        ),
    )
    _cleanup(tmp)
    return _save(pipe, folder)


def build_tiny_instruct_pix2pix(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline
    from transformers import CLIPTextModel

    tmp = folder / "_build"
    tok = tiny.clip_tokenizer(tmp / "tokenizer")
    torch.manual_seed(seed)
    unet = _unet(8, 32)  # in: the noisy latents and the source image's latents
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=_vae(4),
        text_encoder=CLIPTextModel(_clip_config(len(tok))),
        tokenizer=tok,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    _cleanup(tmp)
    return _save(pipe, folder)


def _cleanup(tmp: Path) -> None:
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


def _card(folder: Path, protocol: dict[str, Any]) -> dict[str, Any]:
    """The card fields that run a diffusers card on the tiny checkpoint in ``folder``."""
    return {
        "checkpoint": str(folder),
        "dtype": "float32",
        "options": {"variant": None, "component_dtypes": {}},
        "protocol": protocol,
    }


def _generate_card(folder: Path, pipeline_kwargs: dict[str, Any]) -> dict[str, Any]:
    generate: dict[str, Any] = {"steps": 2, "height": 64, "width": 64}
    if pipeline_kwargs:
        generate["extra"] = {"pipeline_kwargs": pipeline_kwargs}
    return _card(folder, {"generate": generate})


def sdxl_card_overrides(folder: Path) -> dict[str, Any]:
    build_tiny_sdxl(folder)
    return _generate_card(folder, {})


def sd3_card_overrides(folder: Path) -> dict[str, Any]:
    build_tiny_sd3(folder)
    return _generate_card(folder, {"max_sequence_length": 32})


def sana_card_overrides(folder: Path) -> dict[str, Any]:
    build_tiny_sana(folder)
    # resolution binning would map the tiny 32-latent model to 1024-px bins; no long instruction prefix
    return _generate_card(
        folder, {"use_resolution_binning": False, "complex_human_instruction": None, "max_sequence_length": 32}
    )


def flux_card_overrides(folder: Path) -> dict[str, Any]:
    build_tiny_flux(folder)
    return _generate_card(folder, {"max_sequence_length": 32})


def instruct_pix2pix_card_overrides(folder: Path) -> dict[str, Any]:
    build_tiny_instruct_pix2pix(folder)
    return _card(folder, {"edit": {"steps": 2}})
