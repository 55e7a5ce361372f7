"""Append-only JSONL files that survive SIGKILL.

Each record is one line, written with a single ``write`` and flushed at once, so a killed process
leaves at worst one partial last line. Readers skip such a line; a writer that reopens the file cuts
it off before appending. Lines in the middle of a file that do not parse are corruption, and are
reported with the file and line number instead of being skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Generic, TypeVar

from ming_eval.errors import DataError, RunStoreError, storage_error

T = TypeVar("T")


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths appear in details written by scorers
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(obj, ensure_ascii=False, default=_json_default, separators=(",", ":"))``, built once:
    ``json.dumps`` with arguments makes a new encoder on every call, which costs more than encoding a
    record. The C encoder is used directly where there is one (CPython)."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return json.JSONEncoder(ensure_ascii=False, default=_json_default, separators=(",", ":")).encode
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan);
    # no markers: records hold no cycles (one would end in a RecursionError instead of a ValueError)
    encode = c_make_encoder(None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda obj: "".join(encode(obj, 0))


#: one record as one compact JSON line (without the newline)
dumps: Callable[[Any], str] = _compact_encoder()

#: how JSON text is encoded to UTF-8: a lone surrogate (half of an emoji a server cut off, which JSON
#: escapes can carry) has no UTF-8 form and would stop the write; it can only stand inside a JSON string,
#: where "backslashreplace" writes it as the escape ``\udXXX`` that reading the line back turns into
#: the same character
JSON_ERRORS = "backslashreplace"


def _repair_tail(path: Path) -> None:
    """Cut a partial last line (no trailing newline) left by a killed writer."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # Walk back to the last newline; files are small per rank, but read in blocks anyway.
        pos = size
        block = 1 << 16
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)


