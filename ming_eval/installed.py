"""What is installed, looked up once per state of the Python environment: the versions of the
packages a manifest records and the entry points of a group.

Both are found by scanning every distribution on ``sys.path`` (tens of milliseconds with a few hundred
packages, a large share of re-running a finished run), so they are kept in the cache
(``$MING_EVAL_CACHE/installed.json``) under a key of the interpreter and the modification time of
every ``sys.path`` folder: installing, upgrading or removing a distribution adds or removes its
``*.dist-info`` folder in one of them, which changes that folder's time and with it the key, so a
stored answer is only reused while it is still the answer. The cache is an optimisation: when it
cannot be read or written the environment is scanned as before.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

FILE_NAME = "installed.json"
KEPT = 4


def environment_key() -> list[Any]:
    """The interpreter and ``[folder, mtime_ns]`` of every ``sys.path`` entry (each once: a path added
    again, or the current folder as ``''``, finds nothing new)."""
    key: list[Any] = [sys.executable, sys.version]
    for entry in dict.fromkeys(os.path.abspath(e) for e in sys.path):
        try:
            key.append([entry, os.stat(entry).st_mtime_ns])
        except OSError:
            key.append([entry, None])
    return key


def _cache_file() -> Path:
    from ming_eval.data.files import cache_root

    return cache_root() / FILE_NAME


def _lookup(name: str, compute: Any) -> Any:
    """``compute()``, or what it returned before in this environment state (kept under ``name``; the
    answers of the last :data:`KEPT` states are kept: a plugin that puts a folder first on ``sys.path``
    while a command runs makes a second state)."""
    path = _cache_file()
    key = environment_key()
    try:
        states = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(states, list):
            states = []
    except (OSError, ValueError):
        states = []
    state = next((s for s in states if isinstance(s, dict) and s.get("key") == key), None)
    if state is not None and name in state:
        return state[name]
    value = compute()
    if state is None:
        state = {"key": key}
    else:
        states.remove(state)
    state[name] = value
    states = [state, *states][:KEPT]
    from ming_eval.store.jsonl import write_cache_json  # only when the environment was scanned

    write_cache_json(path, states)  # a read-only cache: the next start scans again
    return value


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each of ``names`` that is installed."""

    def compute() -> dict[str, str]:
        versions: dict[str, str] = {}
        for name in names:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        return versions

    found: dict[str, str] = _lookup("versions:" + ",".join(names), compute)
    return found


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The entry points of ``group`` declared by installed distributions (not yet loaded)."""
    scanned: list[metadata.EntryPoint] = []

    def compute() -> list[list[str]]:
        scanned.extend(metadata.entry_points(group=group))
        return [[ep.name, ep.value] for ep in scanned]

    found = _lookup("entry_points:" + group, compute)
    return scanned or [metadata.EntryPoint(name, value, group) for name, value in found]
