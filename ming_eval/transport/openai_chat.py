"""One client for OpenAI-compatible ``/chat/completions`` endpoints (vLLM, SGLang, LMDeploy, OpenAI).

The LLM judge (:mod:`ming_eval.judge`), the endpoint grader (:mod:`ming_eval.graders.endpoint`) and
the ``openai-compatible`` model adapter all call endpoints through :class:`OpenAIChat`; this module
holds the project's only retry loop for them. What a failure means for the rest of the run:

* 401 / 403 / 404, and an endpoint that still cannot be reached after the retries: the endpoint is
  unusable; it is given up (every later call fails at once with the same message).
* 429, 408, 409, 5xx, timeouts, and a 200 whose body is not a chat completion (a proxy's HTML page,
  truncated JSON, no ``choices``): retried with :class:`~ming_eval.transport.retry.RetryPolicy`
  (``Retry-After`` honoured). A request that still fails is unavailable
  (:class:`EndpointUnavailable`); after ``max_consecutive_failures`` such requests in a row the
  endpoint is given up (a circuit breaker).
* 400 / 422 and other 4xx: this request alone is refused (:class:`RequestRefused`), e.g. a prompt
  over the context window.

The openai SDK does the HTTP (proxies, keep-alive, TLS, error statuses) with its own retries off,
through its raw route (``client.post(..., cast_to=str)``): the body of every reply is checked here, so
a bad body is a transport failure, never a crash in a scorer.
Messages name the endpoint by its URL without credentials; the API key never leaves the client.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from PIL import Image

from ming_eval.core.sample import ImagePart, TextPart
from ming_eval.errors import MingEvalError
from ming_eval.redaction import MIN_SECRET_LENGTH, PLACEHOLDER_KEYS, REDACTED, redact_text
from ming_eval.transport.retry import RetryPolicy, retry_after_seconds

BASE_URL_ENV = "OPENAI_BASE_URL"
LEGACY_BASE_URL_ENV = "OPENAI_API_BASE"  # VLMEvalKit's variable (a full /chat/completions URL)
API_KEY_ENV = "OPENAI_API_KEY"
PUBLIC_API = "https://api.openai.com/v1"
NO_KEY = "EMPTY"  # local servers (vLLM, SGLang, LMDeploy) accept any key unless started with one

T = TypeVar("T")
R = TypeVar("R")


class TransportError(MingEvalError):
    """A chat request that got no reply. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class RequestRefused(TransportError):
    """The endpoint refused this one request (400, 422, another 4xx); other requests may succeed."""


class EndpointUnavailable(TransportError):
    """No reply after every retry, or the endpoint was given up (``given_up``) for this run."""

    def __init__(
        self, message: str, *, hint: str | None = None, status: int | None = None, given_up: bool = False
    ) -> None:
        super().__init__(message, hint=hint, status=status)
        self.given_up = given_up


class EndpointSetupError(MingEvalError):
    """The endpoint cannot be used as configured (no openai package, no key and no URL)."""


class InvalidReply(Exception):
    """A 200 whose body is not a chat completion (internal: retried like a 5xx)."""


def normalize_base_url(url: str) -> str:
    """The API root: trailing slashes and a ``/chat/completions`` (or ``/completions``) tail removed."""
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def public_url(url: str) -> str:
    """``url`` as it may be shown and stored: no user, password, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connection_from_env(base_url: str | None, api_key_env: str = API_KEY_ENV) -> tuple[str | None, str | None]:
    """(base URL, API key) from an explicit URL or ``$OPENAI_BASE_URL`` / ``$OPENAI_API_BASE``, and
    the variable ``api_key_env``; either is None when unset. The URL comes back normalised."""
    url = base_url or os.environ.get(BASE_URL_ENV) or os.environ.get(LEGACY_BASE_URL_ENV) or None
    key = os.environ.get(api_key_env) or None
    return (normalize_base_url(url) if url else None), key


def reasoning_model(model: str) -> bool:
    """OpenAI's reasoning models take ``max_completion_tokens`` and no temperature."""
    return any(tag in model for tag in ("o1", "o3", "o4", "gpt-5"))