class JsonlWriter:
    """Appends one JSON object per line; each :meth:`write` is flushed to the OS immediately, unless
    it is one of a group that arrived together (a batch's records): those are written with
    ``flush=False`` and reach the OS together at the next :meth:`flush` (or :meth:`close`).

    With ``on_close``, the records written (or what :meth:`write_lines` was given to keep for them) are
    handed to it once the file is closed (so that a reader in this process need not read back what it
    just wrote); none are, if a write failed.
    """

    def __init__(self, path: Path, on_close: Callable[[list[Any]], None] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            _repair_tail(path)
        self._fh: IO[str] = path.open("a", encoding="utf-8", errors=JSON_ERRORS)
        self._on_close = on_close
        self._written: list[Any] = []

    def write(self, record: Any, *, flush: bool = True) -> None:
        self.write_lines([dumps(record)], record, flush=flush)

    def write_lines(self, lines: list[str], kept: Any, *, flush: bool = True) -> None:
        """Append ``lines`` (records already encoded, without their newlines) in one write, and hand
        them to the OS at once unless ``flush`` is False; ``kept`` is what ``on_close`` is handed for
        them (one entry for all)."""
        if not lines:
            return
        try:
            self._fh.write("\n".join(lines) + "\n")
            if flush:
                self._fh.flush()
        except BaseException as exc:
            self._on_close = None  # the file may hold part of these records: it must be read back
            if isinstance(exc, OSError):  # a partial last line is cut off when the file is next opened
                raise storage_error(self.path, exc) or exc from exc
            raise
        if self._on_close is not None:
            self._written.append(kept)

    def flush(self) -> None:
        """Hand what was written with ``flush=False`` to the OS: it survives a kill from now on."""
        try:
            self._fh.flush()
        except OSError as exc:
            raise storage_error(self.path, exc) or exc from exc

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise storage_error(self.path, exc) or exc from exc
        finally:
            with suppress(OSError):  # the same failed flush, raised above
                self._fh.close()
        if self._on_close is not None:
            self._on_close(self._written)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


#: ``json.loads`` of a str without its per-call encoding detection and argument handling
loads: Callable[[str], Any] = json.JSONDecoder().decode


def read_jsonl(path: Path, *, tolerate_partial_tail: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the records of ``path``; a partial last line is skipped, corruption elsewhere raises."""
    with path.open("rb") as fh:
        data = fh.read()
    # What follows the last newline is a line whose write was interrupted. It is dropped even if it
    # happens to parse: the writer cuts it off on reopening, so counting it as done would lose the sample.
    end = data.rfind(b"\n") + 1
    if end < len(data) and not tolerate_partial_tail:
        raise RunStoreError(f"{path}: the last line is incomplete (no newline)")
    yield from parse_lines(data[:end], path)


#: a line holding two objects side by side (``}, {`` outside any container): the one way, besides a
#: line that does not parse, that decoding every line in one call could differ from decoding each
#: alone (see :func:`parse_lines`); JSON whitespace within a line, which has no newline
_TWO_OBJECTS = re.compile(r"\}[ \t\r]*,[ \t\r]*\{")


def parse_lines(data: bytes, path: Path, first_line: int = 1) -> list[dict[str, Any]]:
    """The records of ``data``, complete lines of ``path`` from line ``first_line`` on (for messages).

    Every line is decoded in one call when that gives what decoding each alone gives: one object
    per non-blank line, and no line holding ``}, {`` (a line that ends inside an open list would
    merge with the next, but then fewer values come back unless another line holds two objects;
    JSON strings hold no newline). Otherwise, and when the one call fails, the lines are decoded one
    by one, and the first bad line is reported as it always was."""
    try:  # decoded once, not line by line
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        raise RunStoreError(
            f"{path}: line {line} is not UTF-8 text",
            hint="the file was edited or corrupted; remove that line and re-run to redo the sample",
        ) from exc
    lines = (text.removeprefix("\ufeff") if first_line == 1 else text).split("\n")
    lines.pop()  # "" after the last newline
    kept = [raw for raw in lines if raw.strip()]
    if kept and _TWO_OBJECTS.search(text) is None:
        try:
            records = loads("[" + "\n,".join(kept) + "]")
        except (ValueError, RecursionError):
            records = None
        if records is not None and len(records) == len(kept):
            for rec in records:  # (a loop, not all() over a generator: this runs per record)
                if type(rec) is not dict:
                    break
            else:
                return records
    out = []
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            rec = loads(raw)
        except (ValueError, RecursionError) as exc:
            # (besides bad syntax: an integer longer than int() takes, or containers nested too deep)
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(";")[0]
            raise RunStoreError(
                f"{path}: line {number} is not valid JSON ({why})",
                hint="the file was edited or corrupted; remove that line and re-run to redo the sample",
            ) from exc
        if not isinstance(rec, dict):
            raise RunStoreError(f"{path}: line {number} is not a JSON object")
        out.append(rec)
    return out


class AppendedReader(Generic[T]):
    """Parses the records of append-only JSONL files, and on a later read only what was appended
    since: the part read before is reused when the file still starts with exactly those bytes (a
    SHA-1 over them; a file edited or replaced is parsed again from its start)."""

    def __init__(self, parse: Callable[[Path, int, list[dict[str, Any]]], list[T]]) -> None:
        #: ``parse(path, number, records)``: what the records of a read hold, one item per record;
        #: ``number`` counts the file's records from 1 for the first of them (for messages)
        self._parse = parse
        # path -> (bytes parsed: complete lines only, their SHA-1, lines, parsed records)
        self._seen: dict[Path, tuple[int, bytes, int, list[T]]] = {}

    def read(self, path: Path) -> list[T]:
        with path.open("rb") as fh:
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a partial last line is left for the next read (see read_jsonl)
        start, lines, items = 0, 0, []
        digest = hashlib.sha1()
        seen = self._seen.get(path)
        if seen is not None and seen[0] <= end:
            prefix = hashlib.sha1(memoryview(data)[: seen[0]])
            if prefix.digest() == seen[1]:
                start, digest, lines, items = seen[0], prefix, seen[2], list(seen[3])
        records = parse_lines(data[start:end], path, first_line=lines + 1)
        if records:
            items.extend(self._parse(path, len(items) + 1, records))
        digest.update(memoryview(data)[start:end])
        self._seen[path] = (end, digest.digest(), lines + data.count(b"\n", start, end), items)
        return items


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds and removed when it fails,
    so ``path`` is always complete and a full disk leaves no partial file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and (error := storage_error(path, exc)) is not None:
            raise error from exc
        raise


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` through :func:`atomic_path`, unless it already holds exactly
    ``data`` (then it is left alone: same inode, same mtime, no fsync). True if written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def write_jsonl_atomic(path: Path, records: Iterator[Any] | list[Any]) -> bool:
    """Write a whole JSONL file atomically; a file that already holds these records is not touched.
    True if the file was written."""
    return write_text_atomic(path, "".join(dumps(rec) + "\n" for rec in records))


def write_text_atomic(path: Path, text: str) -> bool:
    """:func:`write_jsonl_atomic` for records already encoded (``text``: their lines)."""
    return _write_if_changed(path, text.encode("utf-8", JSON_ERRORS))


def _finite(obj: Any) -> Any:
    """NaN and infinities become null: results files are read by tools that want strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_cache_json(path: Path, obj: Any) -> None:
    """Replace the cache file ``path`` with ``obj`` as compact JSON through :func:`atomic_path`, if it
    can: a cache that cannot be written (read-only, full disk) is left as it was and computed again."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(obj), encoding="utf-8")
    except (OSError, RunStoreError):
        pass


def write_json_atomic(path: Path, obj: Any) -> bool:
    """Write ``obj`` as indented JSON atomically; an unchanged file is not touched. True if written."""
    text = json.dumps(_finite(obj), ensure_ascii=False, indent=2, default=_json_default, allow_nan=False) + "\n"
    return _write_if_changed(path, text.encode("utf-8", JSON_ERRORS))


def read_json_lines(path: Path, *, hint: str, label: str = "", blank_line: str | None = None) -> list[tuple[int, Any]]:
    """Each line of a JSON-lines file another tool wrote (an import, a data file), parsed, with its
    number from 1, for the caller to check and to name in its own messages. Lines end at ``\\n`` only
    (a U+2028 inside a string is not a line end, as it is for ``str.splitlines``); blank lines are
    skipped, or refused with ``blank_line`` as the reason where a line's number means something.

    A file that cannot be read or is not UTF-8 (``label``: what it is, e.g. "GenEval metadata"), a line
    that is not JSON and a refused blank line are one-line :class:`DataError` naming the file and the
    line; ``hint``: which file to pass instead.
    """
    where = f"{label} {path}" if label else str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {where}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"cannot read {where}: line {bad} is not UTF-8 text", hint=hint) from exc
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if blank_line is not None:
                raise DataError(f"{path} line {number}: empty line ({blank_line})", hint=hint)
            continue
        try:
            out.append((number, loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path} line {number} is not valid JSON ({exc.msg}): the file is truncated or damaged", hint=hint
            ) from exc
    return out
