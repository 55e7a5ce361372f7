"""Ming-Lite-Uni's computation: vision tower -> LLM (3D RoPE) -> text, or -> queries -> connector -> SANA.

Understanding: images become normalised ``linear_proj`` features at their ``<imagePatch>`` slots, the
prompt has no generation prefix, and decoding uses a KV cache and stops at ``<|im_end|>``.

Generation and editing: after the prompt come ``<image>`` + n ``<imagePatch>`` + ``</image>`` for the
4x4, 8x8 and 16x16 query scales, filled with the learnable queries; one causal LLM pass gives their
hidden states. The reference sends every scale through ``proj_in -> connector -> proj_out ->
normalise`` and runs SANA three times, returning only the 16x16 image; since each SANA run reseeds
its generator, the 16x16 image does not depend on the other two, so only the 16x16 scale is
computed here (the LLM pass still holds all scales: the 16x16 queries attend to the earlier ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F
from PIL import Image

from ming_eval.errors import CheckpointError
from ming_eval.models import hf_common as hf
from ming_eval.models.ming_lite_uni import image_processing, loading, mrope
from ming_eval.models.ming_lite_uni.decoding import Sampling, generate_text, run_decoder
from ming_eval.models.ming_lite_uni.prompting import PromptBuilder, load_tokenizer

GEN_SCALE = 16  # the scale whose image the reference returns

M = TypeVar("M", bound=torch.nn.Module)


def _on(module: M, device: torch.device) -> M:
    module.to(device)  # in place for modules
    return module


@dataclass
class Prompt:
    """One LLM input: token ids, the images' features (in order) and whether queries follow."""

    ids: list[int]
    images: list[torch.Tensor] = field(default_factory=list)
    grids: list[tuple[int, int]] = field(default_factory=list)  # merged grid of each image, in order
    queries: bool = False


@dataclass(frozen=True)
class SanaSettings:
    steps: int
    cfg: float
    height: int
    width: int


