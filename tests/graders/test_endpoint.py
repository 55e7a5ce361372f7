"""The endpoint grader against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Mapping
from typing import Any

import pytest
from PIL import Image

from ming_eval.core.sample import ImagePart, TextPart, UnderstandRequest
from ming_eval.errors import MingEvalError
from ming_eval.graders.base import DecodeSettings, EndpointSpec, GraderReply
from ming_eval.graders.endpoint import EndpointGrader
from tests.fakes.openai_server import HTML_PAGE, KEY, MODEL, FakeOpenAI
from tests.models.zoo_support import color_image


class DictStore:
    """A reply store in memory: what a grader keeps between calls."""

    def __init__(self) -> None:
        self.replies: dict[str, GraderReply] = {}

    def get(self, key: str) -> GraderReply | None:
        reply = self.replies.get(key)
        return dataclasses.replace(reply, cached=True) if reply is not None else None

    def put(self, key: str, reply: GraderReply, record: Mapping[str, Any]) -> None:
        self.replies[key] = reply


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(key=KEY) as fake:
        yield fake


def grader_for(fake: FakeOpenAI, store: DictStore | None = None, **spec: Any) -> EndpointGrader:
    grader = EndpointGrader(EndpointSpec(model=MODEL, base_url=fake.url, **spec), store)
    grader.transport.sleep = lambda s: None
    return grader


def ask(text: str) -> UnderstandRequest:
    return UnderstandRequest((TextPart(text),))


def test_images_and_system_prompt_arrive_in_order_with_the_decoding_settings(server):
    red, blue = color_image((200, 10, 10), (8, 6)), color_image((10, 10, 200), (5, 4))
    request = UnderstandRequest(
        (TextPart("compare"), ImagePart(red), TextPart("and"), ImagePart(blue)), system="Answer yes or no."
    )
    grader = grader_for(server)
    [reply] = grader.grade([request], DecodeSettings(max_tokens=5, extra=(("top_p", 0.5),)))
    assert reply.text == "2 image(s) | compare and | system: Answer yes or no."
    body = server.bodies[0]
    assert (body["model"], body["max_tokens"], body["temperature"], body["top_p"]) == (MODEL, 5, 0.0, 0.5)
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url"]
    sizes = [Image.open(io.BytesIO(base64.b64decode(p["image_url"]["url"].split(",", 1)[1]))).size for p in parts[1::2]]
    assert sizes == [(8, 6), (5, 4)]
    assert grader.identity == f"endpoint:{MODEL}@{server.url}"
    grader.close()


def test_concurrency_is_bounded_and_replies_keep_their_order(server):
    server.delay = 0.05
    grader = grader_for(server, max_concurrency=4)
    replies = grader.grade([ask(f"question {i}") for i in range(16)])
    assert [r.text for r in replies] == [f"0 image(s) | question {i}" for i in range(16)]
    assert 2 <= server.max_in_flight <= 4


def test_retry_after_is_honoured(server):
    server.retry_after = "0.4"
    server.script["BUSY"] = [429, 429]
    grader = grader_for(server)
    waits: list[float] = []
    grader.transport.sleep = waits.append
    [reply] = grader.grade([ask("BUSY")])
    assert reply.text == "0 image(s) | BUSY" and server.attempts["BUSY"] == 3
    assert len(waits) == 2 and all(0.4 <= w <= 0.5 for w in waits)  # never sooner than asked


def test_outage_is_a_reply_error_never_cached_and_asked_again(server):
    store = DictStore()
    server.script["DOWN"] = [503, 503]
    grader = grader_for(server, store, max_retries=1)
    replies = grader.grade([ask("fine"), ask("DOWN")])
    assert replies[0].text == "0 image(s) | fine"
    assert replies[1].error is not None and "failed after 2 tries: HTTP 503" in replies[1].error
    assert len(store.replies) == 1 and grader.stats.failed == 1
    # the next call: the good reply comes from the cache, the failed one is asked again and answered
    asked = len(server.bodies)
    again = grader.grade([ask("fine"), ask("DOWN")])
    assert [r.text for r in again] == ["0 image(s) | fine", "0 image(s) | DOWN"]
    assert again[0].cached and not again[1].cached
    assert len(server.bodies) == asked + 1 and server.attempts["DOWN"] == 3
    # a third call asks nothing
    assert [r.text for r in grader.grade([ask("fine"), ask("DOWN")])] == [r.text for r in again]
    assert len(server.bodies) == asked + 1 and grader.stats.cached == 3


def test_a_proxy_page_is_an_error_then_answered(server):
    server.script["PROXY"] = [HTML_PAGE, HTML_PAGE, HTML_PAGE]
    grader = grader_for(server, DictStore(), max_retries=1)
    [reply] = grader.grade([ask("PROXY")])
    assert reply.error is not None and "not a chat completion" in reply.error and "502 Bad Gateway" in reply.error
    [reply] = grader.grade([ask("PROXY")])  # the third page is retried past
    assert reply.text == "0 image(s) | PROXY"


def test_a_rejected_key_gives_the_endpoint_up(server, monkeypatch):
    monkeypatch.setenv("WRONG_KEY", "sk-wrong")
    grader = grader_for(server, api_key_env="WRONG_KEY", max_concurrency=1)
    replies = grader.grade([ask(f"q{i}") for i in range(6)])
    assert all(r.error is not None and "rejected the API key (401)" in r.error for r in replies)
    assert all("$WRONG_KEY" in (r.error or "") and "sk-wrong" not in (r.error or "") for r in replies)
    assert server.posts == 1  # given up at the first 401: no retry, no other request sent
    later = grader.grade([ask("later")])[0]
    assert later.error is not None and "rejected the API key (401)" in later.error and server.posts == 1


def test_credentials_in_the_base_url_stay_out_of_identity_and_errors(server):
    port = server.url.split(":")[2].split("/")[0]
    url = f"http://alice:hunter2@127.0.0.1:{port}/v1?token=abc"
    server.script["DOWN"] = [500]
    grader = EndpointGrader(EndpointSpec(model=MODEL, base_url=url, max_retries=0))
    assert grader.identity == f"endpoint:{MODEL}@http://127.0.0.1:{port}/v1"
    [reply] = grader.grade([ask("DOWN")])
    assert reply.error is not None and "hunter2" not in reply.error and "abc" not in reply.error


def test_no_key_and_no_url_is_a_setup_error(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MingEvalError, match=r"\$OPENAI_API_KEY is not set"):
        EndpointGrader(EndpointSpec(model="gpt-4o"))


def _jpeg_from(url: str) -> Image.Image:
    assert url.startswith("data:image/jpeg;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.format == "JPEG"
    return img


def test_jpeg_encoding_sends_the_quality_asked_for_and_keys_the_cache_apart(server):
    # a noisy picture: its JPEG bytes depend on the quality, so the server sees exactly what was asked
    noisy = Image.frombytes("RGB", (32, 24), bytes((i * 37) % 256 for i in range(32 * 24 * 3)))
    buf = io.BytesIO()
    noisy.save(buf, format="PNG")
    from ming_eval.core.sample import ImageRef

    request = UnderstandRequest((TextPart("rate"), ImagePart(ImageRef.from_bytes(buf.getvalue(), "noisy"))))
    store = DictStore()
    grader_for(server, store, image_format="jpeg", jpeg_quality=75).grade([request])
    sent = base64.b64decode(server.bodies[0]["messages"][-1]["content"][1]["image_url"]["url"].split(",", 1)[1])
    at_75 = io.BytesIO()
    noisy.save(at_75, format="JPEG")  # Pillow's default quality, 75
    assert sent == at_75.getvalue()
    assert _jpeg_from(server.bodies[0]["messages"][-1]["content"][1]["image_url"]["url"]).size == (32, 24)
    # the same request as PNG is another reply: it is asked, not taken from the JPEG one's cache
    grader_for(server, store).grade([request])
    assert len(server.bodies) == 2
    assert server.bodies[1]["messages"][-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_system_content_as_parts_sends_a_one_item_text_list(server):
    request = UnderstandRequest((TextPart("q"),), system="Be strict.")
    grader_for(server, system_content="parts").grade([request])
    grader_for(server).grade([request])
    assert server.bodies[0]["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Be strict."}]}
    assert server.bodies[1]["messages"][0] == {"role": "system", "content": "Be strict."}
