"""Network transports: the OpenAI-compatible chat client and the retry policy every network call
shares (see :mod:`ming_eval.transport.openai_chat` and :mod:`ming_eval.transport.retry`).
Names are imported on first use, so the retry policy does not import the chat client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ming_eval.transport.openai_chat import (
        ChatConfig,
        EndpointSetupError,
        EndpointUnavailable,
        ImageEncoding,
        OpenAIChat,
        RequestRefused,
        TransportError,
        chat_messages,
        image_data_url,
        normalize_base_url,
        public_url,
    )
    from ming_eval.transport.retry import RetryPolicy, retry_after_seconds

_EXPORTS = {
    "ChatConfig": "ming_eval.transport.openai_chat",
    "EndpointSetupError": "ming_eval.transport.openai_chat",
    "EndpointUnavailable": "ming_eval.transport.openai_chat",
    "ImageEncoding": "ming_eval.transport.openai_chat",
    "OpenAIChat": "ming_eval.transport.openai_chat",
    "RequestRefused": "ming_eval.transport.openai_chat",
    "TransportError": "ming_eval.transport.openai_chat",
    "chat_messages": "ming_eval.transport.openai_chat",
    "image_data_url": "ming_eval.transport.openai_chat",
    "normalize_base_url": "ming_eval.transport.openai_chat",
    "public_url": "ming_eval.transport.openai_chat",
    "RetryPolicy": "ming_eval.transport.retry",
    "retry_after_seconds": "ming_eval.transport.retry",
}

__all__ = [
    "ChatConfig",
    "EndpointSetupError",
    "EndpointUnavailable",
    "ImageEncoding",
    "OpenAIChat",
    "RequestRefused",
    "RetryPolicy",
    "TransportError",
    "chat_messages",
    "image_data_url",
    "normalize_base_url",
    "public_url",
    "retry_after_seconds",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ming_eval.transport' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
