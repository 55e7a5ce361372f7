"""Data downloads against a local HTTP server: transient errors retried as the server asks, a 404 not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ming_eval.data.files import download
from ming_eval.errors import DataError
from ming_eval.transport.retry import RetryPolicy


class Files:
    def __init__(self) -> None:
        self.statuses: list[int] = []  # answered first, in order, before the file
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        files = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                files.requests += 1
                status = files.statuses.pop(0) if files.statuses else 200
                data = b"payload" if status == 200 else b"no"
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "2")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def files(monkeypatch) -> Iterator[Files]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    f = Files()
    thread = threading.Thread(target=f.server.serve_forever, daemon=True)
    thread.start()
    yield f
    f.server.shutdown()
    f.server.server_close()


def test_transient_errors_are_retried_as_the_server_asks(files, tmp_path):
    files.statuses = [503, 429]
    waits: list[float] = []
    download(f"{files.url}/a.tsv", tmp_path / "a.tsv", sleep=waits.append)
    assert (tmp_path / "a.tsv").read_bytes() == b"payload" and files.requests == 3
    assert len(waits) == 2 and all(2.0 <= w <= 2.5 for w in waits)  # Retry-After: 2, never sooner
    assert not (tmp_path / "a.tsv.part").exists()


def test_a_missing_file_is_not_asked_again(files, tmp_path):
    files.statuses = [404]
    waits: list[float] = []
    with pytest.raises(DataError, match="404"):
        download(f"{files.url}/gone.tsv", tmp_path / "gone.tsv", sleep=waits.append)
    assert files.requests == 1 and waits == [] and not (tmp_path / "gone.tsv").exists()


def test_gives_up_after_the_policy_s_tries(files, tmp_path):
    files.statuses = [500] * 5
    waits: list[float] = []
    with pytest.raises(DataError, match="500"):
        download(f"{files.url}/b.tsv", tmp_path / "b.tsv", retry=RetryPolicy(max_retries=1), sleep=waits.append)
    assert files.requests == 2 and len(waits) == 1  # no wait after the last try
