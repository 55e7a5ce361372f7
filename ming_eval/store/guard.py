"""What keeps a run directory one run: one invocation at a time, and one model.

``run``, ``score`` and ``score --images`` hold an exclusive lock on ``<run>/.lock`` (``fcntl.flock``)
from before they read the manifest until they exit, however they exit. The lock belongs to the open
file, so a process that dies, even by SIGKILL, releases it: a stale lock never blocks. The file says
who holds it (pid, host, command, start) for the message the next invocation prints; a second
invocation stops with that message, or with ``--wait`` starts when the first one ends. Under
torchrun only rank 0 takes the lock (the other ranks wait for it at the first barrier).

A directory also belongs to one model: running another model (another card or checkpoint) or
importing outputs of another source into it is refused unless forced, so that results are never
attributed to a model that did not make them.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ming_eval.errors import RunStoreError
from ming_eval.redaction import redact_argv
from ming_eval.store.manifest import ModelConfig, RunManifest, now

LOCK_FILE = ".lock"

#: the run directory and command line of this process's latest lock, for the Ctrl-C message
_last_acquired: tuple[Path, list[str]] | None = None


def last_locked_run() -> tuple[Path, list[str]] | None:
    """The run directory this process last worked in and the command line that did (redacted)."""
    return _last_acquired


class RunLockedError(RunStoreError):
    """Another invocation is working in the same run directory."""


class ModelMismatchError(RunStoreError):
    """The run directory holds results of another model."""


class RunLock:
    """The exclusive lock of one run directory, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, run_dir: Path, argv: list[str], *, wait: bool = False, on_wait: Callable[[str], None] | None = None
    ) -> RunLock:
        """Take the lock of ``run_dir`` (an existing folder); if another invocation holds it, raise
        :class:`RunLockedError` naming it, or with ``wait`` block until it is released."""
        path = run_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd, path):
                holder = describe_holder(path)
                if not wait:
                    raise RunLockedError(
                        f"{run_dir} is in use by another ming-eval invocation: {holder}",
                        hint="wait for it to finish, pass --wait to start as soon as it does, or use another "
                        "--out directory",
                    )
                if on_wait is not None:
                    on_wait(f"{run_dir} is in use by {holder}; waiting for it to finish (--wait)")
                fcntl.flock(fd, fcntl.LOCK_EX)
            holder_info = {"pid": os.getpid(), "host": socket.gethostname(), "argv": redact_argv(argv), "start": now()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder_info).encode("utf-8"), 0)
            global _last_acquired
            _last_acquired = (run_dir, redact_argv(argv))
        except BaseException:
            os.close(fd)  # closing the file releases a lock taken on it
            raise
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # before unlocking: the next holder writes its own line
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise RunStoreError(
                f"cannot lock {path}: the file system does not support file locks ({exc.strerror})",
                hint="choose an --out directory on a local or lock-capable file system",
            ) from exc
        raise


def describe_holder(path: Path) -> str:
    """Who holds the lock file ``path``, as its holder wrote it."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        command = " ".join(str(a) for a in info["argv"])
        return f"pid {info['pid']} on {info['host']} since {info['start']} (`{command}`)"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"


def model_identity(model: Mapping[str, Any]) -> str:
    """How a manifest's ``model`` entry is named to users: card name, checkpoint, imported source."""
    card = model.get("card")
    name = str(card.get("name", "?")) if isinstance(card, Mapping) else "?"
    text = name
    if model.get("checkpoint"):
        text += f" @ {model['checkpoint']}"
    if model.get("source"):
        text += f" (from {model['source']})"
    return text


def check_same_model(
    existing: RunManifest | Mapping[str, Any] | None,
    model: ModelConfig | Mapping[str, Any],
    run_dir: Path,
    *,
    force: bool,
) -> list[str]:
    """Refuse to put results of ``model`` into a run made with another one (unless ``force``); the
    difference, if forced, for the invocation's record."""
    stored = existing.to_json() if isinstance(existing, RunManifest) else (existing or {})
    old = stored.get("model")
    if not isinstance(old, Mapping):
        return []
    new = model.to_json() if isinstance(model, ModelConfig) else model
    before, after = model_identity(old), model_identity(new)
    if before == after:
        return []
    if not force:
        raise ModelMismatchError(
            f"{run_dir} holds results of model {before}, not of {after}",
            hint="use another --out directory, or pass --force to add them anyway (the run is then "
            f"attributed to {after}, its earlier results included)",
        )
    return [f"model: {before} -> {after}"]
