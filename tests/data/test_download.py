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


def test_a_host_that_does_not_resolve_fails_at_once(tmp_path, monkeypatch):
    import socket
    import urllib.request

    calls = []

    def unresolvable(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    import urllib.error

    monkeypatch.setattr(urllib.request, "urlopen", unresolvable)
    waits = []
    with pytest.raises(DataError, match="the host name does not resolve"):
        download("https://data.invalid/x.tsv", tmp_path / "x.tsv", retry=RetryPolicy(max_retries=5), sleep=waits.append)
    assert len(calls) == 1 and waits == []  # no retries, no back-off
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_names_every_way_to_supply_the_file(tmp_path, monkeypatch):
    from ming_eval.cards.schema import DataFile
    from ming_eval.data import files as files_module
    from ming_eval.data.files import DataFiles

    def fail(url, dest, **kwargs):
        raise DataError(f"could not download {url} -> {dest}: the host name does not resolve")

    monkeypatch.setattr(files_module, "download", fail)
    monkeypatch.delenv("MING_EVAL_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    data = DataFiles(
        "mmstar",
        [DataFile(name="MMStar.tsv", url="https://example.org/MMStar.tsv")],
        search_dirs=[tmp_path / "LMUData"],
        cache_dir=tmp_path / "cache",
    )
    with pytest.raises(DataError) as info:
        data.path("MMStar.tsv")
    hint = info.value.hint or ""
    assert "`ming-eval data download mmstar`" in hint and "--data MMStar.tsv=PATH" in hint
    assert str(tmp_path / "LMUData") in hint and "$LMUData" in hint and "MING_EVAL_OFFLINE=1" in hint


def test_a_full_disk_stops_the_download_and_leaves_no_part_file(files, tmp_path, monkeypatch):
    import errno
    import pathlib

    real_open = pathlib.Path.open

    def full_open(self, mode="r", *args, **kwargs):
        if str(self).endswith(".part"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", full_open)
    with pytest.raises(Exception, match="no space left on the device") as info:
        download(f"{files.url}/x", tmp_path / "x", retry=RetryPolicy(max_retries=3), sleep=lambda s: None)
    assert files.requests == 1 and "run the same command again" in (info.value.hint or "")
    assert list(tmp_path.iterdir()) == []
