"""The record of imported outputs: one reader and one check for every task that imports a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.errors import DataError
from ming_eval.store.imports import IMPORT_STATE, check_earlier_import, read_import_state
from ming_eval.tasks.dpg_bench.task import _import_notes


def test_no_record_is_none_and_a_damaged_record_names_the_file(tmp_path: Path) -> None:
    assert read_import_state(tmp_path) is None and read_import_state(None) is None
    for damaged in ('["a", "list"]', '{"source": "cut'):
        (tmp_path / IMPORT_STATE).write_text(damaged)
        with pytest.raises(DataError, match=f"cannot read {tmp_path / IMPORT_STATE}"):
            read_import_state(tmp_path)


def test_dpg_notes_on_a_damaged_record_are_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / IMPORT_STATE).write_text("[1, 2]")  # a list once crashed with AttributeError
    with pytest.raises(DataError, match="record of an earlier import"):
        _import_notes(tmp_path)


def test_another_folder_or_a_changed_folder_is_refused(tmp_path: Path) -> None:
    state = {"source": "/data/a", "images_per_prompt": 4, "files": {"1.png": [10, 1]}}
    check_earlier_import(tmp_path, state, Path("/data/a"))  # nothing imported yet
    (tmp_path / IMPORT_STATE).write_text('{"source": "/data/a", "images_per_prompt": 4, "files": {"1.png": [10, 1]}}')
    check_earlier_import(tmp_path, state, Path("/data/a"))  # the same folder, unchanged
    with pytest.raises(DataError, match="another folder"):
        check_earlier_import(tmp_path, {**state, "source": "/data/b"}, Path("/data/b"))
    with pytest.raises(DataError, match=r"1 files or settings have changed since \(e\.g\. 1\.png\)"):
        check_earlier_import(tmp_path, {**state, "files": {"1.png": [11, 2]}}, Path("/data/a"))
