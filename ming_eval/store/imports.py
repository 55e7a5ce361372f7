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


def check_earlier_import(task_dir: Path, state: dict[str, Any], source: Path) -> None:
    """Refuse to import ``source`` (described by ``state``: its ``source`` path, ``files`` and any
    settings) into ``task_dir`` when that folder holds an import of another folder, or of this folder
    as it was before."""
    state_path = task_dir / IMPORT_STATE
    if not state_path.is_file():
        return
    try:
        old = json.loads(state_path.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError(f"a JSON {type(old).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read {state_path}, the record of an earlier import: {exc}", hint=_NEW_OUT) from exc
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
