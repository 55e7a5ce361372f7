"""Where the report data (baselines and table layouts) live, and how a YAML file of it is read."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from ming_eval.cards.loader import builtin_root, read_yaml, validate

M = TypeVar("M", bound=BaseModel)


def reports_root() -> Path:
    """``reports/`` of a source checkout, or its copy inside the wheel (``ming_eval/_cards/reports``)."""
    return builtin_root() / "reports"


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """Read ``path`` as ``model``, as cards are read; errors name the file, the key and what is allowed."""
    return validate(model, read_yaml(path), f"{what} {path}")
