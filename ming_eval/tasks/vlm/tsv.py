"""VLMEvalKit's benchmark TSVs, read the way VLMEvalKit reads them, without holding images in memory.

A TSV has one row per question and base64 images in the ``image`` column (over 1 GB for some
benchmarks). :class:`TsvTable` reads it once, streaming:

* one streaming pass with the ``csv`` module records the byte offset of every record and the shape
  of its image cell, and copies the other cells aside;
* those cells (metadata only: kilobytes) then go through ``pandas.read_csv(sep="\\t")`` as VLMEvalKit
  reads the file, so values, dtypes and pandas' missing-value rules (``"None"``, ``"N/A"``, ``""``
  become NaN) are the same and prompts come out identical;
* the result (offsets, image-cell shapes, parsed metadata) is kept in ming-eval's cache
  (``tsv-index/``) and reused by later runs while the file's size, mtime and inode are unchanged.

An image is decoded only when a model asks for it: its :class:`ImageRef` seeks to the record, reads
that one cell and decodes it. VLMEvalKit's conventions are kept: a cell of 64 characters or fewer is
the ``index`` of another row whose image it shares; a cell ``"['<b64>', ...]"`` holds several images;
rows with no image are dropped; a TSV with ``image_path`` but no ``image`` (VLMEvalKit's
``_local.tsv``) points at image files.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import functools
import hashlib
import io
import math
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from ming_eval.core.sample import ImageRef, open_image, to_rgb
from ming_eval.data.files import cache_root
from ming_eval.errors import DataError, RunStoreError
from ming_eval.store.jsonl import atomic_path

IMAGE_REF_MAX_CHARS = 64  # VLMEvalKit: a cell this short is another row's index, not an image


@functools.cache
def na_strings() -> frozenset[str]:
    """The texts pandas reads as a missing value (NaN) by default (pandas is imported on first use:
    a finished task is re-scored without it)."""
    import pandas as pd

    return frozenset(pd._libs.parsers.STR_NA_VALUES)


# Base64 image cells are far longer than csv's default field limit of 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def is_missing(value: Any) -> bool:
    """pandas' notion of a missing cell (NaN, None).

    The types a parsed cell has (str, int, bool, float) are decided here, as ``pandas.isna`` decides
    them, without calling it: samples are built with a dozen of these checks per row."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return False
    if kind is float:
        return bool(value != value)  # NaN is the only float that differs from itself
    if value is None:
        return True
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def decode_vlmeval_image(data: bytes, source: str) -> Image.Image:
    """Decode as VLMEvalKit does before a model sees the image: palette and alpha modes are converted
    with ``convert("RGB")`` (alpha dropped, not composited) and EXIF orientation is not applied.
    The whole image is decoded here, so truncation is reported with ``source``."""
    img = open_image(
        data, source, "the TSV is corrupt or was truncated; delete it and run `ming-eval data download <task>`"
    )
    if img.mode in ("RGBA", "P", "LA"):
        return img.convert("RGB")
    return to_rgb(img)


