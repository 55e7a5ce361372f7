"""Batched text generation with a KV cache for Ming-Lite-Uni's 3D-RoPE decoder.

Rows are left-padded; each row keeps its own next 3D position (text advances all three axes alike),
stops at ``<|im_end|>`` and is then only carried along. Greedy decoding takes the first maximum, as the
reference's ``argmax`` does. Sampling draws row ``i`` from its own generator, so a row's text does not
depend on which other rows share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ming_eval.models.hf_common import cache_keyword

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class Sampling:
    """``temperature == 0`` or ``do_sample`` false means greedy."""

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float | None = None


def new_cache(model: nn.Module) -> Any:
    from transformers import DynamicCache

    config: Any = getattr(model, "config", None)
    try:
        return DynamicCache(config=config)
    except TypeError:  # transformers before 4.56 takes no config
        return DynamicCache()


def run_decoder(
    model: nn.Module, embeds: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor, cache: Any = None
) -> torch.Tensor:
    """Last hidden states ``(batch, length, hidden)``; ``cache`` (if given) is extended in place."""
    kwargs: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": positions}
    if cache is not None:
        kwargs[cache_keyword(model)] = cache
        kwargs["use_cache"] = True
    else:
        kwargs["use_cache"] = False
    out = model(**kwargs)
    hidden: torch.Tensor = out.last_hidden_state
    return hidden


def _pick(logits: torch.Tensor, sampling: Sampling, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    if not sampling.do_sample or sampling.temperature == 0 or generators is None:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p is not None and sampling.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > sampling.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    picks = [torch.multinomial(row.cpu(), 1, generator=gen) for row, gen in zip(probs, generators, strict=True)]
    return torch.cat(picks).to(logits.device)


def generate_text(
    model: PreTrainedModel,
    lm_head: nn.Module,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    next_positions: torch.Tensor,
    *,
    max_new_tokens: int,
    stop_id: int,
    sampling: Sampling = Sampling(),
    generators: Sequence[torch.Generator] | None = None,
) -> list[list[int]]:
    """New token ids per row (without the stop token)."""
    batch = embeds.shape[0]
    device = embeds.device
    cache = new_cache(model)
    hidden = run_decoder(model, embeds, mask, positions, cache)
    logits = lm_head(hidden[:, -1])
    out: list[list[int]] = [[] for _ in range(batch)]
    done = [False] * batch
    step_pos = next_positions.to(device)
    embed = model.get_input_embeddings()
    assert isinstance(embed, nn.Embedding)
    for index in range(max_new_tokens):
        tokens = _pick(logits, sampling, generators)
        for i, tok in enumerate(tokens.tolist()):
            if done[i]:
                continue
            if tok == stop_id:
                done[i] = True
            else:
                out[i].append(tok)
        if all(done) or index == max_new_tokens - 1:
            break
        step_embeds = embed(tokens.clamp(0, embed.num_embeddings - 1)).unsqueeze(1)
        mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=1)
        step_positions = step_pos.view(1, batch, 1).expand(3, batch, 1)
        hidden = run_decoder(model, step_embeds, mask, step_positions, cache)
        logits = lm_head(hidden[:, -1])
        step_pos = step_pos + 1
    return out
