"""A fake OpenAI-compatible endpoint on 127.0.0.1 for the adapter's tests and benchmark.

It speaks the two routes the adapter uses (``GET /v1/models``, ``POST /v1/chat/completions``),
checks the bearer key, counts requests in flight, waits ``delay`` seconds per answer, and fails on
cue (``script``: a marker in the prompt -> HTTP statuses to answer first). A watchdog stops it after
two minutes whatever happens to its user.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        # a client that timed out has closed the socket the (deliberately slow) answer goes to
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


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

        self.server = QuietServer(("127.0.0.1", 0), Handler)
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
