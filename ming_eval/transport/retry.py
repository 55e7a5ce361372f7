"""When to try a network request again: exponential backoff with jitter, ``Retry-After`` honoured.

One policy for every network call of the project: the OpenAI-compatible chat transport
(:mod:`ming_eval.transport.openai_chat`) and data downloads (:mod:`ming_eval.data.files`).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Headers(Protocol):
    """Response headers, looked up without regard to case (httpx, urllib and email messages)."""

    def get(self, name: str, /) -> Any: ...


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first try. Retry ``n`` (0-based) waits ``backoff_s * 2**n``
    seconds, capped at ``max_backoff_s``, of which the last ``jitter`` fraction is drawn at random so
    that concurrent clients do not come back in step. A server's ``Retry-After`` replaces the backoff
    (never shortened, stretched by up to a quarter for the same reason), capped at
    ``max_retry_after_s``."""

    max_retries: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    jitter: float = 0.5
    max_retry_after_s: float = 120.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    @property
    def tries(self) -> int:
        return self.max_retries + 1

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        if retry_after is not None:
            return min(retry_after * (1.0 + 0.25 * self.random()), self.max_retry_after_s)
        base = min(self.backoff_s * 2.0**retry, self.max_backoff_s)
        return base * (1.0 - self.jitter * self.random())

    def sleep(self, retry: int, retry_after: float | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        sleep(self.delay(retry, retry_after))


def retry_after_seconds(headers: Headers | None, now: float | None = None) -> float | None:
    """The wait a server asks for in ``Retry-After`` (seconds or an HTTP date; OpenAI's
    ``retry-after-ms`` too), or None when it asks for none or the value cannot be read."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(float(millis) / 1000.0, 0.0)
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)
