"""A small prompt set in GenEval's metadata format, one prompt per tag, for the self-test and tests.

The prompts are made up here (not taken from GenEval's file) but use its exact format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SELFTEST_PROMPTS: tuple[dict[str, Any], ...] = (
    {"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "a photo of a cat"},
    {
        "tag": "two_object",
        "include": [{"class": "cup", "count": 1}, {"class": "kite", "count": 1}],
        "prompt": "a photo of a cup and a kite",
    },
    {
        "tag": "counting",
        "include": [{"class": "vase", "count": 3}],
        "exclude": [{"class": "vase", "count": 4}],
        "prompt": "a photo of three vases",
    },
    {
        "tag": "colors",
        "include": [{"class": "umbrella", "count": 1, "color": "green"}],
        "prompt": "a photo of a green umbrella",
    },
    {
        "tag": "position",
        "include": [{"class": "bird", "count": 1}, {"class": "bus", "count": 1, "position": ["below", 0]}],
        "prompt": "a photo of a bus below a bird",
    },
    {
        "tag": "color_attr",
        "include": [{"class": "car", "count": 1, "color": "red"}, {"class": "book", "count": 1, "color": "yellow"}],
        "prompt": "a photo of a red car and a yellow book",
    },
)


def write_metadata(path: Path, rows: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> Path:
    """Write metadata lines as GenEval's file has them (``json.dumps`` per line, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_selftest_metadata(path: Path) -> Path:
    return write_metadata(path, SELFTEST_PROMPTS)
