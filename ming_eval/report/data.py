"""Where the report data (baselines and table layouts) live, and how a YAML file of it is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ming_eval.cards.loader import builtin_root, format_validation_error
from ming_eval.errors import CardError

M = TypeVar("M", bound=BaseModel)


def reports_root() -> Path:
    """``reports/`` of a source checkout, or its copy inside the wheel (``ming_eval/_cards/reports``)."""
    return builtin_root() / "reports"


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """Read ``path`` as ``model``; errors name the file, the key and what is allowed."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CardError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CardError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CardError(f"{what} {path} must be a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise CardError(format_validation_error(f"{what} {path}", exc, model)) from exc
