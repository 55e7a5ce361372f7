"""Parsing of repeatable ``KEY=VALUE`` command-line options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_task_options(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["geneval.threshold=0.4", ...]`` -> ``{"geneval": {"threshold": 0.4}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        task, dot, option = key.partition(".")
        if not eq or not dot or not task or not option:
            raise typer.BadParameter(f"{item!r}: expected TASK.OPTION=VALUE, e.g. geneval.threshold=0.4")
        out.setdefault(task, {})[option] = _value(value)
    return out


def parse_data_overrides(items: list[str] | None) -> dict[str, Path]:
    """``["MMBench_DEV_EN.tsv=/data/mmb.tsv"]`` -> ``{"MMBench_DEV_EN.tsv": Path(...)}``."""
    out: dict[str, Path] = {}
    for item in items or []:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise typer.BadParameter(f"{item!r}: expected FILE=PATH, e.g. evaluation_metadata.jsonl=./meta.jsonl")
        out[name] = Path(path).expanduser()
    return out
