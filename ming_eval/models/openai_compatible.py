"""Any model served behind an OpenAI-compatible chat endpoint (vLLM, SGLang, LMDeploy, the OpenAI API).

The card's ``checkpoint`` is the served model name (so ``--checkpoint`` evaluates another model on
the same server). The endpoint and key come from the card's options or the openai SDK's environment
variables (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``); the key itself is never written in a card or a
run manifest: ``options.api_key_env`` names the variable that holds it.

Images travel as base64 ``data:`` URLs inside the chat message, in their place among the text parts.
Requests run on the transport's bounded pool (``max_concurrency``); retries (429, 5xx, timeouts,
dropped connections, bodies that are not a completion), ``Retry-After`` and the circuit breaker are
:class:`~ming_eval.transport.OpenAIChat`'s; 401/403 stop the run with a clear error. Answers already
received are kept, so when the runner retries a batch after one sample failed, the others are not
asked again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ming_eval.cards.schema import ModelCard, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, UnderstandRequest
from ming_eval.errors import MingEvalError
from ming_eval.models.text_generation import sampling, system_prompt
from ming_eval.transport import openai_chat
from ming_eval.transport.openai_chat import ChatConfig, EndpointSetupError, OpenAIChat, TransportError
from ming_eval.transport.retry import RetryPolicy

CACHE_SIZE = 4096


class EndpointError(MingEvalError):
    """The OpenAI-compatible endpoint refused the requests or could not be reached."""


class OpenAICompatibleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: e.g. http://localhost:8000/v1 (vLLM); default $OPENAI_BASE_URL, else the OpenAI API
    base_url: str | None = None
    #: the environment variable holding the API key (never the key itself)
    api_key_env: str = "OPENAI_API_KEY"
    #: requests in flight at once
    max_concurrency: int = Field(8, ge=1, le=1024)
    #: seconds per HTTP request
    timeout_s: float = Field(300.0, gt=0)
    #: retries of a request after 429 / 5xx / timeout / connection errors / a body that is not a completion
    max_retries: int = Field(6, ge=0)
    #: first backoff in seconds; doubles each retry up to max_backoff_s (a Retry-After header wins)
    backoff_s: float = Field(1.0, ge=0)
    max_backoff_s: float = Field(60.0, ge=0)
    #: the request field for the answer length (newer OpenAI models want max_completion_tokens)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    #: how images are encoded into data URLs (JPEG at ``jpeg_quality``)
    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = Field(95, ge=1, le=100)
    #: extra JSON fields for the server (e.g. vLLM's {"top_k": 1} or {"repetition_penalty": 1.0})
    extra_body: dict[str, Any] = {}
    #: check at start-up that the endpoint answers /models with this key and serves the model
    preflight: bool = True


def chat_messages(
    request: UnderstandRequest, protocol: UnderstandProtocol, encoding: openai_chat.ImageEncoding
) -> list[dict[str, Any]]:
    """The request as chat messages, with the card's system prompt winning over the task's."""
    return openai_chat.chat_messages(system_prompt(protocol, request), request.content, encoding)


class OpenAICompatibleAdapter(BaseModelAdapter):
    """Understanding through an OpenAI-compatible ``/chat/completions`` endpoint."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = OpenAICompatibleOptions
    needs_torch: ClassVar[bool] = False

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        assert isinstance(options, OpenAICompatibleOptions)
        self.opts = options
        self.encoding = openai_chat.ImageEncoding(options.image_format, options.jpeg_quality)
        if not self.checkpoint:
            raise EndpointError(
                f"model {card.name} names no served model",
                hint="set `checkpoint:` in the card (or --checkpoint) to the model name the server serves",
            )
        self.served_model: str = self.checkpoint
        try:
            config = ChatConfig.from_env(
                self.served_model,
                base_url=options.base_url,
                api_key_env=options.api_key_env,
                label="model",
                timeout_s=options.timeout_s,
                retry=RetryPolicy(
                    max_retries=options.max_retries, backoff_s=options.backoff_s, max_backoff_s=options.max_backoff_s
                ),
                max_concurrency=options.max_concurrency,
                extra_body=dict(options.extra_body),
            )
            self.transport = OpenAIChat(config)
            self.transport.sdk()  # a missing openai package is a setup error, raised now
        except EndpointSetupError as exc:
            raise EndpointError(exc.message, hint=exc.hint) from None
        self.base_url = config.base_url
        self._answers: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        if options.preflight:
            self._preflight()

    def _preflight(self) -> None:
        try:
            served = self.transport.served_models()
        except (TransportError, EndpointSetupError) as exc:
            raise EndpointError(exc.message, hint=exc.hint) from exc
        if served and self.served_model not in served:
            raise EndpointError(
                f"{openai_chat.public_url(self.transport.config.endpoint)} does not serve {self.served_model!r}; "
                f"it serves: {', '.join(served[:20])}",
                hint="set the card's checkpoint (or --checkpoint) to one of these names",
            )

    # -- requests -------------------------------------------------------------------------------

    def payload(self, request: UnderstandRequest, protocol: UnderstandProtocol) -> dict[str, Any]:
        """The messages and decoding fields of one request (the served model and extra_body are the
        transport's)."""
        params: dict[str, Any] = {
            self.opts.max_tokens_field: protocol.max_new_tokens,
            "temperature": protocol.temperature if sampling(protocol) else 0.0,
        }
        if sampling(protocol):
            if protocol.top_p is not None:
                params["top_p"] = protocol.top_p
            params["seed"] = request.seed
        return {"messages": chat_messages(request, protocol, self.encoding), "params": params}

    def _answer(self, request: UnderstandRequest, protocol: UnderstandProtocol) -> str:
        body = self.payload(request, protocol)
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        try:
            text = self.transport.complete(body["messages"], body["params"])
        except (TransportError, EndpointSetupError) as exc:
            raise EndpointError(exc.message, hint=exc.hint) from exc
        with self._lock:
            self._answers[key] = text
            while len(self._answers) > CACHE_SIZE:
                self._answers.popitem(last=False)
        return text

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        # images are encoded in the pool too, so encoding overlaps with waiting on the server
        futures = self.transport.map(lambda r: self._answer(r, protocol), requests)
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self.transport.close()
