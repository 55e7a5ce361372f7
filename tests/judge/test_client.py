from __future__ import annotations

import pytest

from ming_eval.errors import JudgeUnavailableError
from ming_eval.judge.cache import JudgeCache
from ming_eval.judge.client import JudgeClient, JudgeConfig, JudgeRequestError, normalize_base_url, resolve_model
from tests.fakes.openai_server import FakeOpenAI


def client_for(fake: FakeOpenAI, tmp_path, **kw) -> JudgeClient:
    cfg = JudgeConfig(
        model="judge-x",
        base_url=fake.url,
        api_key="sk-test",
        timeout_s=kw.pop("timeout_s", 5),
        max_retries=kw.pop("max_retries", 2),
        backoff_s=0.01,
        backoff_max_s=0.02,
        **kw,
    )
    return JudgeClient(cfg, JudgeCache(tmp_path / "cache"))


def test_reply_is_stripped_cached_and_sent_with_parameters(tmp_path):
    with FakeOpenAI(lambda prompt, body: "  B \n") as fake:
        client = client_for(fake, tmp_path)
        assert client.complete("q?", temperature=0.0, max_tokens=16) == "B"
        assert client.complete("q?", temperature=0.0, max_tokens=16) == "B"
        assert len(fake.bodies) == 1  # the second answer came from the cache
        body = fake.bodies[0]
        assert body["model"] == "judge-x" and body["temperature"] == 0.0 and body["max_tokens"] == 16
        # a new attempt number is a new question
        client.complete("q?", attempt=1)
        assert len(fake.bodies) == 2
        client.close()
    # the cache outlives the server
    again = JudgeClient(
        JudgeConfig(model="judge-x", base_url="http://127.0.0.1:9/v1", api_key="k"), JudgeCache(tmp_path / "cache")
    )
    assert again.complete("q?", temperature=0.0, max_tokens=16) == "B"


def test_429_then_success_is_retried(tmp_path):
    state = {"n": 0}

    def responder(prompt, body):
        state["n"] += 1
        return (429, "slow down") if state["n"] < 3 else "A"

    with FakeOpenAI(responder) as fake:
        assert client_for(fake, tmp_path, max_retries=3).complete("p") == "A"
        assert len(fake.bodies) == 3


def test_5xx_exhausted_is_unavailable_and_trips_breaker(tmp_path):
    with FakeOpenAI(lambda p, b: (503, "overloaded")) as fake:
        client = client_for(fake, tmp_path, max_retries=1, max_consecutive_failures=2)
        with pytest.raises(JudgeUnavailableError, match="failed after 2 tries: HTTP 503"):
            client.complete("p1")
        with pytest.raises(JudgeUnavailableError, match="giving up"):
            client.complete("p2")
        n = len(fake.bodies)
        with pytest.raises(JudgeUnavailableError, match="giving up"):
            client.complete("p3")
        assert len(fake.bodies) == n  # given up: no more calls
        assert client.unusable


def test_401_gives_up_at_once_with_hint(tmp_path):
    with FakeOpenAI(lambda p, b: (401, "invalid key")) as fake:
        client = client_for(fake, tmp_path)
        with pytest.raises(JudgeUnavailableError) as err:
            client.complete("p")
        assert "401" in str(err.value) and "OPENAI_API_KEY" in str(err.value)
        with pytest.raises(JudgeUnavailableError):
            client.complete("other")
        assert len(fake.bodies) == 1


def test_404_names_the_base_url_rule(tmp_path):
    with FakeOpenAI(lambda p, b: (404, "model not found")) as fake, pytest.raises(JudgeUnavailableError, match="/v1"):
        client_for(fake, tmp_path).complete("p")


def test_400_refuses_only_that_request(tmp_path):
    def responder(prompt, body):
        return (400, "context length exceeded") if "long" in prompt else "ok"

    with FakeOpenAI(responder) as fake:
        client = client_for(fake, tmp_path)
        with pytest.raises(JudgeRequestError, match="400"):
            client.complete("long prompt")
        assert client.complete("short") == "ok"
        assert client.unusable is None


def test_timeout_is_retried_then_unavailable(tmp_path):
    with FakeOpenAI(lambda p, b: ("sleep", 1.0, "late")) as fake:
        client = client_for(fake, tmp_path, timeout_s=0.2, max_retries=1)
        with pytest.raises(JudgeUnavailableError, match="timed out"):
            client.complete("p")
        assert len(fake.bodies) == 2


def test_unreachable_endpoint_gives_up(tmp_path):
    cfg = JudgeConfig(
        model="m", base_url="http://127.0.0.1:9/v1", api_key="k", timeout_s=1, max_retries=1, backoff_s=0.01
    )
    client = JudgeClient(cfg, JudgeCache(tmp_path))
    with pytest.raises(JudgeUnavailableError, match="cannot be reached"):
        client.complete("p")
    assert client.unusable


def test_config_from_env(monkeypatch):
    assert JudgeConfig.from_env("gpt-4o-mini") is None  # nothing configured
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    cfg = JudgeConfig.from_env("gpt-4o-mini")
    assert cfg is not None and cfg.model == "gpt-4o-mini-2024-07-18" and cfg.endpoint == "https://api.openai.com/v1"
    assert "sk-abc" not in repr(cfg)
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_BASE", "http://localhost:8000/v1/chat/completions")
    cfg = JudgeConfig.from_env("Qwen2.5-72B")
    assert cfg is not None and cfg.base_url == "http://localhost:8000/v1" and cfg.api_key == "EMPTY"


def test_names():
    assert resolve_model("gpt-4-turbo") == "gpt-4-1106-preview"
    assert resolve_model("my-local") == "my-local"
    assert normalize_base_url("http://h/v1/") == "http://h/v1"


def test_a_proxy_page_is_unavailable_and_not_cached(tmp_path):
    from tests.fakes.openai_server import HTML_PAGE

    with FakeOpenAI(lambda p, b: "A") as fake:
        fake.script["q"] = [HTML_PAGE, HTML_PAGE]
        client = client_for(fake, tmp_path, max_retries=1)
        with pytest.raises(JudgeUnavailableError, match="not a chat completion"):
            client.complete("q?")
        assert client.complete("q?") == "A"  # the failure was not cached; the server now answers
        assert fake.attempts["q"] == 3
