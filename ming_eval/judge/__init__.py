"""LLM judges: a client on the OpenAI-compatible transport (:mod:`ming_eval.transport`) with an on-disk
reply cache."""

from ming_eval.errors import JudgeUnavailableError
from ming_eval.judge.cache import JudgeCache, cache_key, default_cache_dir
from ming_eval.judge.client import (
    JUDGE_ALIASES,
    JudgeClient,
    JudgeConfig,
    JudgeRequestError,
    normalize_base_url,
    resolve_model,
)

__all__ = [
    "JUDGE_ALIASES",
    "JudgeCache",
    "JudgeClient",
    "JudgeConfig",
    "JudgeRequestError",
    "JudgeUnavailableError",
    "cache_key",
    "default_cache_dir",
    "normalize_base_url",
    "resolve_model",
]