def _decode_base64(cell: str, source: str) -> Image.Image:
    try:
        raw = base64.b64decode(cell, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise DataError(
            f"cannot decode the base64 image {source}: {exc}",
            hint="the TSV is corrupt or was truncated; delete it and run `ming-eval data download <task>`",
        ) from exc
    return decode_vlmeval_image(raw, source)


@dataclass(frozen=True)
class ImageCell:
    """Where a row's image data is: the byte offset of the record that holds it (the row itself, or
    the row its index-reference points to), and how many images the cell holds (a list cell)."""

    offset: int
    count: int
    is_list: bool
    holder: str  # the index of the row holding the data, for messages


def _records(fh: BinaryIO, start: int, lines_before: int = 0) -> Iterator[tuple[int, int, list[str]]]:
    """(byte offset, 1-based line number, fields) of each record, honouring csv quoting; ``start`` is
    the byte offset of line ``lines_before + 1``."""
    state = {"pos": start, "line": lines_before, "eof": 0}

    def lines() -> Iterator[str]:
        while True:
            raw = fh.readline()
            if not raw:
                state["eof"] = 1
                return
            state["pos"] += len(raw)
            state["line"] += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{fh.name}: line {state['line']} is not valid UTF-8: {exc}") from exc

    reader = csv.reader(lines(), delimiter="\t", quotechar='"', strict=False)
    while True:
        offset, line_no = state["pos"], state["line"] + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{fh.name}: cannot parse the record at line {line_no}: {exc}") from exc
        if state["eof"]:  # the reader wanted more lines for this record: a quoted cell is never closed
            raise DataError(
                f"{fh.name}: the record at line {line_no} opens a quoted cell that the file never closes",
                hint="the file was cut short; delete it and run `ming-eval data download`",
            )
        if fields:  # pandas skips blank lines
            yield offset, line_no, fields


def _scan(fh: BinaryIO, start: int, col: int) -> Iterator[tuple[int, int, list[str], str | None]]:
    """(byte offset, line number, fields, summary of the image cell ``col``) of each record.

    A line without a quote character is split on tabs as bytes, and its image cell is summarised
    without being decoded (the cell is almost all of the file); a line with quotes goes through the
    ``csv`` module, which reads on into the next lines when a quoted cell holds a newline."""
    pos, line = start, 1  # the header is line 1
    while True:
        raw = fh.readline()
        if not raw:
            return
        offset = pos
        pos += len(raw)
        line += 1
        body = raw.rstrip(b"\r\n")
        if not body.strip(b" "):
            continue  # pandas skips blank lines and lines of spaces only
        if b'"' not in raw:
            if b"\r" in body:  # pandas ends a row at a CR outside quotes; the rows it would make are junk
                raise DataError(
                    f"{fh.name}: line {line} has a carriage return (\\r) outside quoted cells",
                    hint="remove it or quote the cell that holds it",
                )
            parts = body.split(b"\t")
            summary = _cell_summary_bytes(parts[col]) if 0 <= col < len(parts) else None
            if 0 <= col < len(parts):
                parts[col] = b""
            try:
                fields = [p.decode("utf-8") for p in parts]
            except UnicodeDecodeError as exc:
                raise DataError(f"{fh.name}: line {line} is not valid UTF-8: {exc}") from exc
            yield offset, line, fields, summary
            continue
        fh.seek(offset)
        for rec_offset, _, fields in _records(fh, offset, line - 1):
            summary = _cell_summary(fields[col]) if 0 <= col < len(fields) else None
            yield rec_offset, line, fields, summary
            line += sum(f.count("\n") for f in fields)  # the newlines inside quoted cells
            break
        pos = fh.tell()


def _cell_summary_bytes(cell: bytes) -> str | None:
    """:func:`_cell_summary` of an undecoded cell: only short cells and list cells are decoded."""
    if len(cell) <= IMAGE_REF_MAX_CHARS * 4 or cell[:1] == b"[":
        return _cell_summary(cell.decode("utf-8", errors="replace"))
    return "\x00one"


def _header(path: Path) -> tuple[list[str], int]:
    with path.open("rb") as fh:
        raw = fh.readline()
    text = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    columns = next(csv.reader([text], delimiter="\t", quotechar='"'))
    return columns, len(raw)


def read_cell(path: Path, offset: int, column: int) -> str:
    """One cell of the record starting at byte ``offset``."""
    with path.open("rb") as fh:
        fh.seek(offset)
        raw = fh.readline()
        if raw.strip(b"\r\n") and b'"' not in raw:  # no quoting: one seek, one read, one split
            parts = raw.rstrip(b"\r\n").split(b"\t")
            if column >= len(parts):
                raise DataError(f"{path}: the record at byte {offset} has no column {column + 1}")
            return parts[column].decode("utf-8", errors="replace")
        fh.seek(offset)
        for _, _, fields in _records(fh, offset):
            if column >= len(fields):
                raise DataError(f"{path}: the record at byte {offset} has no column {column + 1}")
            return fields[column]
    raise DataError(f"{path}: no record at byte {offset}; the file changed since it was indexed")


class TsvTable:
    """The rows of a VLMEvalKit TSV: metadata in memory, images on demand.

    ``rows[i]`` maps column names to values as pandas parsed them (NaN for missing cells), without
    ``image``. Rows without an image are dropped, as VLMEvalKit does by default.
    """

    def __init__(
        self,
        path: Path,
        columns: list[str],
        rows: list[dict[str, Any]],
        images: list[ImageCell | None],
        image_paths: list[list[Path]] | None,
        dropped_no_image: int,
    ) -> None:
        self.path = path
        self.name = path.name
        self.columns = columns
        self.rows = rows
        self._images = images
        self._image_paths = image_paths
        self.dropped_no_image = dropped_no_image
        self._image_col = columns.index("image") if "image" in columns else -1

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def load(
        cls, path: Path, *, required: tuple[str, ...] = ("index", "question"), image_root: Path | None = None
    ) -> TsvTable:
        """Index ``path``. ``required`` columns must exist; ``image_root`` resolves relative
        ``image_path`` entries of TSVs without an ``image`` column."""
        if not path.is_file():
            raise DataError(f"data file {path} does not exist")
        cached = _read_index(path)
        if cached is not None:
            return _with_images(cls._build(path, *cached, image_root), path, len(cached[1]))
        columns, header_bytes = _header(path)
        missing = [c for c in required if c not in columns]
        if missing:
            raise DataError(
                f"{path} lacks the column(s) {', '.join(missing)} (it has: {', '.join(columns)})",
                hint="this is not the VLMEvalKit TSV of this benchmark; delete it and run `ming-eval data download`",
            )
        has_image = "image" in columns
        if not has_image and "image_path" not in columns:
            raise DataError(f"{path} has neither an 'image' nor an 'image_path' column")
        col = columns.index("image") if has_image else -1
        # One pass: record offsets and image-cell shapes, and copy every other cell into a small TSV
        # that pandas then parses, so values and dtypes are exactly what pandas makes of the file.
        # (pandas infers dtypes per 65536-row chunk, so dropping a column does not change them for
        # any benchmark file, which all have fewer rows.)
        text = io.StringIO()
        # "\r\n": csv quotes only cells holding a character of the line terminator, and pandas ends a
        # row at a lone CR outside quotes
        writer = csv.writer(text, delimiter="\t", quotechar='"', lineterminator="\r\n")
        writer.writerow([c for j, c in enumerate(columns) if j != col])
        cells: list[str | None] = []
        offsets: list[int] = []
        with path.open("rb") as fh:
            fh.seek(header_bytes)
            for offset, line_no, fields, summary in _scan(fh, header_bytes, col):
                if len(fields) > len(columns):
                    raise DataError(f"{path}: line {line_no} has {len(fields)} fields, the header {len(columns)}")
                fields.extend([""] * (len(columns) - len(fields)))  # pandas reads missing trailing cells as NaN
                offsets.append(offset)
                if has_image:
                    cells.append(summary)
                    del fields[col]
                writer.writerow(fields)
        import pandas as pd

        try:
            frame = pd.read_csv(io.StringIO(text.getvalue()), sep="\t")
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot parse {path} as a TSV: {exc}") from exc
        del text
        meta = frame.to_dict(orient="records")
        del frame
        if len(meta) != len(offsets):
            raise DataError(f"{path}: {len(offsets)} records but {len(meta)} rows after parsing; the file is damaged")
        if not meta:
            raise DataError(
                f"{path} has a header but no rows",
                hint="the file is truncated; delete it and run `ming-eval data download`",
            )
        _write_index(path, (columns, meta, cells, offsets))
        return _with_images(cls._build(path, columns, meta, cells, offsets, image_root), path, len(meta))

    @classmethod
    def _build(
        cls,
        path: Path,
        columns: list[str],
        meta: list[dict[str, Any]],
        cells: list[str | None],
        offsets: list[int],
        image_root: Path | None,
    ) -> TsvTable:
        has_image = "image" in columns
        keys = [str(m.get("index")) for m in meta]
        position = {k: i for i, k in enumerate(keys)}
        rows: list[dict[str, Any]] = []
        images: list[ImageCell | None] = []
        paths: list[list[Path]] | None = None if has_image else []
        dropped = 0
        for i, m in enumerate(meta):
            if has_image:
                summary = cells[i]
                if summary is None:
                    dropped += 1
                    continue
                images.append(_resolve(path, i, keys, cells, offsets, position))
            else:
                entry = m.get("image_path")
                if is_missing(entry):
                    dropped += 1
                    continue
                assert paths is not None
                paths.append([_image_file(p, image_root) for p in _as_list(str(entry))])
            rows.append(m)
        return cls(path, columns, rows, images, paths, dropped)

    def image_refs(self, i: int) -> list[ImageRef]:
        """Lazy references to row ``i``'s images, in cell order."""
        index = self.rows[i].get("index")
        if self._image_paths is not None:
            return [ImageRef.from_path(p) for p in self._image_paths[i]]
        cell = self._images[i]
        if cell is None:
            return []
        return [self._ref(cell, k, index) for k in range(cell.count)]

    def _ref(self, cell: ImageCell, k: int, index: Any) -> ImageRef:
        path, col = self.path, self._image_col
        source = f"{self.name} index {index}" + (f" image {k + 1}" if cell.is_list else "")
        if cell.holder != str(index):
            source += f" (stored with index {cell.holder})"

        def load() -> Image.Image:
            text = read_cell(path, cell.offset, col)
            if cell.is_list:
                items = _parse_list(text, source)
                if k >= len(items):
                    raise DataError(f"{source}: the cell holds {len(items)} images; the file changed since indexing")
                text = items[k]
            return _decode_base64(text, source)

        return ImageRef(source, load)


#: bump when what the index holds changes: older index files are then rebuilt
INDEX_FORMAT = 2
_Index = tuple[list[str], list[dict[str, Any]], list[str | None], list[int]]


def _index_path(path: Path) -> Path:
    """Where the index of ``path`` is kept: ming-eval's cache, as data folders may be read-only."""
    name = hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:20]
    return cache_root() / "tsv-index" / f"{path.name}.{name}.pkl"


