"""A grader behind any OpenAI-compatible multimodal chat endpoint (vLLM, SGLang, LMDeploy, OpenAI).

Each request goes out as one chat: the request's system prompt, then its text and images in order,
images as data URLs (PNG, or JPEG at a quality: the spec's ``image_format``), the system prompt as a
string or a one-part list (``system_content``). Requests of a batch run concurrently, at most
``max_concurrency`` in flight;
retries, ``Retry-After`` and the circuit breaker are :class:`~ming_eval.transport.OpenAIChat`'s. A
request that gets no reply (an outage, a refusal, a body that is not a completion) comes back as
``GraderReply(error=...)``, which the engine records as ``judge_unavailable`` and asks again on the
next run; it is never cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ming_eval.core.sample import UnderstandRequest
from ming_eval.graders.base import DecodeSettings, EndpointSpec, Grader, GraderReply, ReplyStore
from ming_eval.transport.openai_chat import (
    ChatConfig,
    ImageEncoding,
    OpenAIChat,
    TransportError,
    chat_messages,
    decoding_params,
    public_url,
)
from ming_eval.transport.retry import RetryPolicy


class EndpointGrader(Grader):
    """Text replies from an OpenAI-compatible endpoint. Raises :class:`~ming_eval.errors.MingEvalError`
    at construction when the endpoint cannot be used at all (no openai package; no key and no URL)."""

    def __init__(self, spec: EndpointSpec, cache: ReplyStore | None = None) -> None:
        super().__init__()
        config = ChatConfig.from_env(
            spec.model,
            base_url=spec.base_url,
            api_key_env=spec.api_key_env,
            label="grader",
            timeout_s=spec.timeout_s,
            retry=RetryPolicy(max_retries=spec.max_retries),
            max_concurrency=spec.max_concurrency,
        )
        self.spec = spec
        self.transport = OpenAIChat(config)
        self.transport.sdk()  # a missing openai package is a setup error, raised now
        self.identity = f"endpoint:{spec.model}@{public_url(config.endpoint)}"
        self.cache = cache
        self.encoding = ImageEncoding(spec.image_format, spec.jpeg_quality)

    @property
    def cache_scope(self) -> str:
        scope = self.spec.reply_scope()
        return f"{self.identity}|{scope}" if scope else self.identity

    def params(self, settings: DecodeSettings) -> dict[str, Any]:
        """The decoding fields sent with every request (length and temperature as the model takes them)."""
        return {**decoding_params(self.spec.model, settings.max_tokens, settings.temperature), **dict(settings.extra)}

    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        params = self.params(settings)
        # images are encoded on the pool too, so encoding overlaps with waiting on the server
        futures = self.transport.map(lambda request: self._ask(request, params), requests)
        return [f.result() for f in futures]

    def _ask(self, request: UnderstandRequest, params: Mapping[str, Any]) -> GraderReply:
        messages = chat_messages(
            request.system, request.content, self.encoding, system_as_parts=self.spec.system_content == "parts"
        )
        try:
            return GraderReply(text=self.transport.complete(messages, params))
        except TransportError as exc:
            return GraderReply(error=str(exc))

    def close(self) -> None:
        self.transport.close()
