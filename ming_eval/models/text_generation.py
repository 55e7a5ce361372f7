"""Text generation settings shared by the transformers-based understanding adapters.

The protocol decides decoding, not the checkpoint: a ``generation_config.json`` may carry sampling
settings or a repetition penalty (Qwen2.5-VL's has ``repetition_penalty: 1.05``) that would silently
change greedy answers, so every setting that matters for greedy decoding is passed explicitly.

Sampling draws row ``i`` of a batch from a CPU generator seeded with ``requests[i].seed``
(:class:`RowSampler`), so a sampled answer does not depend on which other requests share its batch
(the batch size, an out-of-memory split, a resumed run); transformers' own sampling draws every row
from the global RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ming_eval.cards.schema import UnderstandExtras, UnderstandProtocol
from ming_eval.core.sample import UnderstandRequest

if TYPE_CHECKING:  # imported where used: the OpenAI-compatible adapter shares this module without torch
    import torch


def sampling(protocol: UnderstandProtocol) -> bool:
    return protocol.do_sample or protocol.temperature > 0


class TextGenerationExtras(UnderstandExtras):
    """``understand.extra`` of the transformers-based understanding adapters."""

    #: transformers' repetition penalty; 1.0 is none
    repetition_penalty: float = Field(1.0, gt=0.0)
    #: top-k when sampling; unset or 0 is no top-k filter
    top_k: int | None = Field(None, ge=0)


def generate_kwargs(
    protocol: UnderstandProtocol, extras: TextGenerationExtras, *, eos_token_id: Any, pad_token_id: int | None
) -> dict[str, Any]:
    """``model.generate`` keyword arguments for ``protocol``: greedy search, always.

    ``extras`` (the protocol's typed ``extra``) sets the repetition penalty. When the protocol
    samples, :func:`answer` adds a :class:`RowSampler`, which draws the tokens that greedy search
    then takes.
    """
    if pad_token_id is None:
        pad_token_id = eos_token_id[0] if isinstance(eos_token_id, (list, tuple)) else eos_token_id
    return {
        "max_new_tokens": protocol.max_new_tokens,
        "do_sample": False,
        "repetition_penalty": extras.repetition_penalty,
        "num_beams": 1,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }


class RowSampler:
    """A transformers logits processor that samples each row with its own generator.

    Temperature, then top-k, then top-p (as transformers' warpers, in their order) are applied to
    the scores; row ``i``'s token is drawn on the CPU from ``seeds[i]``'s generator, and every other
    token's score becomes -inf, so the greedy search that runs it takes exactly the drawn token.
    """

    def __init__(self, protocol: UnderstandProtocol, extras: TextGenerationExtras, seeds: Sequence[int]) -> None:
        import torch

        self.temperature = protocol.temperature if protocol.temperature > 0 else 1.0
        self.top_p = protocol.top_p if protocol.top_p is not None else 1.0
        self.top_k = extras.top_k or 0
        self.generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        logits = scores.detach().float().cpu() / self.temperature
        if 0 < self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            ascending, order = logits.sort(dim=-1)
            drop = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - self.top_p
            drop[:, -1] = False  # the most likely token always stays
            logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
        probs = logits.softmax(dim=-1)
        picks = [torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators, strict=True)]
        chosen = torch.cat(picks).to(scores.device).unsqueeze(1)
        return torch.full_like(scores, float("-inf")).scatter(1, chosen, 0.0)


def system_prompt(protocol: UnderstandProtocol, request: UnderstandRequest) -> str | None:
    """The card's system prompt wins over the task's; None when neither sets one."""
    return protocol.system_prompt if protocol.system_prompt is not None else request.system


def answer(
    model: Any,
    tokenizer: Any,
    inputs: Any,
    protocol: UnderstandProtocol,
    extras: TextGenerationExtras,
    requests: Sequence[UnderstandRequest],
    *,
    dtype: torch.dtype,
    pad_token_id: int | None,
    **generate_extra: Any,
) -> list[str]:
    """Run ``model.generate`` on processor ``inputs`` (left-padded, on the model's device) under
    ``protocol`` and its ``extras``, and decode the answers; pixel values are cast to the weights' ``dtype``."""
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    kwargs = generate_kwargs(protocol, extras, eos_token_id=eos, pad_token_id=pad_token_id)
    if sampling(protocol):
        from transformers import LogitsProcessorList

        kwargs["logits_processor"] = LogitsProcessorList([RowSampler(protocol, extras, [r.seed for r in requests])])
    import torch

    with torch.inference_mode():
        out = model.generate(**inputs, **generate_extra, **kwargs)
    return decode_new_tokens(tokenizer, out, inputs["input_ids"].shape[1])


def decode_new_tokens(tokenizer: Any, output_ids: torch.Tensor, prompt_length: int) -> list[str]:
    """Decode what ``generate`` appended after a left-padded prompt of ``prompt_length`` tokens."""
    texts = tokenizer.batch_decode(output_ids[:, prompt_length:], skip_special_tokens=True)
    return [text.strip() for text in texts]
