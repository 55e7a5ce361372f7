"""An LLM judge behind any OpenAI-compatible chat endpoint, with retries, a circuit breaker and a
reply cache.

Configuration follows the openai SDK: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` (the base URL ends
in ``/v1``; VLMEvalKit's ``OPENAI_API_BASE`` is the full ``/chat/completions`` URL, which is accepted
and trimmed). A local vLLM or LMDeploy server needs only the base URL. Task options can set both.

Errors are sorted by what they mean for the rest of the run:

* 401 / 403 / 404 and an endpoint that cannot be reached at all: the judge is unusable; the client
  stops calling it (every later call fails at once with the same message).
* 429, 5xx and timeouts: retried with exponential backoff (``Retry-After`` honoured); a request that
  still fails is unavailable, and after several such requests in a row the judge is given up.
* 400 / 422: this request alone is refused (e.g. a prompt over the context window).

Replies are cached on disk by (model, sha256(prompt, parameters)) before they are returned.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.errors import JudgeUnavailableError
from ming_eval.judge.cache import JudgeCache

# VLMEvalKit's judge names and the API model versions they stand for (vlmeval.dataset.utils.judge_util).
JUDGE_ALIASES: dict[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4-turbo": "gpt-4-1106-preview",
    "gpt-4-0613": "gpt-4-0613",
    "gpt-4-0125": "gpt-4-0125-preview",
    "gpt-4-0409": "gpt-4-turbo-2024-04-09",
    "chatgpt-1106": "gpt-3.5-turbo-1106",
    "chatgpt-0125": "gpt-3.5-turbo-0125",
    "gpt-4o": "gpt-4o-2024-05-13",
    "gpt-4o-0806": "gpt-4o-2024-08-06",
    "gpt-4o-1120": "gpt-4o-2024-11-20",
}

BASE_URL_ENV = "OPENAI_BASE_URL"
LEGACY_BASE_URL_ENV = "OPENAI_API_BASE"  # VLMEvalKit's variable (a full /chat/completions URL)
API_KEY_ENV = "OPENAI_API_KEY"
PUBLIC_API = "https://api.openai.com/v1"


class JudgeRequestError(JudgeUnavailableError):
    """The judge refused this one request (400/422); other requests may still succeed."""


def resolve_model(name: str) -> str:
    """The API model name for a judge name (VLMEvalKit aliases resolved, anything else kept)."""
    return JUDGE_ALIASES.get(name, name)


def normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def _reasoning_model(model: str) -> bool:
    # these take max_completion_tokens and no temperature (as VLMEvalKit's OpenAIWrapper sends them)
    return any(tag in model for tag in ("o1", "o3", "o4", "gpt-5"))


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how hard to try. ``api_key`` never reaches a manifest or a log."""

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 120.0
    max_retries: int = 6
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_consecutive_failures: int = 5
    cache_dir: Path | None = None

    @property
    def endpoint(self) -> str:
        return self.base_url or PUBLIC_API

    @classmethod
    def from_env(
        cls,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = API_KEY_ENV,
        **kwargs: Any,
    ) -> JudgeConfig | None:
        """A config from options and the environment, or None when no judge is configured at all
        (no API key and no base URL)."""
        url = base_url or os.environ.get(BASE_URL_ENV) or os.environ.get(LEGACY_BASE_URL_ENV) or None
        key = os.environ.get(api_key_env) or None
        if url is None and key is None:
            return None
        if key is None:
            key = "EMPTY"  # local OpenAI-compatible servers (vLLM, LMDeploy) accept any key
        return cls(model=resolve_model(model), base_url=normalize_base_url(url) if url else None, api_key=key, **kwargs)


