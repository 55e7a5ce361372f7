"""VLMEvalKit prediction files (``{model}_{dataset}.xlsx|tsv|csv``) read as the samples and outputs of a run.

VLMEvalKit's ``run.py`` writes, per model and dataset, the benchmark's rows without the ``image`` column
plus a ``prediction`` column: ``.xlsx`` by default (``PRED_FORMAT=tsv`` for TSV; CSV and TSV are written
with every cell quoted). The file carries the question, options, answer and categories, so it can be
scored with neither images nor the benchmark TSV.

Cells are read as VLMEvalKit reads them back (``pandas.read_excel`` / ``read_csv``, pandas' missing-value
rules included), so the targets and breakdowns are the ones a TSV would give. The ``prediction`` column
alone is read verbatim (an answer ``"None"`` stays ``"None"``; an empty cell is an empty answer): what
the model said is kept, and the scorer decides about it as it does for a run of our own.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ming_eval.errors import DataError
from ming_eval.tasks.vlm.tsv import clean, is_missing

if TYPE_CHECKING:  # pandas is imported where a prediction file is read
    import pandas as pd

SUFFIXES = (".xlsx", ".tsv", ".csv")
PREDICTION = "prediction"
#: VLMEvalKit's run folders: ``T20250301_Gabc1234`` (up to mid-2025) or ``T20250301-120000``
_RUN_FOLDER = re.compile(r"^T(\d{8})[_-]")
#: the day VLMEvalKit's answer extraction changed (commit c3371551: lone letters only among the last four
#: words, ...); files from earlier runs were scored with the ``v0.2`` matching rules
MATCHING_CHANGED = "20250804"
#: what :func:`read_frame` raises for a file that is not a readable table (pandas' parser errors are
#: ValueErrors; a truncated .xlsx is a bad zip, one without a sheet a missing zip member)
READ_ERRORS = (ValueError, OSError, KeyError, zipfile.BadZipFile)


@dataclass(frozen=True)
class PredictionFile:
    """A VLMEvalKit prediction file: its rows (as VLMEvalKit reads them) and the verbatim predictions."""

    path: Path
    rows: list[dict[str, Any]]
    predictions: list[str]
    columns: list[str]

    def where(self, i: int) -> str:
        """Names data row ``i`` (0-based) for messages: the file, the 1-based row and its index."""
        return f"{self.path.name} row {i + 1} (index {clean(self.rows[i].get('index'))})"


def read_frame(path: Path, *, verbatim: bool) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError as exc:
            raise DataError(
                f"reading {path} needs openpyxl", hint="pip install 'ming-eval[imports]' (or save the file as .tsv)"
            ) from exc
        if verbatim:
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        return pd.read_excel(path)
    sep = "\t" if suffix == ".tsv" else ","
    if verbatim:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    return pd.read_csv(path, sep=sep)


def read_prediction_file(path: Path, required: Sequence[str]) -> PredictionFile:
    """The rows of ``path``; a clear error when it is not a VLMEvalKit prediction file with ``required``
    columns, or has duplicate indices."""
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"{path}: a VLMEvalKit prediction file is .xlsx, .tsv or .csv, not {path.suffix or 'without a suffix'}",
            hint="pass the {model}_{dataset}.xlsx file that VLMEvalKit's run.py wrote",
        )
    if not path.is_file():
        raise DataError(f"prediction file {path} does not exist")
    try:
        frame = read_frame(path, verbatim=False)
        verbatim = read_frame(path, verbatim=True)
    except READ_ERRORS as exc:
        raise DataError(f"cannot read {path} as a VLMEvalKit prediction file: {exc}") from exc
    columns = [str(c) for c in frame.columns]
    missing = [c for c in [*required, PREDICTION] if c not in columns]
    if missing:
        raise DataError(
            f"{path} lacks the column(s) {', '.join(missing)} (it has: {', '.join(columns) or 'none'})",
            hint="pass the prediction file VLMEvalKit wrote for this benchmark ({model}_{dataset}.xlsx), "
            "not a score summary"
            if PREDICTION not in missing
            else "this file holds no model answers: pass the {model}_{dataset} file VLMEvalKit's run.py wrote",
        )
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    rows = frame.to_dict(orient="records")
    predictions = ["" if is_missing(v) else str(v) for v in verbatim[PREDICTION].tolist()]
    out = PredictionFile(path, rows, predictions, columns)
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = clean(row.get("index"))
        if key is None:
            raise DataError(f"{path.name} row {i + 1}: the index cell is empty")
        first = seen.setdefault(str(key), i)
        if first != i:
            raise DataError(
                f"{out.where(i)}: index {key} appears again (first at row {first + 1})",
                hint="the file was merged from several runs or edited; keep one row per index",
            )
    return out


def dataset_in_name(path: Path, datasets: Sequence[str]) -> str | None:
    """The dataset a file is named after (VLMEvalKit names it ``{model}_{dataset}.<ext>``), longest first."""
    stem = path.stem
    for name in sorted(datasets, key=len, reverse=True):
        if stem == name or stem.endswith(f"_{name}"):
            return name
    return None


def run_date(path: Path) -> str | None:
    """The date (YYYYMMDD) of the VLMEvalKit run folder holding ``path``, if it sits in one."""
    for part in reversed(path.resolve().parts[:-1]):
        m = _RUN_FOLDER.match(part)
        if m:
            return m.group(1)
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
