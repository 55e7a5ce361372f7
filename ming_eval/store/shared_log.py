"""Records by key in a folder that several processes share without locks (the reply caches).

Each process appends to its own file (``<host>-<pid>.jsonl``) inside the folder, one JSON object per
line, flushed as soon as it is written, so nothing is lost when the process is killed. Readers merge
every file of the folder. A line that does not parse (cut short by a crash, or being written by
another process right now) is ignored; a later process with the same host and pid cuts it off before
it appends (:class:`~ming_eval.store.jsonl.JsonlWriter`).

The judge's and the graders' reply caches are both built on :class:`SharedLog`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from ming_eval.store.jsonl import JsonlWriter

V = TypeVar("V")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def safe_name(text: str) -> str:
    """``text`` as a file or folder name (characters other than letters, digits, ``_.-`` become ``_``)."""
    return _UNSAFE.sub("_", text) or "_"


class SharedLog(Generic[V]):
    """Values by key, read lazily from every file of ``folder``; :meth:`put` appends to this process's file.

    ``decode`` turns a stored record into the value kept in memory; a record it rejects (``KeyError``,
    ``TypeError``, ``ValueError``) is skipped like a cut line. Thread-safe.
    """

    def __init__(self, folder: Path, decode: Callable[[Mapping[str, Any]], V]) -> None:
        self.folder = folder
        self._decode = decode
        self._lock = threading.Lock()
        self._entries: dict[str, V] | None = None
        self._writer: JsonlWriter | None = None

    def _load(self) -> dict[str, V]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, V] = {}
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.jsonl")):
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                # lines end at "\n" only (U+2028 or U+0085 in a prompt or a reply, written as they are,
                # would end one for str.splitlines), and each is decoded alone: a line cut inside a
                # character by a crash is skipped like any other cut line
                for line in data.split(b"\n"):
                    try:
                        rec = json.loads(line.decode("utf-8"))
                        entries[str(rec["key"])] = self._decode(rec)
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash, or still being written
        self._entries = entries
        return entries

    def get(self, key: str) -> V | None:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, value: V, record: Mapping[str, Any]) -> None:
        """Keep ``value`` under ``key`` and append ``record`` (plus the key) to this process's file.

        A folder that cannot be written (read-only cache) keeps the value for this process only.
        """
        with self._lock:
            self._load()[key] = value
            try:
                if self._writer is None:
                    name = f"{safe_name(socket.gethostname())}-{os.getpid()}.jsonl"
                    self._writer = JsonlWriter(self.folder / name)
                self._writer.write({"key": key, **record})
            except OSError:
                pass

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries or {})

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                with contextlib.suppress(OSError):
                    self._writer.close()
                self._writer = None
