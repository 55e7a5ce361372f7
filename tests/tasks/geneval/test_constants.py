"""The class list equals upstream's object_names.txt byte for byte (by its pinned sha256)."""

from __future__ import annotations

import hashlib

import pytest

from ming_eval.tasks.geneval.constants import CLASS_INDEX, COLORS, OBJECT_NAMES, OBJECT_NAMES_SHA256, TAGS
from tests.tasks.geneval.helpers import upstream_data_dir


def test_object_names_match_upstream_file_hash():
    text = "".join(name + "\n" for name in OBJECT_NAMES)
    assert hashlib.sha256(text.encode()).hexdigest() == OBJECT_NAMES_SHA256
    assert len(OBJECT_NAMES) == 80 and len(CLASS_INDEX) == 80


def test_object_names_match_shared_copy():
    folder = upstream_data_dir()
    if folder is None:
        pytest.skip("no upstream copy of object_names.txt here")
    path = folder / "object_names.txt"
    assert tuple(path.read_text().splitlines()) == OBJECT_NAMES


def test_vocabulary():
    assert len(COLORS) == 10 and COLORS[0] == "red" and COLORS[-1] == "white"
    assert TAGS == ("single_object", "two_object", "counting", "colors", "position", "color_attr")
