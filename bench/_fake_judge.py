"""The fake OpenAI-compatible server of ``tests/fakes`` in a child process, for the judging benches
(in the bench's own process it would share the GIL with the client and count the server's CPU time
as the client's)."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from tests.fakes.openai_server import FakeOpenAI, Responder, echo


class Judge:
    """The parent's end: the server's ``url`` and its counters."""

    def __init__(self, url: str, conn: Connection) -> None:
        self.url, self._conn = url, conn

    def stats(self) -> tuple[int, int]:
        """(POSTs received so far, most requests ever in flight at once)."""
        self._conn.send("posts")
        posts, in_flight = self._conn.recv()
        return posts, in_flight


def _serve(latency: float, responder: Responder, conn: Connection) -> None:
    with FakeOpenAI(responder, lifetime_s=600) as fake:
        fake.delay = latency
        conn.send(fake.url)
        while conn.recv() == "posts":
            conn.send((fake.posts, fake.max_in_flight))


@contextmanager
def judge_in_child(latency: float, responder: Responder = echo) -> Iterator[Judge]:
    """A server on 127.0.0.1 answering with ``responder`` after ``latency`` seconds, for the block."""
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(latency, responder, child), daemon=True)
    server.start()
    try:
        yield Judge(parent.recv(), parent)
    finally:
        if server.is_alive():
            parent.send("done")
        server.join(timeout=10)
