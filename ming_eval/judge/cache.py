"""An on-disk cache of judge replies, keyed by (judge model, sha256 of prompt and parameters).

Every reply a judge gives is appended to a JSONL file as soon as it arrives, so nothing paid for is
lost: re-scoring a run, resuming after a crash, or scoring the same predictions again under another
run directory asks the judge nothing it has already answered. Each process appends to its own file
(``<host>-<pid>.jsonl``) inside ``<root>/<model>/``, so several ranks can share one cache folder
without locks; readers merge all files. A line cut short by a crash is ignored, and cut off before
a later process with the same host and pid appends to that file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ming_eval.data.files import cache_root
from ming_eval.store.jsonl import JsonlWriter

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def default_cache_dir() -> Path:
    """``$MING_EVAL_CACHE/judge`` (default ``~/.cache/ming_eval/judge``)."""
    return cache_root() / "judge"


def cache_key(model: str, prompt: str, params: dict[str, Any]) -> str:
    """The key of one judge call: sha256 over the model, the prompt and the sampling parameters."""
    payload = json.dumps({"model": model, "prompt": prompt, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Replies by key, loaded lazily per model; appends are flushed line by line."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()
        self._lock = threading.Lock()
        self._loaded: dict[str, dict[str, str]] = {}
        self._writers: dict[str, JsonlWriter] = {}

    def _model_dir(self, model: str) -> Path:
        return self.root / (_UNSAFE.sub("_", model) or "_")

    def _entries(self, model: str) -> dict[str, str]:
        entries = self._loaded.get(model)
        if entries is not None:
            return entries
        entries = {}
        folder = self._model_dir(model)
        if folder.is_dir():
            for path in sorted(folder.glob("*.jsonl")):
                try:
                    lines = path.read_text(encoding="utf-8").splitlines()
                except OSError:
                    continue
                for line in lines:
                    try:
                        rec = json.loads(line)
                        entries[str(rec["key"])] = str(rec["reply"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash
        self._loaded[model] = entries
        return entries

    def get(self, model: str, prompt: str, params: dict[str, Any]) -> str | None:
        key = cache_key(model, prompt, params)
        with self._lock:
            return self._entries(model).get(key)

    def put(self, model: str, prompt: str, params: dict[str, Any], reply: str) -> None:
        key = cache_key(model, prompt, params)
        record = {
            "key": key,
            "model": model,
            "params": params,
            "prompt": prompt,
            "reply": reply,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with self._lock:
            self._entries(model)[key] = reply
            writer = self._writers.get(model)
            try:
                if writer is None:
                    name = f"{_UNSAFE.sub('_', socket.gethostname())}-{os.getpid()}.jsonl"
                    writer = JsonlWriter(self._model_dir(model) / name)
                    self._writers[model] = writer
                writer.write(record)
            except OSError:
                pass  # a read-only cache folder: the reply is still used, just not kept

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._loaded.values())

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                with contextlib.suppress(OSError):
                    writer.close()
            self._writers.clear()
