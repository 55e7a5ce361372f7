"""Network transports: the OpenAI-compatible chat client and the retry policy every network call
shares (see :mod:`ming_eval.transport.openai_chat` and :mod:`ming_eval.transport.retry`)."""

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