def decoding_params(model: str, max_tokens: int, temperature: float) -> dict[str, Any]:
    """The length and temperature fields as ``model`` takes them (as VLMEvalKit sends them)."""
    if reasoning_model(model):
        return {"max_completion_tokens": max_tokens}
    return {"max_tokens": max_tokens, "temperature": temperature}


@dataclass(frozen=True)
class ImageEncoding:
    """How images go into data URLs: PNG (lossless), or JPEG at ``quality`` (Pillow's scale; its own
    default is 75, what a bare ``save(format="JPEG")`` writes)."""

    format: Literal["png", "jpeg"] = "png"
    quality: int = 95

    @property
    def mime(self) -> str:
        return "image/jpeg" if self.format == "jpeg" else "image/png"


def image_data_url(img: Image.Image, encoding: ImageEncoding = ImageEncoding()) -> str:
    """The image as a base64 ``data:`` URL in ``encoding`` (JPEG converts to RGB first)."""
    buf = io.BytesIO()
    if encoding.format == "jpeg":
        img.convert("RGB").save(buf, format="JPEG", quality=encoding.quality)
    else:
        img.save(buf, format="PNG")
    return f"data:{encoding.mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def chat_messages(
    system: str | None,
    parts: Iterable[TextPart | ImagePart],
    encoding: ImageEncoding = ImageEncoding(),
    *,
    system_as_parts: bool = False,
) -> list[dict[str, Any]]:
    """A system message (when given) and one user message with the parts in order, images as data URLs.
    The system content is a string, or with ``system_as_parts`` a one-item list of one text part (as
    some upstream scripts send it, e.g. WISE's)."""
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ImagePart):
            url = image_data_url(part.image.load(), encoding)
            content.append({"type": "image_url", "image_url": {"url": url}})
        elif part.text:
            content.append({"type": "text", "text": part.text})
    messages: list[dict[str, Any]] = []
    if system is not None:
        system_content: str | list[dict[str, Any]] = [{"type": "text", "text": system}] if system_as_parts else system
        messages.append({"role": "system", "content": system_content})
    messages.append({"role": "user", "content": content})
    return messages


