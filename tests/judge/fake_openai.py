"""A fake OpenAI-compatible chat server on 127.0.0.1 for judge tests.

``FakeOpenAI(responder)`` serves ``POST /v1/chat/completions``; ``responder(prompt, body)`` returns
either a reply string or ``(status, message)`` for an error (``(429, ...)``, ``(401, ...)``...), or
``("sleep", seconds)`` to simulate a slow server. Every request is recorded. The server runs in a
daemon thread, stops when the ``with`` block ends, and stops itself after ``lifetime_s`` anyway.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.models.fake_openai import QuietServer

Responder = Callable[[str, dict[str, Any]], Any]


class FakeOpenAI:
    def __init__(self, responder: Responder, *, lifetime_s: float = 60.0) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.lifetime_s = lifetime_s
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def prompts(self) -> list[str]:
        with self._lock:
            return [r["messages"][-1]["content"] for r in self.requests]

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                prompt = body["messages"][-1]["content"]
                if isinstance(prompt, list):
                    prompt = "".join(p.get("text", "") for p in prompt)
                out = fake.responder(prompt, body)
                if isinstance(out, tuple) and out[0] == "sleep":
                    time.sleep(float(out[1]))
                    out = out[2] if len(out) > 2 else "slow"
                if isinstance(out, tuple):
                    status, message = out[0], out[1]
                    headers = {"Retry-After": "0"} if status == 429 else None
                    self._send(int(status), {"error": {"message": message, "type": "test", "code": status}},
                               headers)
                    return
                self._send(200, {
                    "id": "fake", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": out}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        timer = threading.Timer(self.lifetime_s, self._stop)
        timer.daemon = True
        timer.start()
        self._timer = timer
        return self

    def _stop(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()
            server.server_close()

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._stop()