class MingLiteUniModel:
    """All parts of a Ming-Lite-Uni checkpoint on one device, in one compute dtype (``root`` already
    checked with :func:`~ming_eval.models.ming_lite_uni.checkpoint.validate_layout`)."""

    def __init__(
        self, root: Path, *, device: torch.device, dtype: torch.dtype, attn: str = "sdpa", round_rope: bool = True
    ) -> None:
        self.device, self.dtype = device, dtype
        self.tokenizer, self.ids = load_tokenizer(root / "qwen2_5_llm")
        self.prompts = PromptBuilder(self.tokenizer, self.ids)
        self.vision = _on(loading.build_vision(root / "qwen2_5_vit", dtype, attn, round_rope), device)
        llm, lm_head = loading.build_llm(root / "qwen2_5_llm", dtype, attn, round_rope)
        self.llm, self.lm_head = _on(llm, device), _on(lm_head, device)
        self.connector = _on(loading.build_connector(root / "connector", dtype, attn, round_rope), device)
        mlp, sana_overrides = loading.build_mlp(root / "mlp", dtype)
        self.mlp = _on(mlp, device)
        vae, transformer, scheduler = loading.build_sana(root, dtype, sana_overrides)
        caption_in = self.mlp.caption_mlp.fc2.out_features
        if transformer.config.caption_channels != caption_in:
            raise CheckpointError(
                f"mlp/ maps queries to {caption_in} channels but transformer/ expects "
                f"{transformer.config.caption_channels}",
                hint="mlp/ and transformer/ come from different checkpoints",
            )
        from diffusers import SanaPipeline

        self.pipeline: Any = cast(Any, SanaPipeline)(
            tokenizer=None, text_encoder=None, vae=vae.to(device), transformer=transformer.to(device),
            scheduler=scheduler,
        )  # fmt: skip
        self.pipeline.set_progress_bar_config(disable=True)
        tail: list[int] = []
        for scale in loading.SCALES:
            tail += [self.ids.image_start] + [self.ids.image_patch] * scale * scale + [self.ids.image_end]
        self.query_tail = tail  # appended after the prompt (which then ends with <image>)
        # the learnable queries of all scales, in order: what fills the query tail's patch slots
        self.queries = torch.cat([self.mlp.queries[f"{s}x{s}"] for s in loading.SCALES]).to(self.dtype)

    # ----------------------------------------------------------------------------- images
    @torch.no_grad()
    def encode_images(self, images: Sequence[Image.Image]) -> list[tuple[torch.Tensor, tuple[int, int]]]:
        """Per image: normalised LLM-space features ``(tokens, hidden)`` and the merged grid."""
        if not images:
            return []
        processed = [image_processing.preprocess(img) for img in images]
        pixels = torch.cat([p for p, _ in processed]).to(self.device, self.dtype)
        grid_thw = torch.tensor([g for _, g in processed], dtype=torch.long, device=self.device)
        out: Any = self.vision(pixels, grid_thw=grid_thw)
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        feats = F.normalize(self.mlp.linear_proj(feats.to(self.dtype)), dim=-1)
        counts = [image_processing.merged_tokens(g) for _, g in processed]
        grids = [(g[1] // image_processing.MERGE, g[2] // image_processing.MERGE) for _, g in processed]
        return list(zip(torch.split(feats, counts), grids, strict=True))

    # ----------------------------------------------------------------------------- LLM inputs
    def prepare(self, prompts: Sequence[Prompt]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-padded input embeddings, attention mask, 3D positions and each row's next position."""
        rows = [p.ids + (self.query_tail if p.queries else []) for p in prompts]
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.ids.pad, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, length - len(row) :] = torch.tensor(row)
            mask[i, length - len(row) :] = 1
        grids = [p.grids + ([(1, s * s) for s in loading.SCALES] if p.queries else []) for p in prompts]
        positions, following = mrope.batch_positions(rows, grids, self.ids.image_patch, length)
        ids, mask = ids.to(self.device), mask.to(self.device)
        embed = self.llm.get_input_embeddings()
        assert isinstance(embed, torch.nn.Embedding)
        embeds = embed(ids.clamp(0, embed.num_embeddings - 1))
        for i, p in enumerate(prompts):
            feats = list(p.images) + ([self.queries] if p.queries else [])
            if feats:
                slots = (ids[i] == self.ids.image_patch).nonzero().squeeze(1)
                values = torch.cat(feats).to(embeds.dtype)
                if values.shape[0] != slots.shape[0]:
                    raise ValueError(f"{slots.shape[0]} image-patch tokens but {values.shape[0]} image features")
                embeds[i, slots] = values
        return embeds, mask, positions.to(self.device), following

    # ----------------------------------------------------------------------------- understanding
    @torch.no_grad()
    def answer(
        self, prompts: Sequence[Prompt], *, max_new_tokens: int, sampling: Sampling = Sampling(),
        generators: Sequence[torch.Generator] | None = None,
    ) -> list[list[int]]:  # fmt: skip
        embeds, mask, positions, following = self.prepare(prompts)
        return generate_text(
            self.llm, self.lm_head, embeds, mask, positions, following, max_new_tokens=max_new_tokens,
            stop_id=self.ids.im_end, sampling=sampling, generators=generators,
        )  # fmt: skip

    @torch.no_grad()
    def logits(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """Next-token logits at the end of each prompt (one full causal pass, no cache)."""
        embeds, mask, positions, _ = self.prepare(prompts)
        hidden = run_decoder(self.llm, embeds, mask, positions)
        return self.lm_head(hidden[:, -1]).float()

    # ----------------------------------------------------------------------------- generation
    @torch.no_grad()
    def query_states(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """Final hidden states of all queries ``(batch, 16 + 64 + 256, hidden)``, scales in order."""
        embeds, mask, positions, _ = self.prepare(prompts)
        hidden = run_decoder(self.llm, embeds, mask, positions)
        tail = hidden[:, -len(self.query_tail) :]
        keep = torch.tensor(self.query_tail, device=tail.device) == self.ids.image_patch
        return tail[:, keep]

    @torch.no_grad()
    def condition(self, states: torch.Tensor) -> torch.Tensor:
        """Queries of one scale -> ``proj_in`` -> connector (bidirectional) -> ``proj_out`` -> normalise."""
        x = self.mlp.proj_in(states)
        batch, length = x.shape[:2]
        mask = None
        if self.connector.config._attn_implementation != "flash_attention_2":
            # The reference passes an all-ones 4D mask, which SDPA and eager attention add to the scores:
            # softmax is unchanged but half-precision rounding is not, so pass it too (flash-attn drops
            # it, in the reference as here).
            mask = torch.ones(batch, 1, length, length, dtype=x.dtype, device=x.device)
        positions = torch.arange(length, device=x.device).expand(batch, -1)
        x = run_decoder(self.connector, x, mask, positions)
        return F.normalize(self.mlp.proj_out(x), dim=-1)

    @torch.no_grad()
    def prompt_embeds(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """The conditioning of the 16x16 scale, ``(batch, 256, hidden)``, before SANA's caption MLP."""
        states = self.query_states(prompts)
        start = sum(s * s for s in loading.SCALES if s < GEN_SCALE)
        return self.condition(states[:, start : start + GEN_SCALE * GEN_SCALE])

    @torch.no_grad()
    def sample(self, embeds: torch.Tensor, seeds: Sequence[int], settings: SanaSettings) -> list[Image.Image]:
        """One image per row of ``embeds``, row ``i`` drawn from a generator seeded with ``seeds[i]``.

        The negative branch is the zero embedding through the caption MLP, as the reference's
        ``negative_prompt_embeds = h * 0``. Noise comes from CPU generators, as the reference's
        ``torch.manual_seed(seed)``, so images agree across devices.
        """
        caption = self.mlp.caption_mlp(embeds.to(self.dtype))
        negative = self.mlp.caption_mlp(torch.zeros_like(embeds, dtype=self.dtype))
        ones = torch.ones(caption.shape[:2], device=self.device)
        generators = hf.cpu_generators(seeds)
        result = self.pipeline(
            prompt_embeds=caption, prompt_attention_mask=ones, negative_prompt=None, negative_prompt_embeds=negative,
            negative_prompt_attention_mask=ones, guidance_scale=settings.cfg, generator=generators,
            num_inference_steps=settings.steps, height=settings.height, width=settings.width,
            max_sequence_length=caption.shape[1], complex_human_instruction=None, output_type="pil",
        )  # fmt: skip
        return list(result.images)
