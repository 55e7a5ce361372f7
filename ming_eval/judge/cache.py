"""An on-disk cache of judge replies, keyed by (judge model, sha256 of prompt and parameters).

Every reply a judge gives is appended to a JSONL file as soon as it arrives, so nothing paid for is
lost: re-scoring a run, resuming after a crash, or scoring the same predictions again under another
run directory asks the judge nothing it has already answered. Replies live in ``<root>/<model>/``, a
:class:`~ming_eval.store.shared_log.SharedLog`: one file per process, so several ranks share one
cache folder without locks, and a line cut short by a crash is ignored.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ming_eval.data.files import cache_root
from ming_eval.store.shared_log import SharedLog, safe_name


def default_cache_dir() -> Path:
    """``$MING_EVAL_CACHE/judge`` (default ``~/.cache/ming_eval/judge``)."""
    return cache_root() / "judge"


def cache_key(model: str, prompt: str, params: dict[str, Any]) -> str:
    """The key of one judge call: sha256 over the model, the prompt and the sampling parameters."""
    payload = json.dumps({"model": model, "prompt": prompt, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _reply(record: Mapping[str, Any]) -> str:
    return str(record["reply"])


class JudgeCache:
    """Replies by key, loaded lazily per model; appends are flushed line by line."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()
        self._lock = threading.Lock()
        self._logs: dict[str, SharedLog[str]] = {}

    def _log(self, model: str) -> SharedLog[str]:
        with self._lock:
            log = self._logs.get(model)
            if log is None:
                log = self._logs[model] = SharedLog(self.root / safe_name(model), _reply)
            return log

    def get(self, model: str, prompt: str, params: dict[str, Any]) -> str | None:
        return self._log(model).get(cache_key(model, prompt, params))

    def put(self, model: str, prompt: str, params: dict[str, Any], reply: str) -> None:
        record = {
            "model": model,
            "params": params,
            "prompt": prompt,
            "reply": reply,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._log(model).put(cache_key(model, prompt, params), reply, record)

    def __len__(self) -> int:
        with self._lock:
            logs = list(self._logs.values())
        return sum(len(log) for log in logs)

    def close(self) -> None:
        with self._lock:
            logs = list(self._logs.values())
        for log in logs:
            log.close()