def _file_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (INDEX_FORMAT, st.st_size, st.st_mtime_ns, st.st_ino)


def _read_index(path: Path) -> _Index | None:
    """The stored index of ``path`` if it was made from the file as it is now (same size, mtime and
    inode, which is when its cached checksum is reused too); else None, and it is rebuilt."""
    try:
        with _index_path(path).open("rb") as fh:
            key, index = pickle.load(fh)
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    return index if key == _file_key(path) else None


def _write_index(path: Path, index: _Index) -> None:
    try:  # atomic_path removes its temporary file when the write fails (a full disk)
        with atomic_path(_index_path(path)) as tmp, tmp.open("wb") as fh:
            pickle.dump((_file_key(path), index), fh, protocol=pickle.HIGHEST_PROTOCOL)
    except (OSError, RunStoreError):
        pass  # a read-only or full cache: the file is indexed again next time


def _cell_summary(cell: str) -> str | None:
    """What the index keeps of an image cell: None (no image), the cell itself when it is short (a
    reference), or a marker with the image count of a list cell."""
    if cell == "" or cell in na_strings():
        return None
    if len(cell) <= IMAGE_REF_MAX_CHARS:
        return cell
    if len(cell) > 1 and cell[0] == "[" and cell[-1] == "]":
        try:
            count = len(ast.literal_eval(cell))
        except (ValueError, SyntaxError, MemoryError):
            count = -1
        return f"\x00list:{count}"
    return "\x00one"


