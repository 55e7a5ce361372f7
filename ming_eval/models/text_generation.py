"""Text generation settings shared by the transformers-based understanding adapters.

The protocol decides decoding, not the checkpoint: a ``generation_config.json`` may carry sampling
settings or a repetition penalty (Qwen2.5-VL's has ``repetition_penalty: 1.05``) that would silently
change greedy answers, so every setting that matters for greedy decoding is passed explicitly.
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
    """``model.generate`` keyword arguments for ``protocol``: greedy unless it asks for sampling.

    ``extras`` (the protocol's typed ``extra``) sets the repetition penalty, and top-k when sampling.
    """
    if pad_token_id is None:
        pad_token_id = eos_token_id[0] if isinstance(eos_token_id, (list, tuple)) else eos_token_id
    kwargs: dict[str, Any] = {
        "max_new_tokens": protocol.max_new_tokens,
        "do_sample": sampling(protocol),
        "repetition_penalty": extras.repetition_penalty,
        "num_beams": 1,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }
    if kwargs["do_sample"]:
        kwargs["temperature"] = protocol.temperature if protocol.temperature > 0 else 1.0
        kwargs["top_p"] = protocol.top_p if protocol.top_p is not None else 1.0
        kwargs["top_k"] = extras.top_k or 0
    return kwargs


def seed_for_sampling(protocol: UnderstandProtocol, requests: Sequence[UnderstandRequest]) -> None:
    """Seed the global RNG from the batch's first request when sampling.

    transformers samples from the global RNG, so sampled answers are reproducible for the same
    batches, not across batch sizes; greedy decoding (the default) does not depend on this.
    """
    if sampling(protocol) and requests:
        import torch

        torch.manual_seed(requests[0].seed)


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
    seed_for_sampling(protocol, requests)
    import torch

    with torch.inference_mode():
        out = model.generate(**inputs, **generate_extra, **kwargs)
    return decode_new_tokens(tokenizer, out, inputs["input_ids"].shape[1])


def decode_new_tokens(tokenizer: Any, output_ids: torch.Tensor, prompt_length: int) -> list[str]:
    """Decode what ``generate`` appended after a left-padded prompt of ``prompt_length`` tokens."""
    texts = tokenizer.batch_decode(output_ids[:, prompt_length:], skip_special_tokens=True)
    return [text.strip() for text in texts]
