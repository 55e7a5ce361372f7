"""A fake OpenAI-compatible server on 127.0.0.1, for the judge tests and the model-adapter tests.

It serves ``GET /v1/models`` and ``POST /v1/chat/completions``. Each request body is recorded
(``bodies``; ``posts`` counts refused ones too) and the requests in flight are counted
(``max_in_flight``). What it answers:

* ``responder(text, body)``, given the text of the last message: a reply string, ``(status, message)``
  for an HTTP error (a 429 carries ``Retry-After: <retry_after>``, default 0), ``("sleep", seconds[,
  reply])`` for a slow answer, or a :class:`Raw` body sent as it is (:data:`HTML_PAGE`,
  :data:`TRUNCATED_JSON`, :data:`NO_CHOICES`: what a misbehaving proxy answers with a 200). The
  default responder echoes ``"<n> image(s) | <text>"`` (plus `` | system: <system>``).
* ``script``: a marker found in the text -> HTTP statuses (or :class:`Raw` bodies) to answer first,
  before the responder (``attempts`` counts the requests per marker); ``delay`` seconds before every
  answer, ``slow`` seconds for texts containing "SLOW".
* ``key``: when set, requests without ``Authorization: Bearer <key>`` get a 401.

Images sent as data URLs must decode. The server stops when the ``with`` block ends, and by itself
after ``lifetime_s`` whatever happens to its user.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

KEY = "sk-test-123"
MODEL = "served/vlm-7b"

Responder = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Raw:
    """A reply sent byte for byte: what a proxy in front of the server may answer."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


HTML_PAGE = Raw(b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>", "text/html")
TRUNCATED_JSON = Raw(b'{"id": "fake", "object": "chat.completion", "choices": [{"index": 0, "message": {"ro')
NO_CHOICES = Raw(b'{"id": "fake", "object": "chat.completion", "model": "x"}')


def echo(text: str, body: dict[str, Any]) -> str:
    """The default answer: how many images came, the text, and the system prompt if any."""
    content = body["messages"][-1]["content"]
    images = sum(1 for p in content if p.get("type") == "image_url") if isinstance(content, list) else 0
    system = [m["content"] for m in body["messages"] if m["role"] == "system"]
    return f"{images} image(s) | {text}" + (f" | system: {system[0]}" if system else "")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a client that timed out has closed the socket the (deliberately slow) answer goes to
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeOpenAI:
    def __init__(self, responder: Responder = echo, *, key: str | None = None, lifetime_s: float = 120.0) -> None:
        self.responder = responder
        self.key = key
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.script: dict[str, list[int | Raw]] = {}
        self.retry_after = "0"
        self.posts = 0  # every POST, answered or refused
        self.attempts: dict[str, int] = defaultdict(int)
        self.delay = 0.0
        self.slow = 0.0
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.watchdog = threading.Timer(lifetime_s, self.server.shutdown)
        self.watchdog.daemon = True

    def prompts(self) -> list[str]:
        """The text of the last message of every request so far."""
        with self.lock:
            return [_text(b["messages"][-1]["content"]) for b in self.bodies]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(
                self,
                status: int,
                payload: dict[str, Any] | bytes,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def send_error_status(self, status: int, message: str) -> None:
                self.send(
                    status,
                    {"error": {"message": message, "type": "test", "code": status}},
                    {"Retry-After": fake.retry_after} if status == 429 else None,
                )

            def authorised(self) -> bool:
                if fake.key is not None and self.headers.get("Authorization") != f"Bearer {fake.key}":
                    self.send_error_status(401, "Incorrect API key")
                    return False
                return True

            def do_GET(self) -> None:
                if self.authorised():
                    self.send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "test"}],
                        },
                    )

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                with fake.lock:
                    fake.posts += 1
                if not self.authorised():
                    return
                if not self.path.endswith("/chat/completions"):
                    self.send_error_status(404, f"no route {self.path}")
                    return
                fake._answer(self, body)

        return Handler

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        content = body["messages"][-1]["content"]
        text = _text(content)
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":  # every image must be a decodable data URL
                url = part["image_url"]["url"]
                Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).load()
        with self.lock:
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            marker = next((m for m in self.script if m in text), None)
            scripted = self.script[marker].pop(0) if marker and self.script[marker] else 200
            if marker:
                self.attempts[marker] += 1
        try:
            time.sleep(self.slow if "SLOW" in text else self.delay)
            if isinstance(scripted, Raw):
                out: Any = scripted
            else:
                out = self.responder(text, body) if scripted == 200 else (scripted, f"scripted {scripted}")
            if isinstance(out, tuple) and out[0] == "sleep":
                time.sleep(float(out[1]))
                out = out[2] if len(out) > 2 else "slow"
            if isinstance(out, Raw):
                handler.send(out.status, out.body, content_type=out.content_type)
                return
            if isinstance(out, tuple):
                handler.send_error_status(int(out[0]), str(out[1]))
                return
            handler.send(
                200,
                {
                    "id": "fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", ""),
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": out}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )
        finally:
            with self.lock:
                self.in_flight -= 1

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        self.watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watchdog.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _text(content: str | list[dict[str, Any]]) -> str:
    """A message's text: the string itself, or its text parts joined by spaces."""
    if isinstance(content, str):
        return content
    return " ".join(p["text"] for p in content if p.get("type") == "text")
