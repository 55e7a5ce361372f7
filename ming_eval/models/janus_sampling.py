"""Janus image generation: classifier-free guided sampling of VQ tokens, one RNG per image.

transformers' ``JanusForConditionalGeneration.generate(generation_mode="image")`` samples from the
global RNG, so an image would depend on which other images share its batch. This loop runs the same
computation on the model's own components (language model, generation head, generation embeddings
and aligner) with one ``torch.Generator`` per image row:

* conditional rows hold the prompt ending in ``<begin_of_image>``; the unconditional row of each
  keeps only its first token (BOS) and that last token and replaces the rest with the pad token, as
  DeepSeek's ``generation_inference.py`` and transformers do;
* logits = uncond + cfg * (cond - uncond), divided by the temperature, optionally top-k filtered,
  and sampled from the softmax;
* batches are left-padded, with position ids counted from each row's first real token, so a row
  computes what it would compute alone.

For a batch of one it draws the same tokens as transformers' image-mode ``generate`` seeded with
``torch.manual_seed(seed)`` (checked in ``tests/models/test_janus.py`` on a tiny model, on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ming_eval.models.hf_common import cache_keyword


def unconditional_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The unconditional prompt rows: pad everywhere except each row's first real and last token."""
    uncond = input_ids.clone()
    length = input_ids.shape[1]
    first = attention_mask.long().argmax(dim=1)
    positions = torch.arange(length, device=input_ids.device).unsqueeze(0)
    keep = (positions == first.unsqueeze(1)) | (positions == length - 1) | (attention_mask == 0)
    return uncond.masked_fill(~keep, pad_id)


def _returned_cache(outputs: Any) -> Any:
    cache = getattr(outputs, "cache", None)
    return cache if cache is not None else getattr(outputs, "past_key_values", None)


def sample_next(
    logits: torch.Tensor, generators: Sequence[torch.Generator], *, temperature: float, top_k: int | None
) -> torch.Tensor:
    """One token per row of ``logits`` (float32), row ``i`` drawn with ``generators[i]``."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)])


@torch.inference_mode()
def sample_image_tokens(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    generators: Sequence[torch.Generator],
    *,
    pad_id: int,
    cfg: float,
    temperature: float,
    top_k: int | None,
    num_tokens: int,
) -> torch.Tensor:
    """Sample ``num_tokens`` VQ tokens for each prompt row; returns ``(rows, num_tokens)``.

    ``model`` is a ``JanusForConditionalGeneration``; ``input_ids``/``attention_mask`` are the
    left-padded conditional prompts, each ending in ``<begin_of_image>``.
    """
    rows = input_ids.shape[0]
    if len(generators) != rows:
        raise ValueError(f"{len(generators)} generators for {rows} rows")
    inner = model.model
    language_model = inner.language_model
    cache_kw = cache_keyword(language_model)

    ids = torch.cat([input_ids, unconditional_ids(input_ids, attention_mask, pad_id)])
    mask = torch.cat([attention_mask, attention_mask]).long()
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    embeds = model.get_input_embeddings()(ids)

    out = language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
    cache = _returned_cache(out)
    hidden = out.last_hidden_state[:, -1, :]
    tokens = torch.empty((rows, num_tokens), dtype=torch.long, device=input_ids.device)
    for step in range(num_tokens):
        logits = inner.generation_head(hidden).float()
        cond, uncond = logits[:rows], logits[rows:]
        guided = uncond + cfg * (cond - uncond)
        nxt = sample_next(guided, generators, temperature=temperature, top_k=top_k)
        tokens[:, step] = nxt
        if step == num_tokens - 1:
            break
        embeds = model.prepare_embeddings_for_image_generation(torch.cat([nxt, nxt]).unsqueeze(-1))
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = language_model(
            inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True, **{cache_kw: cache}
        )
        cache = _returned_cache(out)
        hidden = out.last_hidden_state[:, -1, :]
    return tokens