def completion_text(body: str) -> str:
    """The first choice's text from a chat-completion body; :class:`InvalidReply` when the body is
    not one. A choice whose content is null (a tool call, a filtered reply) gives ``""``."""
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidReply(f"not JSON: {_snippet(body)}") from None
    if not isinstance(data, dict):
        raise InvalidReply(f"not a JSON object: {_snippet(body)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        why = f"an error: {_snippet(json.dumps(error))}" if error else f"no choices: {_snippet(body)}"
        raise InvalidReply(why)
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise InvalidReply(f"the first choice has no message: {_snippet(body)}")
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers answer in parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise InvalidReply(f"the message content is a {type(content).__name__}")


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat[:limit] + ("..." if len(flat) > limit else "") if flat else "(empty body)"


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def _detail(exc: BaseException) -> str:
    """What the server or the SDK said: an error body's message when there is one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return _snippet(body["message"], 300)
    if isinstance(body, str) and body.strip():
        return _snippet(body, 300)
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


@dataclass(frozen=True)
class ChatConfig:
    """One endpoint and model, and how hard to try. ``api_key`` never reaches a message or a repr;
    ``api_key_env`` (the variable it came from) is what hints name."""

    model: str
    base_url: str | None = None
    api_key: str = field(default=NO_KEY, repr=False)
    api_key_env: str = API_KEY_ENV
    #: how messages name the client: "judge", "model", "grader"
    label: str = "endpoint"
    timeout_s: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: requests in flight at once, whatever the number of calling threads
    max_concurrency: int = 16
    #: requests in a row that fail after every retry before the endpoint is given up
    max_consecutive_failures: int = 5
    #: JSON fields sent with every request (e.g. vLLM's {"top_k": 1})
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.base_url or PUBLIC_API

    @property
    def where(self) -> str:
        return f"{self.label} {self.model} at {public_url(self.endpoint)}"

    @classmethod
    def configured(
        cls, model: str, *, base_url: str | None = None, api_key_env: str = API_KEY_ENV, **kwargs: Any
    ) -> ChatConfig | None:
        """A config from options and the environment (:func:`connection_from_env`), or None when
        nothing names an endpoint (no key and no URL). A missing key is fine for an explicit server
        (local servers take any key). The one place the judge, the grader and the model adapter
        resolve where an endpoint is and with which key."""
        url, key = connection_from_env(base_url, api_key_env)
        if key is None and url is None:
            return None
        return cls(model=model, base_url=url, api_key=key or NO_KEY, api_key_env=api_key_env, **kwargs)

    @classmethod
    def from_env(
        cls, model: str, *, base_url: str | None = None, api_key_env: str = API_KEY_ENV, **kwargs: Any
    ) -> ChatConfig:
        """:meth:`configured`, with :class:`EndpointSetupError` when nothing is configured."""
        config = cls.configured(model, base_url=base_url, api_key_env=api_key_env, **kwargs)
        if config is None:
            raise EndpointSetupError(
                f"no API key: ${api_key_env} is not set and no base URL is given",
                hint=f"export {api_key_env}=..., or point the base URL (or ${BASE_URL_ENV}) at a local server",
            )
        return config


class OpenAIChat:
    """Thread-safe: call :meth:`complete` from any number of threads; at most ``max_concurrency``
    requests are in flight at once."""

    def __init__(self, config: ChatConfig) -> None:
        self.config = config
        self.sleep: Callable[[float], None] = time.sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._failures = 0
        self._dead: TransportError | None = None

    # -- state ----------------------------------------------------------------------------------

    @property
    def unusable(self) -> str | None:
        """Why the endpoint was given up (with the hint), or None while it is usable."""
        return str(self._dead) if self._dead is not None else None

    def _raise_if_dead(self) -> None:
        dead = self._dead
        if dead is not None:
            raise EndpointUnavailable(dead.message, hint=dead.hint, status=dead.status, given_up=True)

    def _give_up(self, message: str, *, hint: str, status: int | None = None) -> EndpointUnavailable:
        with self._lock:
            if self._dead is None:
                self._dead = EndpointUnavailable(message, hint=hint, status=status, given_up=True)
        return EndpointUnavailable(message, hint=hint, status=status, given_up=True)

    def _key_refused(self, exc: Exception) -> EndpointUnavailable:
        """Give the endpoint up for a 401 (the key) or a 403 (the key may not use the model)."""
        import openai

        where = self.config.where
        if isinstance(exc, openai.AuthenticationError):
            return self._give_up(
                f"{where} rejected the API key (401): {self._detail(exc)}",
                hint=f"set ${self.config.api_key_env} to the key the server takes (for a local server, the key "
                "it was started with)",
                status=401,
            )
        return self._give_up(
            f"{where} refused access (403): {self._detail(exc)}",
            hint="check that the key may use this model",
            status=403,
        )

    def _scrub(self, text: str) -> str:
        """``text`` with the API key (should a server echo it) and any other credential redacted."""
        key = self.config.api_key
        if len(key) >= MIN_SECRET_LENGTH and key not in PLACEHOLDER_KEYS:
            text = text.replace(key, REDACTED)
        return redact_text(text)

    def _detail(self, exc: BaseException) -> str:
        return self._scrub(_detail(exc))

    def sdk(self) -> Any:
        """The openai SDK client (made on first use, its own retries off)."""
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ModuleNotFoundError as exc:
                    raise EndpointSetupError(
                        f"the {self.config.label} needs the openai package", hint="pip install 'ming-eval[judge]'"
                    ) from exc
                self._client = openai.OpenAI(
                    api_key=self.config.api_key,
                    base_url=self.config.endpoint,
                    timeout=self.config.timeout_s,
                    max_retries=0,
                )
            return self._client

    # -- calls ----------------------------------------------------------------------------------

    def complete(self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None) -> str:
        """The reply text to ``messages`` sent with ``params`` (decoding fields such as
        ``max_tokens``, ``temperature``, ``seed``) and the config's ``extra_body``.

        Raises :class:`RequestRefused` (this request only), :class:`EndpointUnavailable` (retries
        spent, or the endpoint given up) or :class:`EndpointSetupError`.
        """
        client = self.sdk()
        import openai

        cfg = self.config
        body = {**cfg.extra_body, **(params or {})}
        where = cfg.where
        policy = cfg.retry
        last = "no attempt made"
        status: int | None = None
        for attempt in range(policy.tries):
            self._raise_if_dead()
            retry_after: float | None = None
            try:
                with self._slots:
                    # the SDK's raw route: the body as it is (no typed transform), the reply as text
                    text = client.post(
                        "/chat/completions",
                        cast_to=str,
                        body={**body, "model": cfg.model, "messages": [dict(m) for m in messages]},
                    )
                reply = completion_text(text)
                with self._lock:
                    self._failures = 0
                return reply
            except InvalidReply as exc:
                status = 200
                last = f"HTTP 200 with a body that is not a chat completion ({self._scrub(str(exc))})"
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise self._key_refused(exc) from exc
            except openai.NotFoundError as exc:
                raise self._give_up(
                    f"{where} answered 404 (unknown model or wrong URL): {self._detail(exc)}",
                    hint="the base URL must be the API root ending in /v1 (not .../chat/completions), and the "
                    "model must be one the server serves",
                    status=404,
                ) from exc
            except openai.APITimeoutError:
                status = None
                last = f"timed out after {cfg.timeout_s:g} s"
            except openai.APIConnectionError as exc:
                status = None
                last = f"cannot connect: {self._detail(exc)}"
                if attempt == policy.max_retries:
                    raise self._give_up(
                        f"{where} cannot be reached after {_tries(policy.tries)}: {self._detail(exc)}",
                        hint=f"check the base URL (or ${BASE_URL_ENV}) and that the server is running",
                    ) from exc
            except openai.APIStatusError as exc:
                code = exc.status_code
                if code not in (408, 409, 429) and code < 500:
                    raise RequestRefused(
                        f"{where} refused the request ({code}): {self._detail(exc)}", status=code
                    ) from exc
                status = code
                last = f"HTTP {code}: {self._detail(exc)}"
                retry_after = retry_after_seconds(getattr(exc.response, "headers", None))
            if attempt < policy.max_retries:
                self.sleep(policy.delay(attempt, retry_after))
        with self._lock:
            self._failures += 1
            failures = self._failures
        message = f"{where} failed after {_tries(policy.tries)}: {last}"
        if failures >= cfg.max_consecutive_failures:
            raise self._give_up(
                f"{message}; {failures} requests in a row failed, giving up on it for this run",
                hint="run the same command again later: what was answered is kept and only the rest is asked",
                status=status,
            )
        raise EndpointUnavailable(message, status=status)

    def served_models(self) -> list[str] | None:
        """The model names the endpoint serves (``GET /models``), or None when it does not say.
        A refused key or an endpoint that cannot be reached gives the endpoint up and raises."""
        client = self.sdk()
        import openai

        where = self.config.where
        try:
            data = json.loads(client.get("/models", cast_to=str)).get("data")
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise self._key_refused(exc) from exc
        except openai.APIConnectionError as exc:  # timeouts included
            raise self._give_up(
                f"{where} cannot be reached: {self._detail(exc)}",
                hint=f"start the server, or fix the base URL (or ${BASE_URL_ENV}); it should end in /v1",
            ) from exc
        except (openai.APIError, ValueError, AttributeError):
            return None  # no /models route (404) or no readable list: the first request will tell
        if not isinstance(data, list):
            return None
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Future[R]]:
        """``fn`` over ``items`` on the client's pool of ``max_concurrency`` threads (work around a
        request, such as encoding images, overlaps with waiting on the server)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.config.max_concurrency, thread_name_prefix=f"openai-{self.config.label}"
                )
            pool = self._pool
        return [pool.submit(fn, item) for item in items]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            client, self._client = self._client, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            with contextlib.suppress(Exception):  # closing a pool must never mask the real outcome
                client.close()
