"""ming-eval: evaluation harness for unified multimodal models.

The stable public surface is re-exported here; everything else is internal. Heavy modules (torch,
pandas, model SDKs) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BaseModelAdapter",
    "BaseTask",
    "Capability",
    "EditRequest",
    "GenerateRequest",
    "ImagePart",
    "ImageRef",
    "Metric",
    "Model",
    "Prediction",
    "Sample",
    "SampleScore",
    "Scorer",
    "Task",
    "TaskContext",
    "TaskResult",
    "TextPart",
    "UnderstandRequest",
    "load_run",
]

_EXPORTS = {
    "Capability": "ming_eval.core.sample",
    "Sample": "ming_eval.core.sample",
    "ImageRef": "ming_eval.core.sample",
    "TextPart": "ming_eval.core.sample",
    "ImagePart": "ming_eval.core.sample",
    "UnderstandRequest": "ming_eval.core.sample",
    "GenerateRequest": "ming_eval.core.sample",
    "EditRequest": "ming_eval.core.sample",
    "Prediction": "ming_eval.core.results",
    "SampleScore": "ming_eval.core.results",
    "Metric": "ming_eval.core.results",
    "TaskResult": "ming_eval.core.results",
    "Model": "ming_eval.core.model",
    "BaseModelAdapter": "ming_eval.core.model",
    "Task": "ming_eval.core.task",
    "BaseTask": "ming_eval.core.task",
    "Scorer": "ming_eval.core.task",
    "TaskContext": "ming_eval.core.task",
    "load_run": "ming_eval.store.load",
}

if TYPE_CHECKING:
    from ming_eval.core.model import BaseModelAdapter, Model
    from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
    from ming_eval.core.sample import (
        Capability,
        EditRequest,
        GenerateRequest,
        ImagePart,
        ImageRef,
        Sample,
        TextPart,
        UnderstandRequest,
    )
    from ming_eval.core.task import BaseTask, Scorer, Task, TaskContext
    from ming_eval.store.load import load_run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ming_eval' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
