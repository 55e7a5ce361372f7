"""An LLM judge behind any OpenAI-compatible chat endpoint, with a reply cache.

Configuration follows the openai SDK: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` (the base URL ends
in ``/v1``; VLMEvalKit's ``OPENAI_API_BASE`` is the full ``/chat/completions`` URL, which is accepted
and trimmed). A local vLLM or LMDeploy server needs only the base URL. Task options can set both.

Requests go through :class:`~ming_eval.transport.OpenAIChat` (retries with backoff and
``Retry-After``, a circuit breaker; see there what each failure means). For scorers, every failure is
a :class:`JudgeUnavailableError` (the sample is ``judge_unavailable`` and asked again on the next
run), and a request the judge refuses alone (400 / 422) a :class:`JudgeRequestError`.

Replies are cached on disk by (model, sha256(prompt, parameters)) before they are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.errors import JudgeUnavailableError
from ming_eval.judge.cache import JudgeCache
from ming_eval.transport.openai_chat import (
    API_KEY_ENV,
    NO_KEY,
    ChatConfig,
    EndpointSetupError,
    OpenAIChat,
    RequestRefused,
    TransportError,
    decoding_params,
    normalize_base_url,
)
from ming_eval.transport.retry import RetryPolicy

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

__all__ = ["JUDGE_ALIASES", "JudgeClient", "JudgeConfig", "JudgeRequestError", "normalize_base_url", "resolve_model"]


class JudgeRequestError(JudgeUnavailableError):
    """The judge refused this one request (400/422); other requests may still succeed."""


def resolve_model(name: str) -> str:
    """The API model name for a judge name (VLMEvalKit aliases resolved, anything else kept)."""
    return JUDGE_ALIASES.get(name, name)


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how hard to try. ``api_key`` never reaches a manifest or a log."""

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str = API_KEY_ENV
    timeout_s: float = 120.0
    max_retries: int = 6
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_consecutive_failures: int = 5
    max_concurrency: int = 64
    cache_dir: Path | None = None

    @property
    def endpoint(self) -> str:
        return self.chat().endpoint

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
        (no API key and no base URL): the transport's :meth:`ChatConfig.configured` decides."""
        chat = ChatConfig.configured(resolve_model(model), base_url=base_url, api_key_env=api_key_env)
        if chat is None:
            return None
        return cls(
            model=chat.model, base_url=chat.base_url, api_key=chat.api_key, api_key_env=chat.api_key_env, **kwargs
        )

    def chat(self) -> ChatConfig:
        """The transport's config for this judge."""
        return ChatConfig(
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key or NO_KEY,
            api_key_env=self.api_key_env,
            label="judge",
            timeout_s=self.timeout_s,
            retry=RetryPolicy(max_retries=self.max_retries, backoff_s=self.backoff_s, max_backoff_s=self.backoff_max_s),
            max_concurrency=self.max_concurrency,
            max_consecutive_failures=self.max_consecutive_failures,
        )


class JudgeClient:
    """Thread-safe: scorers call :meth:`complete` from a pool of workers."""

    def __init__(self, config: JudgeConfig, cache: JudgeCache | None = None) -> None:
        self.config = config
        self.cache = cache if cache is not None else JudgeCache(config.cache_dir)
        self.transport = OpenAIChat(config.chat())

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def unusable(self) -> str | None:
        """Why the judge was given up, or None while it is usable."""
        return self.transport.unusable

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
        try:
            reply = self.transport.complete(
                [{"role": "user", "content": prompt}], decoding_params(self.model, max_tokens, temperature)
            ).strip()
        except RequestRefused as exc:
            raise JudgeRequestError(exc.message, hint=exc.hint) from exc
        except (TransportError, EndpointSetupError) as exc:
            raise JudgeUnavailableError(exc.message, hint=exc.hint) from exc
        self.cache.put(self.model, prompt, params, reply)
        return reply

    def close(self) -> None:
        self.cache.close()
        self.transport.close()
