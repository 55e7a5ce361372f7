"""Errors that reach users: each says what went wrong, where, and how to fix it.

The CLI prints a :class:`MingEvalError` as a short message (no traceback); anything else is a bug and
gets the traceback.
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable


class MingEvalError(Exception):
    """Base class of every error meant for the user rather than for a bug report."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UnknownNameError(MingEvalError, KeyError):
    """A task, model or adapter name that no registry knows."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None
        listing = ", ".join(known) if known else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {listing}", hint=hint)
        self.kind = kind
        self.name = name
        self.suggestions = close


class CardError(MingEvalError):
    """A task or model card that does not validate."""


class DataError(MingEvalError):
    """Input data that is missing, corrupt or does not match what the task expects."""


class ChecksumError(DataError):
    """A downloaded or cached file whose checksum differs from the pinned one."""

    def __init__(self, path: str, algorithm: str, expected: str, actual: str, *, fix: str) -> None:
        super().__init__(
            f"{algorithm} mismatch for {path}: expected {expected}, got {actual}",
            hint=fix,
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class RunStoreError(MingEvalError):
    """A run directory that cannot be written, is incomplete, or belongs to a different config."""


class ConfigMismatchError(RunStoreError):
    """Resuming into a run directory made with a different configuration."""

    def __init__(self, run_dir: str, differences: list[str]) -> None:
        lines = "\n".join(f"  - {d}" for d in differences)
        super().__init__(
            f"{run_dir} was made with a different configuration:\n{lines}",
            hint="use another --out directory, or pass --force to resume anyway (the differing "
            "settings are recorded in the manifest)",
        )
        self.differences = differences


class CapabilityError(MingEvalError):
    """A task that needs a capability the model does not have."""


class ProtocolError(CardError):
    """A model card whose protocol lacks settings the task needs."""


class CheckpointError(MingEvalError):
    """A checkpoint folder that is missing a part or has the wrong layout."""


class JudgeUnavailableError(MingEvalError):
    """The LLM judge could not be reached or refused the request."""


class TooManyFailuresError(MingEvalError):
    """So many samples failed that the run stops: the cause is likely systematic."""


#: write failures of the file system, not of the program: a user error with a way out
_STORAGE_FAULTS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than this file system allows",
    errno.EROFS: "the file system is read-only",
}


def storage_error(path: object, exc: OSError) -> RunStoreError | None:
    """The user error for a write that the file system refused (full disk, quota, file size, read-only),
    or None for any other ``OSError``."""
    reason = _STORAGE_FAULTS.get(exc.errno or 0)
    if reason is None:
        return None
    return RunStoreError(
        f"cannot write {path}: {reason}",
        hint="free space (or pick another --out / MING_EVAL_CACHE on a larger disk) and run the same command "
        "again: finished samples are kept and the unfinished file was removed",
    )
