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


ALL_TASKS = "*"


def parse_protocol_overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["max_new_tokens=64", "mmstar.prompt_style=short"]`` -> ``{"*": {...}, "mmstar": {...}}``.

    A key whose first part is a protocol field (``extra.top_k`` included) applies to every task of the
    run; otherwise the first part names a task."""
    from ming_eval.cards.schema import GenerateProtocol, UnderstandProtocol

    fields = set(UnderstandProtocol.model_fields) | set(GenerateProtocol.model_fields)
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        head, dot, rest = key.partition(".")
        if not eq or not head or (dot and not rest):
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE or TASK.KEY=VALUE, e.g. max_new_tokens=64")
        task, field = (ALL_TASKS, key) if head in fields or not dot else (head, rest)
        out.setdefault(task, {})[field] = _value(value)
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