def _resolve(
    path: Path, row: int, keys: list[str], cells: list[str | None], offsets: list[int], position: dict[str, int]
) -> ImageCell:
    summary = cells[row]
    assert summary is not None
    if summary.startswith("\x00"):
        return _cell_of(path, keys[row], row, summary, offsets)
    target = position.get(summary)
    if target is None:
        raise DataError(
            f"{path.name} index {keys[row]}: the image cell {summary!r} names no row of the file",
            hint="the TSV is incomplete or corrupt; re-download it",
        )
    target_summary = cells[target]
    if target_summary is None or not target_summary.startswith("\x00"):
        raise DataError(
            f"{path.name} index {keys[row]}: the image cell refers to index {summary}, which holds no image data"
        )
    return _cell_of(path, keys[target], target, target_summary, offsets)


def _cell_of(path: Path, key: str, row: int, summary: str, offsets: list[int]) -> ImageCell:
    if summary.startswith("\x00list:"):
        count = int(summary.split(":", 1)[1])
        if count < 0:
            raise DataError(f"{path.name} index {key}: the image cell looks like a list but does not parse as one")
        return ImageCell(offsets[row], count, True, key)
    return ImageCell(offsets[row], 1, False, key)


def _parse_list(text: str, source: str) -> list[str]:
    try:
        items = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise DataError(f"{source}: cannot parse the list of images: {exc}") from exc
    return [str(x) for x in items]


def _as_list(text: str) -> list[str]:
    if len(text) > 1 and text[0] == "[" and text[-1] == "]":
        try:
            return [str(x) for x in ast.literal_eval(text)]
        except (ValueError, SyntaxError):
            pass
    return [text]


def _image_file(entry: str, root: Path | None) -> Path:
    p = Path(entry)
    if p.is_absolute() or root is None:
        return p
    return root / p


def clean(value: Any) -> Any:
    """A metadata value for JSON (sample meta): NaN -> None, numpy scalars -> Python."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most cells, and already what JSON takes
        return value
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return str(value)
    return value


def _with_images(table: TsvTable, path: Path, n_rows: int) -> TsvTable:
    """``table``, unless none of its rows has an image (then the file is not a benchmark TSV)."""
    if not table.rows:
        raise DataError(
            f"{path}: none of its {n_rows} rows has an image (every image cell is empty)",
            hint="the file is damaged or not a VLMEvalKit benchmark TSV",
        )
    return table
