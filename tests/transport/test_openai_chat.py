"""The OpenAI-compatible chat transport against a fake server on 127.0.0.1."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ming_eval.transport.openai_chat import (
    ChatConfig,
    EndpointUnavailable,
    InvalidReply,
    OpenAIChat,
    RequestRefused,
    completion_text,
    public_url,
)
from ming_eval.transport.retry import RetryPolicy
from tests.fakes.openai_server import HTML_PAGE, MODEL, NO_CHOICES, TRUNCATED_JSON, FakeOpenAI, Raw

USER = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeOpenAI() as fake:
        yield fake


def chat_for(fake: FakeOpenAI, **kw) -> OpenAIChat:
    retry = RetryPolicy(max_retries=kw.pop("max_retries", 2), backoff_s=0.0)
    chat = OpenAIChat(ChatConfig(model=MODEL, base_url=fake.url, api_key="sk-abc", timeout_s=5, retry=retry, **kw))
    chat.sleep = lambda s: None
    return chat


def say(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("bad", [HTML_PAGE, TRUNCATED_JSON, NO_CHOICES, Raw(b'{"error": {"message": "busy"}}')])
def test_a_200_that_is_not_a_completion_is_retried_like_a_5xx(server, bad):
    server.script["X"] = [bad, bad]
    chat = chat_for(server, max_retries=2)
    assert chat.complete(say("X")) == "0 image(s) | X"
    assert server.attempts["X"] == 3
    server.script["Y"] = [bad] * 3
    with pytest.raises(EndpointUnavailable, match="failed after 3 tries: HTTP 200 with a body that is not a chat"):
        chat.complete(say("Y"))


def test_completion_bodies():
    ok = '{"choices": [{"message": {"role": "assistant", "content": "yes"}}]}'
    assert completion_text(ok) == "yes"
    assert completion_text('{"choices": [{"message": {"content": null}}]}') == ""
    assert completion_text('{"choices": [{"message": {"content": [{"type": "text", "text": "a"}]}}]}') == "a"
    for bad in ("<html>proxy</html>", '{"choices": []}', '{"choices": [{"text": "x"}]}', "[1]", ""):
        with pytest.raises(InvalidReply):
            completion_text(bad)
    with pytest.raises(InvalidReply, match="quota"):
        completion_text('{"error": {"message": "quota exceeded"}}')


def test_breaker_opens_after_consecutive_failures_and_a_success_resets_it(server):
    server.script["DOWN"] = [503] * 100
    chat = chat_for(server, max_retries=0, max_consecutive_failures=3)
    for _ in range(2):
        with pytest.raises(EndpointUnavailable):
            chat.complete(say("DOWN"))
        assert chat.complete(say("up")) == "0 image(s) | up"  # resets the count
    for _ in range(2):
        with pytest.raises(EndpointUnavailable) as err:
            chat.complete(say("DOWN"))
        assert not err.value.given_up
    with pytest.raises(EndpointUnavailable, match="3 requests in a row failed, giving up") as err:
        chat.complete(say("DOWN"))
    assert err.value.given_up and chat.unusable is not None
    posts = server.posts
    with pytest.raises(EndpointUnavailable, match="giving up"):
        chat.complete(say("up"))
    assert server.posts == posts


def test_a_refused_request_does_not_count_towards_the_breaker(server):
    server.script["LONG"] = [400] * 10
    chat = chat_for(server, max_consecutive_failures=1)
    for _ in range(3):
        with pytest.raises(RequestRefused, match=r"refused the request \(400\)"):
            chat.complete(say("LONG"))
    assert server.attempts["LONG"] == 3 and chat.unusable is None  # refused once each, never retried
    assert chat.complete(say("short")) == "0 image(s) | short"


def test_404_gives_up_at_once(server):
    server.responder = lambda text, body: (404, "no such model")
    chat = chat_for(server)
    with pytest.raises(EndpointUnavailable, match="404") as err:
        chat.complete(USER)
    assert "/v1" in str(err.value) and server.posts == 1
    with pytest.raises(EndpointUnavailable, match="404"):
        chat.complete(say("other"))
    assert server.posts == 1


def test_concurrency_is_bounded_whatever_the_number_of_threads(server):
    server.delay = 0.05
    chat = chat_for(server, max_concurrency=3)
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda i: chat.complete(say(f"q{i}")), range(24)))
    assert replies == [f"0 image(s) | q{i}" for i in range(24)] and 2 <= server.max_in_flight <= 3


def test_map_runs_on_the_bounded_pool(server):
    server.delay = 0.05
    chat = chat_for(server, max_concurrency=4)
    seen: set[str] = set()
    lock = threading.Lock()

    def work(i: int) -> str:
        with lock:
            seen.add(threading.current_thread().name)
        return chat.complete(say(f"m{i}"))

    assert [f.result() for f in chat.map(work, range(12))] == [f"0 image(s) | m{i}" for i in range(12)]
    assert len(seen) <= 4 and server.max_in_flight <= 4
    chat.close()


def test_parameters_and_extra_body_are_sent(server):
    chat = chat_for(server, extra_body={"top_k": 1, "temperature": 1.0})
    chat.complete(USER, {"max_tokens": 3, "temperature": 0.0, "seed": 7})
    body = server.bodies[-1]
    assert (body["model"], body["max_tokens"], body["temperature"], body["seed"], body["top_k"]) == (
        MODEL,
        3,
        0.0,  # a request's own parameters win over extra_body
        7,
        1,
    )


def test_served_models(server):
    assert chat_for(server).served_models() == [MODEL]


def test_unreachable_endpoint_is_given_up_and_named_without_credentials():
    chat = OpenAIChat(
        ChatConfig(
            model="m",
            base_url="http://bob:s3cret@127.0.0.1:9/v1",
            api_key="sk-abc",
            timeout_s=1,
            retry=RetryPolicy(max_retries=1, backoff_s=0.0),
        )
    )
    with pytest.raises(EndpointUnavailable, match="cannot be reached after 2 tries") as err:
        chat.complete(USER)
    assert err.value.given_up and "s3cret" not in str(err.value) and "sk-abc" not in str(err.value)
    assert "http://127.0.0.1:9/v1" in str(err.value)
    assert "sk-abc" not in repr(chat.config)


def test_public_url():
    assert public_url("https://u:p@host.example:8443/v1?key=k#frag") == "https://host.example:8443/v1"
    assert public_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"
    assert public_url("http://localhost/v1") == "http://localhost/v1"


def test_a_server_echoing_the_key_does_not_put_it_in_the_reason(server):
    server.responder = lambda text, body: (401, "Incorrect API key provided: sk-abc-secret-123")
    chat = OpenAIChat(ChatConfig(model=MODEL, base_url=server.url, api_key="sk-abc-secret-123"))
    with pytest.raises(EndpointUnavailable) as err:
        chat.complete(USER)
    assert "sk-abc-secret-123" not in str(err.value) and "Incorrect API key provided: <redacted>" in str(err.value)
