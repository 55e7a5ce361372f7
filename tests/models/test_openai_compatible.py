"""The OpenAI-compatible adapter against a fake endpoint on 127.0.0.1 that this test starts and stops.

The fake speaks the two routes the adapter uses (``GET /v1/models``, ``POST /v1/chat/completions``),
checks the bearer key, counts requests in flight, and fails on cue (429, 5xx, slow answers).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from pydantic import ValidationError

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import ImagePart, TextPart, UnderstandRequest
from ming_eval.models.openai_compatible import EndpointError, OpenAICompatibleAdapter, OpenAICompatibleOptions
from ming_eval.registry import get_model_card
from tests.models.zoo_support import understand_requests

KEY = "sk-test-123"
MODEL = "served/vlm-7b"


class FakeEndpoint:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[dict] = []
        self.script: dict[str, list[int]] = {}  # marker in the prompt -> statuses to answer first
        self.attempts: dict[str, int] = defaultdict(int)
        self.delay = 0.0
        self.slow = 0.0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    self._send(401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}})
                    return False
                return True

            def do_GET(self) -> None:
                if self._authorised():
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0,
                                                                 "owned_by": "test"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorised():
                    return
                endpoint.answer(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        # whatever happens to the test, the server stops by itself
        self.watchdog = threading.Timer(120, self.server.shutdown)

    def answer(self, handler, body: dict) -> None:
        user = body["messages"][-1]["content"]
        text = " ".join(p["text"] for p in user if p["type"] == "text")
        images = [p["image_url"]["url"] for p in user if p["type"] == "image_url"]
        for url in images:  # every image must be a decodable data URL
            Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).load()
        with self.lock:
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            marker = next((m for m in self.script if m in text), None)
            status = self.script[marker].pop(0) if marker and self.script[marker] else 200
            if marker:
                self.attempts[marker] += 1
        try:
            time.sleep(self.slow if "SLOW" in text else self.delay)
            if status != 200:
                headers = {"Retry-After": "0"} if status == 429 else None
                handler._send(status, {"error": {"message": f"scripted {status}", "type": "server_error"}}, headers)
                return
            system = [m["content"] for m in body["messages"] if m["role"] == "system"]
            content = f"{len(images)} image(s) | {text}" + (f" | system: {system[0]}" if system else "")
            handler._send(200, {
                "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })
        finally:
            with self.lock:
                self.in_flight -= 1

    def __enter__(self) -> FakeEndpoint:
        self.thread.start()
        self.watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watchdog.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def endpoint(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeEndpoint() as fake:
        yield fake


def adapter_for(endpoint: FakeEndpoint, **options) -> OpenAICompatibleAdapter:
    base = get_model_card("openai-compatible")
    model = options.pop("model", MODEL)
    opts = {**base.options, "base_url": endpoint.url, "backoff_s": 0.01, **options}
    card = base.model_copy(update={"options": opts, "checkpoint": model})
    adapter = OpenAICompatibleAdapter.from_card(card)
    assert isinstance(adapter, OpenAICompatibleAdapter)
    return adapter


def test_answers_in_order_with_images_and_system_prompt(endpoint):
    adapter = adapter_for(endpoint)
    answers = adapter.understand(understand_requests(), UnderstandProtocol(max_new_tokens=7))
    assert answers == [
        "1 image(s) | What colour is the square?",
        "0 image(s) | describe a cat",
        "2 image(s) | compare and",
        "1 image(s) | what colour? | system: Answer with one word.",
    ]
    body = endpoint.bodies[0]
    assert body["model"] == MODEL and body["max_tokens"] == 7 and body["temperature"] == 0.0
    assert "seed" not in body and "top_p" not in body
    parts = next(b for b in endpoint.bodies if "compare" in json.dumps(b))["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url"]  # order kept
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    adapter.close()


def test_sampling_sends_seed_and_top_p(endpoint):
    adapter = adapter_for(endpoint, max_tokens_field="max_completion_tokens", extra_body={"top_k": 5})
    req = UnderstandRequest((TextPart("hi"),), seed=1234)
    adapter.understand([req], UnderstandProtocol(temperature=0.5, top_p=0.9, max_new_tokens=3))
    body = endpoint.bodies[-1]
    assert (body["temperature"], body["top_p"], body["seed"], body["max_completion_tokens"]) == (0.5, 0.9, 1234, 3)
    assert body["top_k"] == 5


def test_concurrency_is_bounded(endpoint):
    endpoint.delay = 0.05
    adapter = adapter_for(endpoint, max_concurrency=3)
    requests = [UnderstandRequest((TextPart(f"question {i}"),)) for i in range(12)]
    answers = adapter.understand(requests, UnderstandProtocol())
    assert answers == [f"0 image(s) | question {i}" for i in range(12)]
    assert 2 <= endpoint.max_in_flight <= 3


def test_rate_limits_and_server_errors_are_retried_with_backoff(endpoint):
    endpoint.script["FLAKY"] = [429, 503, 500]
    adapter = adapter_for(endpoint, backoff_s=0.25, max_backoff_s=0.6)
    waits: list[float] = []
    adapter.sleep = waits.append
    assert adapter.understand([UnderstandRequest((TextPart("FLAKY"),))], UnderstandProtocol()) == ["0 image(s) | FLAKY"]
    assert endpoint.attempts["FLAKY"] == 4
    # the 429's Retry-After (0 s) wins over the backoff; then 0.25 doubled, then doubled again but capped
    assert waits == [0.0, 0.5, 0.6]


def test_giving_up_names_the_endpoint(endpoint):
    endpoint.script["DOWN"] = [500] * 10
    adapter = adapter_for(endpoint, max_retries=2)
    adapter.sleep = lambda s: None
    with pytest.raises(EndpointError, match="failed 3 times: InternalServerError"):
        adapter.understand([UnderstandRequest((TextPart("DOWN"),))], UnderstandProtocol())


def test_timeouts_are_retried_then_reported(endpoint):
    endpoint.slow = 1.0
    adapter = adapter_for(endpoint, timeout_s=0.2, max_retries=1)
    adapter.sleep = lambda s: None
    with pytest.raises(EndpointError, match="APITimeoutError"):
        adapter.understand([UnderstandRequest((TextPart("SLOW"),))], UnderstandProtocol())


def test_answers_already_received_are_not_asked_again(endpoint):
    endpoint.script["DOWN"] = [500] * 10
    adapter = adapter_for(endpoint, max_retries=0)
    good = [UnderstandRequest((TextPart(f"ok {i}"),)) for i in range(3)]
    with pytest.raises(EndpointError):
        adapter.understand([*good, UnderstandRequest((TextPart("DOWN"),))], UnderstandProtocol())
    asked = len(endpoint.bodies)
    assert adapter.understand(good, UnderstandProtocol()) == [f"0 image(s) | ok {i}" for i in range(3)]
    assert len(endpoint.bodies) == asked


def test_wrong_key_fails_before_any_work(endpoint, monkeypatch):
    monkeypatch.setenv("MY_KEY", "wrong")
    with pytest.raises(EndpointError, match="refused the API key") as err:
        adapter_for(endpoint, api_key_env="MY_KEY")
    assert "$MY_KEY" in str(err.value)
    adapter = adapter_for(endpoint, api_key_env="MY_KEY", preflight=False)
    with pytest.raises(EndpointError, match="refused the API key"):
        adapter.understand([UnderstandRequest((TextPart("hi"),))], UnderstandProtocol())
    assert endpoint.bodies == []


def test_unknown_served_model_lists_the_served_ones(endpoint):
    with pytest.raises(EndpointError, match=r"does not serve 'other'; it serves: served/vlm-7b"):
        adapter_for(endpoint, model="other")


def test_unreachable_endpoint(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeEndpoint() as fake:
        url = fake.url
    card = get_model_card("openai-compatible")
    card = card.model_copy(update={"options": {**card.options, "base_url": url, "timeout_s": 2}})
    with pytest.raises(EndpointError, match="cannot reach"):
        OpenAICompatibleAdapter.from_card(card)


def test_no_key_and_no_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EndpointError, match=r"\$OPENAI_API_KEY is not set"):
        OpenAICompatibleAdapter.from_card(get_model_card("openai-compatible"))


def test_the_key_itself_cannot_be_put_in_a_card():
    with pytest.raises(ValidationError, match="api_key"):
        OpenAICompatibleOptions(api_key="sk-secret")  # type: ignore[call-arg]


def test_image_part_round_trip():
    from ming_eval.models.openai_compatible import chat_messages
    from tests.models.zoo_support import color_image

    req = UnderstandRequest((ImagePart(color_image((9, 8, 7), (5, 4))),), system=None)
    msg = chat_messages(req, UnderstandProtocol(), "jpeg")
    url = msg[0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (5, 4)