class JudgeClient:
    """Thread-safe: scorers call :meth:`complete` from a pool of workers."""

    def __init__(self, config: JudgeConfig, cache: JudgeCache | None = None) -> None:
        self.config = config
        self.cache = cache if cache is not None else JudgeCache(config.cache_dir)
        self._lock = threading.Lock()
        self._dead: str | None = None
        self._consecutive_failures = 0
        self._client: Any = None

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def unusable(self) -> str | None:
        """Why the judge was given up, or None while it is usable."""
        return self._dead

    def _sdk(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ModuleNotFoundError as exc:
                raise JudgeUnavailableError(
                    "the judge needs the openai package", hint="pip install 'ming-eval[judge]'"
                ) from exc
            self._client = openai.OpenAI(
                api_key=self.config.api_key,
                base_url=self.config.endpoint,
                timeout=self.config.timeout_s,
                max_retries=0,
            )
        return self._client

    def complete(self, prompt: str, *, temperature: float = 0.0, max_tokens: int = 2048, attempt: int = 0) -> str:
        """The judge's reply to ``prompt`` (stripped), from the cache when it has been asked before.

        ``attempt`` numbers repeated questions (VLMEvalKit asks again when a reply cannot be parsed);
        it is part of the cache key, so every attempt is asked once and remembered.
        Raises :class:`JudgeUnavailableError` (or :class:`JudgeRequestError`) with the reason.
        """
        params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if attempt:
            params["attempt"] = attempt
        cached = self.cache.get(self.model, prompt, params)
        if cached is not None:
            return cached
        if self._dead:
            raise JudgeUnavailableError(self._dead)
        reply = self._call(prompt, temperature, max_tokens)
        self.cache.put(self.model, prompt, params, reply)
        return reply

    def _call(self, prompt: str, temperature: float, max_tokens: int) -> str:
        import openai

        client = self._sdk()
        kwargs: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        if _reasoning_model(self.model):
            kwargs["max_completion_tokens"] = max_tokens
        else:
            kwargs["max_tokens"] = max_tokens
            kwargs["temperature"] = temperature
        where = f"judge {self.model} at {self.config.endpoint}"
        last: str = "no attempt made"
        for attempt in range(self.config.max_retries + 1):
            if self._dead:
                raise JudgeUnavailableError(self._dead)
            retry_after: float | None = None
            try:
                response = client.chat.completions.create(**kwargs)
                content = response.choices[0].message.content if response.choices else None
                with self._lock:
                    self._consecutive_failures = 0
                return (content or "").strip()
            except openai.AuthenticationError as exc:
                self._give_up(
                    f"{where} rejected the API key (401): {_detail(exc)}",
                    hint="set OPENAI_API_KEY (or the variable named by the judge_api_key_env option)",
                )
            except openai.PermissionDeniedError as exc:
                self._give_up(
                    f"{where} refused access (403): {_detail(exc)}", hint="check that the key may use this model"
                )
            except openai.NotFoundError as exc:
                self._give_up(
                    f"{where} answered 404 (unknown model or wrong URL): {_detail(exc)}",
                    hint="OPENAI_BASE_URL must be the API root ending in /v1 (not .../chat/completions), and "
                    "the judge option must name a model the server serves",
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                raise JudgeRequestError(f"{where} refused the request ({exc.status_code}): {_detail(exc)}") from exc
            except openai.APITimeoutError:
                last = f"timed out after {self.config.timeout_s:g} s"
            except openai.APIConnectionError as exc:
                last = f"cannot connect: {_detail(exc)}"
                if attempt == self.config.max_retries:
                    self._give_up(
                        f"{where} cannot be reached: {_detail(exc)}",
                        hint="check OPENAI_BASE_URL and that the server is running",
                    )
            except openai.APIStatusError as exc:
                if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
                    raise JudgeRequestError(f"{where} answered {exc.status_code}: {_detail(exc)}") from exc
                last = f"HTTP {exc.status_code}: {_detail(exc)}"
                retry_after = _retry_after(exc)
            if attempt < self.config.max_retries:
                delay = min(self.config.backoff_s * 2**attempt, self.config.backoff_max_s)
                delay = delay * (0.5 + random.random() / 2)  # jitter: spread concurrent retries
                if retry_after is not None:
                    delay = max(delay, min(retry_after, 2 * self.config.backoff_max_s))
                time.sleep(delay)
        with self._lock:
            self._consecutive_failures += 1
            failures = self._consecutive_failures
        message = f"{where} failed after {self.config.max_retries + 1} tries: {last}"
        if failures >= self.config.max_consecutive_failures:
            self._give_up(
                f"{message}; {failures} requests in a row failed, giving up on the judge for this run",
                hint="re-run the same command later: judged samples are cached and only the rest is asked",
            )
        raise JudgeUnavailableError(message)

    def _give_up(self, message: str, *, hint: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = f"{message} (hint: {hint})"
        raise JudgeUnavailableError(message, hint=hint)

    def close(self) -> None:
        self.cache.close()
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a pool must never mask the real outcome
                self._client.close()
            self._client = None


def _detail(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:300] if text else type(exc).__name__


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
