"""What a plugin package's ``ming_eval.testing`` entry point names: a module that registers builders."""

from pathlib import Path
from typing import Any

from ming_eval.testing.registry import register_tiny_model


class LabAdapter:
    """Stands in for a lab's adapter class."""


def lab_tiny(folder: Path) -> dict[str, Any]:
    return {"checkpoint": str(folder)}


register_tiny_model(LabAdapter, lab_tiny)
