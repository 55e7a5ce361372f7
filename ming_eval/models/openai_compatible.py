"""Any model served behind an OpenAI-compatible chat endpoint (vLLM, SGLang, LMDeploy, the OpenAI API).

The card's ``checkpoint`` is the served model name (so ``--checkpoint`` evaluates another model on
the same server). The endpoint and key come from the card's options or the openai SDK's environment
variables (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``); the key itself is never written in a card or a
run manifest: ``options.api_key_env`` names the variable that holds it.

Images travel as base64 ``data:`` URLs inside the chat message, in their place among the text parts.
Requests run in a bounded thread pool (``max_concurrency``); 429, 5xx, timeouts and dropped
connections are retried with exponential backoff (honouring ``Retry-After``); 401/403 stop the run
with a clear error. Answers already received are kept, so when the runner retries a batch after one
sample failed, the others are not asked again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ming_eval.cards.schema import ModelCard, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, ImagePart, UnderstandRequest
from ming_eval.errors import MingEvalError
from ming_eval.models.text_generation import sampling, system_prompt

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
    #: retries of a request after 429 / 5xx / timeout / connection errors
    max_retries: int = Field(6, ge=0)
    #: first backoff in seconds; doubles each retry up to max_backoff_s (a Retry-After header wins)
    backoff_s: float = Field(1.0, ge=0)
    max_backoff_s: float = Field(60.0, ge=0)
    #: the request field for the answer length (newer OpenAI models want max_completion_tokens)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    #: how images are encoded into data URLs
    image_format: Literal["png", "jpeg"] = "png"
    #: extra JSON fields for the server (e.g. vLLM's {"top_k": 1} or {"repetition_penalty": 1.0})
    extra_body: dict[str, Any] = {}
    #: check at start-up that the endpoint answers /models with this key and serves the model
    preflight: bool = True


def image_data_url(img: Image.Image, fmt: str = "png") -> str:
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.convert("RGB").save(buf, format="JPEG", quality=95)
    else:
        img.save(buf, format="PNG")
    mime = "image/jpeg" if fmt == "jpeg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def chat_messages(request: UnderstandRequest, protocol: UnderstandProtocol, image_format: str) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for part in request.content:
        if isinstance(part, ImagePart):
            url = image_data_url(part.image.load(), image_format)
            content.append({"type": "image_url", "image_url": {"url": url}})
        elif part.text:
            content.append({"type": "text", "text": part.text})
    messages: list[dict[str, Any]] = []
    system = system_prompt(protocol, request)
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": content})
    return messages


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class OpenAICompatibleAdapter(BaseModelAdapter):
    """Understanding through an OpenAI-compatible ``/chat/completions`` endpoint."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = OpenAICompatibleOptions

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        import openai

        assert isinstance(options, OpenAICompatibleOptions)
        self.opts = options
        if not self.checkpoint:
            raise EndpointError(
                f"model {card.name} names no served model",
                hint="set `checkpoint:` in the card (or --checkpoint) to the model name the server serves",
            )
        self.served_model: str = self.checkpoint
        base_url = options.base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(options.api_key_env)
        if not key:
            if base_url is None:
                raise EndpointError(
                    f"no API key: ${options.api_key_env} is not set and no base_url is given",
                    hint=f"export {options.api_key_env}=..., or point options.base_url / OPENAI_BASE_URL "
                    "at a local server",
                )
            key = "EMPTY"  # local servers (vLLM, SGLang, LMDeploy) accept any key unless started with one
        self.base_url = base_url
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=options.timeout_s, max_retries=0)
        self._pool = ThreadPoolExecutor(max_workers=options.max_concurrency, thread_name_prefix="openai-compatible")
        self._answers: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep
        if options.preflight:
            self._preflight()

    # -- errors ---------------------------------------------------------------------------------

    def _where(self) -> str:
        return self.base_url or "the OpenAI API"

    def _auth_error(self, exc: Exception) -> EndpointError:
        return EndpointError(
            f"{self._where()} refused the API key ({type(exc).__name__}: {exc})",
            hint=f"check ${self.opts.api_key_env} (the key the server was started with, for local servers)",
        )

    def _preflight(self) -> None:
        import openai

        try:
            served = [m.id for m in self.client.models.list()]
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise self._auth_error(exc) from exc
        except openai.NotFoundError:
            return  # some servers have no /models route; the first request will tell
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise EndpointError(
                f"cannot reach {self._where()}: {type(exc).__name__}: {exc}",
                hint="start the server, or fix options.base_url / OPENAI_BASE_URL (it should end in /v1)",
            ) from exc
        except openai.APIError:
            return
        if served and self.served_model not in served:
            raise EndpointError(
                f"{self._where()} does not serve {self.served_model!r}; it serves: {', '.join(served[:20])}",
                hint="set the card's checkpoint (or --checkpoint) to one of these names",
            )

    # -- requests -------------------------------------------------------------------------------

    def payload(self, request: UnderstandRequest, protocol: UnderstandProtocol) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.served_model,
            "messages": chat_messages(request, protocol, self.opts.image_format),
            self.opts.max_tokens_field: protocol.max_new_tokens,
            "temperature": protocol.temperature if sampling(protocol) else 0.0,
        }
        if sampling(protocol):
            if protocol.top_p is not None:
                body["top_p"] = protocol.top_p
            body["seed"] = request.seed
        return body

    def _call(self, body: dict[str, Any]) -> str:
        import openai

        key = hashlib.sha256(json.dumps([body, self.opts.extra_body], sort_keys=True).encode()).hexdigest()
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        delay = self.opts.backoff_s
        for attempt in range(self.opts.max_retries + 1):
            try:
                response = self.client.chat.completions.create(**body, extra_body=self.opts.extra_body or None)
                break
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise self._auth_error(exc) from exc
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APITimeoutError,
                openai.APIConnectionError,
            ) as exc:
                if attempt == self.opts.max_retries:
                    raise EndpointError(
                        f"{self._where()} failed {attempt + 1} times: {type(exc).__name__}: {exc}",
                        hint="the server is overloaded or down; lower options.max_concurrency or retry later",
                    ) from exc
                wait = _retry_after(exc)
                self.sleep(min(self.opts.max_backoff_s, wait if wait is not None else delay))
                delay = min(self.opts.max_backoff_s, max(delay, 1e-3) * 2)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice is not None and choice.message is not None else None) or ""
        with self._lock:
            self._answers[key] = text
            while len(self._answers) > CACHE_SIZE:
                self._answers.popitem(last=False)
        return text

    def _answer(self, request: UnderstandRequest, protocol: UnderstandProtocol) -> str:
        return self._call(self.payload(request, protocol))

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        # images are encoded in the pool too, so encoding overlaps with waiting on the server
        futures = [self._pool.submit(self._answer, r, protocol) for r in requests]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
