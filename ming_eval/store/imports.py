"""The record of outputs imported into a task folder (``score TASK --images DIR``): which folder, and
the size and mtime of each of its files, so that a later import of another folder, or of the same
folder after it changed, is refused instead of mixing two sets of outputs in one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ming_eval.errors import DataError

#: the file, in the task's folder of the run, that records what was imported
IMPORT_STATE = "import.json"

_NEW_OUT = "pass a new --out directory (the existing scores are left untouched)"


def read_import_state(task_dir: Path | None, *, hint: str = _NEW_OUT) -> dict[str, Any] | None:
    """The record of what was imported into ``task_dir`` (None when nothing was); a damaged record is
    a :class:`DataError` naming it, with ``hint`` as the way out."""
    path = None if task_dir is None else task_dir / IMPORT_STATE
    if path is None or not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError(f"a JSON {type(state).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read {path}, the record of an earlier import: {exc}", hint=hint) from exc
    return state


def check_earlier_import(task_dir: Path, state: dict[str, Any], source: Path) -> None:
    """Refuse to import ``source`` (described by ``state``: its ``source`` path, ``files`` and any
    settings) into ``task_dir`` when that folder holds an import of another folder, or of this folder
    as it was before."""
    old = read_import_state(task_dir)
    if old is None:
        return
    if old.get("source") != state["source"]:
        raise DataError(f"{task_dir} already holds scores of another folder ({old.get('source')})", hint=_NEW_OUT)
    if {k: old.get(k) for k in state} != state:
        before, now = old.get("files") or {}, state.get("files") or {}
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        settings = ", ".join(k for k in state if k not in ("source", "files"))
        raise DataError(
            f"{task_dir} holds scores of {source} as it was before; {len(changed)} files or settings have changed "
            f"since (e.g. {', '.join(changed[:5]) or settings})",
            hint="pass a new --out directory to score the folder as it is now (the existing scores are left untouched)",
        )
