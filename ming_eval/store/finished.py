"""A finished task's stamp: what its results were made from, so that re-running a finished run costs
a few ``stat`` calls per task instead of rebuilding every sample and re-reading every record.

``<run>/<task>/finished.json`` holds a key (the task's configuration, ``--limit``, scoring fingerprint,
ming-eval version, the size/mtime of each data file and of the other files the samples are read
from: a task's ``sample_sources``, e.g. GEdit-Bench's parquet files) and the signature (size, mtime,
inode) of every file the results depend on or consist of: the rank files of records and scores, the merged
files, the task's ``results.json``, what its finalize hook wrote, and each generated image. A
re-run whose key and signatures all match has nothing to do for that task; anything else (a record
appended, an image replaced, an option changed, ``--force``) falls back to the full resume
path, which rewrites the stamp.

``ming-eval score RUN`` reads and writes the same stamp, keyed by the configuration the scores are
made under (``-o`` options included): re-scoring an unchanged task reads its ``results.json`` back;
any change makes it score what changed (scores are kept per prediction digest) and stamp again.
The stamp also holds the size and SHA-1 of each record file: when records were only appended since
(a re-run's, or an edit's), :func:`records_appended` names their samples, and the other samples'
scores and merged lines are read back as the stamped pass left them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ming_eval import __version__
from ming_eval.core.results import RETRY_STATUSES, Status, TaskResult
from ming_eval.data.files import DataFiles
from ming_eval.errors import RunStoreError
from ming_eval.store.jsonl import parse_lines, write_json_atomic
from ming_eval.store.run_store import TaskStore

STAMP = "finished.json"


def _signature(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def data_signature(files: DataFiles, sources: Sequence[Path] = ()) -> dict[str, Any]:
    """Where each data file is and its (size, mtime), and those of the other files the samples are read
    from (``sources``: :meth:`BaseTask.sample_sources`): a replaced file makes the stamp stale."""
    out: dict[str, Any] = {}
    for name in sorted(files.specs):
        path = files.locate(name)
        sig = _signature(path) if path is not None else None
        out[name] = None if path is None or sig is None else [str(path), sig[0], sig[1]]
    for path in sorted(sources):
        sig = _signature(path)
        out[f"source:{path}"] = None if sig is None else [sig[0], sig[1]]
    return out


def stamp_key(
    config: dict[str, Any],
    limit: int | None,
    fingerprint: dict[str, Any],
    files: DataFiles,
    sources: Sequence[Path] = (),
) -> dict[str, Any]:
    return {
        "version": __version__,
        "config": config,
        "limit": limit,
        "scoring": fingerprint,
        "data": data_signature(files, sources),
    }


def _result_files(store: TaskStore) -> list[Path]:
    """The merged files, results and whatever else the task's finalize hook wrote beside them (GenEval's
    ``report.html``): every file of the task's folder but the stamp, and the rank files."""
    files = {store.predictions_path, store.scores_path, store.results_path, store.scoring_dir / "config.json"}
    if store.dir.is_dir():
        files.update(p for p in store.dir.iterdir() if p.name != STAMP and not p.name.startswith(".") and p.is_file())
    for folder in (store.records_dir, store.scoring_dir):
        if folder.is_dir():
            files.update(folder.glob("rank-*.jsonl"))
    return sorted(files)


def _signatures(store: TaskStore, images: list[str]) -> dict[str, list[int] | None]:
    paths = _result_files(store) + [store.images_dir / rel for rel in images]
    return {os.path.relpath(p, store.dir): _signature(p) for p in paths}


def write_stamp(store: TaskStore, key: dict[str, Any], total: int, result: TaskResult) -> None:
    """Record that ``store``'s results are final for ``key``; a task with samples to redo (missing, or
    scored while the judge was away) gets no stamp."""
    path = store.dir / STAMP
    complete = result.counts.get("missing") == 0 and not any(result.counts.get(s) for s in RETRY_STATUSES)
    if not complete:
        path.unlink(missing_ok=True)
        return
    predictions = store.read_predictions()
    images = sorted(str(rel) for p in predictions.values() if p.files is not None for rel in p.output)
    failed = sum(1 for p in predictions.values() if p.status is Status.FAILED)
    stamp = {"key": key, "samples": total, "failed": failed, "images": images}
    stamp["files"] = _signatures(store, images)
    stamp["records"] = {
        os.path.relpath(p, store.dir): [len(data := p.read_bytes()), hashlib.sha1(data).hexdigest()]
        for p in sorted(store.records_dir.glob("rank-*.jsonl"))
    }
    write_json_atomic(path, stamp)


def _stamp_for(store: TaskStore, key: dict[str, Any]) -> dict[str, Any] | None:
    """The task's stamp, if it was made under ``key`` and is well formed."""
    try:
        stamp = json.loads((store.dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("key") != json.loads(json.dumps(key)):
        return None
    images = stamp.get("images")
    if not isinstance(images, list) or not all(isinstance(rel, str) for rel in images):
        return None  # an edited stamp: the full resume path rewrites it
    return stamp


def records_appended(store: TaskStore, key: dict[str, Any]) -> set[str] | None:
    """The samples with a record appended since the stamp, when that is all that changed: the stamp
    matches ``key``, every other file it names is unchanged, and each record file that changed still
    starts with exactly the bytes it had then. None when anything else changed (or the stamp predates
    this check): then every sample's state is read again."""
    stamp = _stamp_for(store, key)
    if stamp is None:
        return None
    then, hashes = stamp.get("files"), stamp.get("records")
    now = _signatures(store, stamp["images"])
    if not isinstance(then, dict) or not isinstance(hashes, dict) or then.keys() != now.keys():
        return None
    changed: set[str] = set()
    for rel, signature in now.items():
        if signature == then[rel]:
            continue
        known = hashes.get(rel)
        if not (isinstance(known, list) and len(known) == 2 and isinstance(known[0], int)):
            return None  # not a record file, or one the stamp has no checksum of
        path = store.dir / rel
        try:
            data = path.read_bytes()
        except OSError:
            return None
        size = known[0]
        end = data.rfind(b"\n") + 1  # a partial last line is not a record (see read_jsonl)
        if end < size or hashlib.sha1(memoryview(data)[:size]).hexdigest() != known[1]:
            return None
        try:
            changed.update(str(rec["id"]) for rec in parse_lines(data[size:end], path))
        except (KeyError, RunStoreError):
            return None  # the full path reports it with the file and line
    return changed


def finished_samples(store: TaskStore, key: dict[str, Any], *, retry_failed: bool) -> int | None:
    """The task's sample count if its stamp matches ``key`` and every file it names is unchanged
    (and ``retry_failed`` finds no failed record to redo); else None."""
    stamp = _stamp_for(store, key)
    if stamp is None or (retry_failed and stamp.get("failed")):
        return None
    if stamp.get("files") != _signatures(store, stamp["images"]):
        return None
    total = stamp.get("samples")
    return total if isinstance(total, int) else None
