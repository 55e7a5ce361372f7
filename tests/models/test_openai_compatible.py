"""The OpenAI-compatible adapter against a fake endpoint on 127.0.0.1 that each test starts and stops."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from pydantic import ValidationError

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import ImagePart, TextPart, UnderstandRequest
from ming_eval.models.openai_compatible import EndpointError, OpenAICompatibleAdapter, OpenAICompatibleOptions
from ming_eval.registry import get_model_card
from tests.fakes.openai_server import KEY, MODEL, FakeOpenAI
from tests.models.zoo_support import understand_requests


@pytest.fixture
def endpoint(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(key=KEY) as fake:
        yield fake


def adapter_for(endpoint: FakeOpenAI, **options) -> OpenAICompatibleAdapter:
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
    adapter.transport.sleep = waits.append
    assert adapter.understand([UnderstandRequest((TextPart("FLAKY"),))], UnderstandProtocol()) == ["0 image(s) | FLAKY"]
    assert endpoint.attempts["FLAKY"] == 4
    # the 429's Retry-After (0 s) wins over the backoff; then 0.25 doubled, then doubled again but capped,
    # each less up to half of it at random (jitter)
    assert waits[0] == 0.0 and 0.25 <= waits[1] <= 0.5 and 0.3 <= waits[2] <= 0.6


def test_giving_up_names_the_endpoint(endpoint):
    endpoint.script["DOWN"] = [500] * 10
    adapter = adapter_for(endpoint, max_retries=2)
    adapter.transport.sleep = lambda s: None
    with pytest.raises(EndpointError, match="failed after 3 tries: HTTP 500"):
        adapter.understand([UnderstandRequest((TextPart("DOWN"),))], UnderstandProtocol())


def test_timeouts_are_retried_then_reported(endpoint):
    endpoint.slow = 1.0
    adapter = adapter_for(endpoint, timeout_s=0.2, max_retries=1)
    adapter.transport.sleep = lambda s: None
    with pytest.raises(EndpointError, match=r"timed out after 0\.2 s"):
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
    with pytest.raises(EndpointError, match="rejected the API key") as err:
        adapter_for(endpoint, api_key_env="MY_KEY")
    assert "$MY_KEY" in str(err.value)
    adapter = adapter_for(endpoint, api_key_env="MY_KEY", preflight=False)
    with pytest.raises(EndpointError, match="rejected the API key"):
        adapter.understand([UnderstandRequest((TextPart("hi"),))], UnderstandProtocol())
    assert endpoint.bodies == []


def test_unknown_served_model_lists_the_served_ones(endpoint):
    with pytest.raises(EndpointError, match=r"does not serve 'other'; it serves: served/vlm-7b"):
        adapter_for(endpoint, model="other")


def test_unreachable_endpoint(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeOpenAI(key=KEY) as fake:
        url = fake.url
    card = get_model_card("openai-compatible")
    card = card.model_copy(update={"options": {**card.options, "base_url": url, "timeout_s": 2}})
    with pytest.raises(EndpointError, match="cannot be reached"):
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
    from ming_eval.transport import ImageEncoding
    from tests.models.zoo_support import color_image

    req = UnderstandRequest((ImagePart(color_image((9, 8, 7), (5, 4))),), system=None)
    msg = chat_messages(req, UnderstandProtocol(), ImageEncoding("jpeg"))
    url = msg[0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (5, 4)
