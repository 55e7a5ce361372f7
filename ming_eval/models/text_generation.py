"""Text generation settings shared by the transformers-based understanding adapters.

The protocol decides decoding, not the checkpoint: a ``generation_config.json`` may carry sampling
settings or a repetition penalty (Qwen2.5-VL's has ``repetition_penalty: 1.05``) that would silently
change greedy answers, so every setting that matters for greedy decoding is passed explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import UnderstandRequest
from ming_eval.errors import ProtocolError


def sampling(protocol: UnderstandProtocol) -> bool:
    return protocol.do_sample or protocol.temperature > 0


def extra_number(protocol: UnderstandProtocol, key: str, default: float, cast: type[float] | type[int] = float) -> Any:
    """A number from ``protocol.extra``; anything else is a :class:`ProtocolError` (a card problem,
    which stops the run before samples are marked failed), not a ``ValueError`` per sample."""
    value = protocol.extra.get(key, default)
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"understand.extra.{key} must be a number, got {value!r}") from None


def generate_kwargs(protocol: UnderstandProtocol, *, eos_token_id: Any, pad_token_id: int | None) -> dict[str, Any]:
    """``model.generate`` keyword arguments for ``protocol``: greedy unless it asks for sampling.

    ``protocol.extra`` may set ``repetition_penalty`` (default 1.0, i.e. none) and ``top_k``.
    """
    extra = protocol.extra
    penalty = extra_number(protocol, "repetition_penalty", 1.0)
    if penalty <= 0:
        raise ProtocolError(f"understand.extra.repetition_penalty must be > 0, got {penalty}")
    if pad_token_id is None:
        pad_token_id = eos_token_id[0] if isinstance(eos_token_id, (list, tuple)) else eos_token_id
    kwargs: dict[str, Any] = {
        "max_new_tokens": protocol.max_new_tokens,
        "do_sample": sampling(protocol),
        "repetition_penalty": penalty,
        "num_beams": 1,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }
    if kwargs["do_sample"]:
        kwargs["temperature"] = protocol.temperature if protocol.temperature > 0 else 1.0
        kwargs["top_p"] = protocol.top_p if protocol.top_p is not None else 1.0
        kwargs["top_k"] = extra_number(protocol, "top_k", 0, int) if extra.get("top_k") else 0
    return kwargs


def seed_for_sampling(protocol: UnderstandProtocol, requests: Sequence[UnderstandRequest]) -> None:
    """Seed the global RNG from the batch's first request when sampling.

    transformers samples from the global RNG, so sampled answers are reproducible for the same
    batches, not across batch sizes; greedy decoding (the default) does not depend on this.
    """
    if sampling(protocol) and requests:
        torch.manual_seed(requests[0].seed)


def system_prompt(protocol: UnderstandProtocol, request: UnderstandRequest) -> str | None:
    """The card's system prompt wins over the task's; None when neither sets one."""
    return protocol.system_prompt if protocol.system_prompt is not None else request.system


def answer(
    model: Any,
    tokenizer: Any,
    inputs: Any,
    protocol: UnderstandProtocol,
    requests: Sequence[UnderstandRequest],
    *,
    dtype: torch.dtype,
    pad_token_id: int | None,
    **generate_extra: Any,
) -> list[str]:
    """Run ``model.generate`` on processor ``inputs`` (left-padded, on the model's device) under
    ``protocol`` and decode the answers; pixel values are cast to the weights' ``dtype``."""
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    kwargs = generate_kwargs(protocol, eos_token_id=eos, pad_token_id=pad_token_id)
    seed_for_sampling(protocol, requests)
    with torch.inference_mode():
        out = model.generate(**inputs, **generate_extra, **kwargs)
    return decode_new_tokens(tokenizer, out, inputs["input_ids"].shape[1])


def decode_new_tokens(tokenizer: Any, output_ids: torch.Tensor, prompt_length: int) -> list[str]:
    """Decode what ``generate`` appended after a left-padded prompt of ``prompt_length`` tokens."""
    texts = tokenizer.batch_decode(output_ids[:, prompt_length:], skip_special_tokens=True)
    return [text.strip() for text in texts]
