"""GEdit-Bench's rows from the Hugging Face dataset ``stepfun-ai/GEdit-Bench`` (parquet files).

The dataset is fetched with :mod:`huggingface_hub` at the revision the task card names (no
published GEdit-Bench evaluation pins one: upstream and lmms-eval load the default branch), into
ming-eval's cache (``<cache>/data/<task>/hub``), or read from a folder of its parquet files
(option ``parquet_dir``). Columns read: ``task_type``, ``key``, ``instruction``,
``instruction_language``, ``input_image`` (the source image upstream's scripts store as
``<key>_SRCIMG.png`` and show the judge) and ``Intersection_exist``. The commit a download resolved to
(:func:`snapshot_commit`) is recorded with the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ming_eval.data.files import CACHE_ENV, offline
from ming_eval.errors import DataError

COLUMNS = ("task_type", "key", "instruction", "instruction_language", "input_image", "Intersection_exist")
#: the eleven task types, in upstream's order (its GROUPS)
GROUPS = (
    "background_change",
    "color_alter",
    "material_alter",
    "motion_change",
    "ps_human",
    "style_change",
    "subject-add",
    "subject-remove",
    "subject-replace",
    "text_change",
    "tone_transfer",
)


@dataclass(frozen=True)
class Row:
    task_type: str
    key: str
    instruction: str
    language: str
    image: bytes
    intersection: bool
    source: str  # "<file> row <n>", for error messages


def snapshot(dataset: str, revision: str, cache_dir: Path, task: str) -> Path:
    """The local folder of the dataset's parquet files at ``revision``, downloaded if needed."""
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                dataset,
                repo_type="dataset",
                revision=revision,
                allow_patterns=["*.parquet"],
                cache_dir=str(cache_dir / "hub"),
                local_files_only=offline(),
            )
        )
    except Exception as exc:
        raise DataError(
            f"task {task} needs the Hugging Face dataset {dataset} at revision {revision}, which is not "
            f"available{' offline' if offline() else ''}: {type(exc).__name__}: {exc}",
            hint=f"on a machine with internet run `ming-eval data download {task}` and copy {cache_dir} here "
            f"(or set {CACHE_ENV}), or pass -o {task}.parquet_dir=DIR with the dataset's parquet files",
        ) from exc


def local_snapshot(dataset: str, revision: str, cache_dir: Path) -> Path | None:
    """The dataset's snapshot folder if it is in the cache already (no download); else None."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            dataset,
            repo_type="dataset",
            revision=revision,
            allow_patterns=["*.parquet"],
            cache_dir=str(cache_dir / "hub"),
            local_files_only=True,
        )
    except Exception:  # not cached (huggingface_hub raises several kinds for that)
        return None
    return Path(folder)


def snapshot_commit(folder: Path) -> str | None:
    """The dataset commit a hub snapshot folder holds (huggingface_hub keeps each download under
    ``.../snapshots/<commit sha>``); None for a folder that is not one (option ``parquet_dir``)."""
    name = folder.name
    if folder.parent.name == "snapshots" and len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        return name
    return None


def read_rows(folder: Path, task: str) -> list[Row]:
    """Every row of every parquet file under ``folder`` (sorted by path)."""
    import pyarrow.parquet as pq

    files = sorted(folder.rglob("*.parquet"))
    if not files:
        raise DataError(
            f"task {task}: no parquet file under {folder}",
            hint="point parquet_dir at the dataset's data/ folder (train-*.parquet)",
        )
    rows: list[Row] = []
    for path in files:
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise DataError(f"task {task}: cannot read {path} as parquet: {exc}", hint="fetch it again") from exc
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise DataError(
                f"task {task}: {path} lacks the column(s) {', '.join(missing)} of stepfun-ai/GEdit-Bench",
                hint="this is not GEdit-Bench's parquet file; use the dataset's own files",
            )
        for i, rec in enumerate(table.select(list(COLUMNS)).to_pylist()):
            where = f"{path.name} row {i + 1}"
            image = rec["input_image"]
            data = image.get("bytes") if isinstance(image, dict) else image
            if not isinstance(data, bytes) or not data:
                raise DataError(f"task {task}: {where} (key {rec['key']}) has no input_image bytes")
            rows.append(
                Row(
                    task_type=str(rec["task_type"]),
                    key=str(rec["key"]),
                    instruction=str(rec["instruction"]),
                    language=str(rec["instruction_language"]),
                    image=data,
                    intersection=bool(rec["Intersection_exist"]),
                    source=where,
                )
            )
    return rows
