"""The graders' reply cache on disk: one :class:`~ming_eval.store.shared_log.SharedLog` per grader.

Replies live under ``$MING_EVAL_CACHE/graders/<grader>/`` (one folder per grader identity), keyed by
:func:`ming_eval.graders.base.cache_key`. Each process appends to its own file, so the ranks of a run
share the folder without locks; a reply is on disk as soon as it arrives, and a line cut short by a
crash is ignored. A failure is never stored: the request is asked again on the next run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ming_eval.data.files import cache_root
from ming_eval.graders.base import GraderReply
from ming_eval.store.shared_log import SharedLog, safe_name


def default_cache_dir() -> Path:
    """``$MING_EVAL_CACHE/graders`` (default ``~/.cache/ming_eval/graders``)."""
    return cache_root() / "graders"


def grader_folder(root: Path, identity: str) -> Path:
    """The folder of one grader's replies: its identity made file-safe, plus a digest so that two
    identities that read alike once made safe (``a/b`` and ``a_b``) never share a folder."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    return root / f"{safe_name(identity)[:80]}-{digest}"


def _decode(record: Mapping[str, Any]) -> GraderReply:
    text, scores = record.get("text"), record.get("option_scores")
    if text is None and scores is None:
        raise ValueError("a record without a reply")
    return GraderReply(
        text=None if text is None else str(text),
        option_scores=None if scores is None else {str(k): float(v) for k, v in dict(scores).items()},
        cached=True,
    )


class DiskReplyStore:
    """A :class:`~ming_eval.graders.base.ReplyStore` for one grader, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._log: SharedLog[GraderReply] = SharedLog(folder, _decode)

    @classmethod
    def for_grader(cls, identity: str, root: Path | None = None) -> DiskReplyStore:
        return cls(grader_folder(root or default_cache_dir(), identity))

    def get(self, key: str) -> GraderReply | None:
        return self._log.get(key)

    def put(self, key: str, reply: GraderReply, record: Mapping[str, Any]) -> None:
        """Keep a reply; a failed one (``reply.error`` set) is not kept anywhere."""
        if not reply.ok:
            return
        line = {
            **record,
            "text": reply.text,
            "option_scores": reply.option_scores,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._log.put(key, GraderReply(text=reply.text, option_scores=reply.option_scores, cached=True), line)

    def __len__(self) -> int:
        return len(self._log)

    def close(self) -> None:
        self._log.close()
