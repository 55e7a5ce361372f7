from __future__ import annotations

import email.utils

from ming_eval.transport.retry import RetryPolicy, retry_after_seconds


def test_backoff_doubles_up_to_the_cap_with_jitter_below_it():
    low = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0, jitter=0.5, random=lambda: 1.0)
    high = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0, jitter=0.5, random=lambda: 0.0)
    assert [high.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert [low.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert RetryPolicy(max_retries=3).tries == 4


def test_retry_after_wins_and_is_never_shortened():
    policy = RetryPolicy(backoff_s=10.0, max_retry_after_s=60.0, random=lambda: 1.0)
    assert policy.delay(0, retry_after=2.0) == 2.5  # stretched by up to a quarter, never sooner
    assert policy.delay(3, retry_after=0.0) == 0.0
    assert policy.delay(0, retry_after=3600.0) == 60.0  # capped


def test_retry_after_headers():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=1_000_000.0) == 30.0
    assert retry_after_seconds({"retry-after": date}, now=2_000_000.0) == 0.0
