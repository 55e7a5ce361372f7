"""The ``modelscope`` backend of mPLUG: upstream's own pipeline, as ELLA's ``compute_dpg_bench.py`` calls it.

``pipeline(Tasks.visual_question_answering, model=<checkpoint>, device=<device>)``, then one call
``pipe({'image': PIL, 'question': q})['text']`` per question. Precision: ELLA's script is launched
with ``accelerate --mixed_precision fp16``, but accelerate's autocast wraps only the ``forward`` of
the module it prepares, and the VQA is called through another method of a module without
parameters, so upstream's answers come from float32 weights without autocast. The card's dtype is
applied to the pipeline's model (float32 reproduces upstream; float16 is a faster approximation).

Environment: ModelScope's mPLUG code needs transformers 4.x (it calls ``invert_attention_mask`` and
``get_head_mask``, gone in transformers 5), so this backend runs in its own environment
(``pip install ming-eval[modelscope]`` without the ``models`` extra). ModelScope's VQA pipeline
module also imports its OFA classes, which import fairseq; fairseq 0.12.2 cannot be imported on
Python 3.11, so :func:`stub_fairseq` puts an empty stand-in in its place (never used by mPLUG).
Checked with modelscope 1.40.2, transformers 4.57.6, torch 2.14.1 on the CPU.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from ming_eval.errors import CheckpointError


def stub_fairseq() -> bool:
    """When fairseq cannot be imported, serve every ``fairseq.*`` module as an empty stand-in whose
    attributes are placeholder classes, so that ModelScope's OFA modules import. True if stubbed."""
    try:
        import fairseq  # noqa: F401

        return False
    except Exception:
        for name in [m for m in sys.modules if m == "fairseq" or m.startswith("fairseq.")]:
            del sys.modules[name]

    class Placeholder(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("__"):
                raise AttributeError(attr)
            return type(attr, (), {})

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
            if fullname == "fairseq" or fullname.startswith("fairseq."):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
            module = Placeholder(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module: types.ModuleType) -> None:
            return None

    sys.meta_path.insert(0, Finder())
    return True


def build_pipeline(checkpoint: str, device: str) -> Any:
    """Upstream's call (the checkpoint is a ModelScope id or a local ModelScope folder)."""
    stub_fairseq()
    try:
        from modelscope.pipelines import pipeline
        from modelscope.utils.constant import Tasks
    except ImportError as exc:
        raise CheckpointError(
            f"the modelscope backend needs ModelScope: {exc}",
            hint="install the `modelscope` extra in an environment with transformers 4.x, "
            "or use the default backend (option backend: native)",
        ) from None
    return pipeline(Tasks.visual_question_answering, model=checkpoint, device=device)


class ModelScopeVQA:
    """ModelScope's pipeline, one question at a time."""

    def __init__(self, checkpoint: str, device: str, dtype: torch.dtype) -> None:
        self.pipe = build_pipeline(checkpoint, device)
        model = self.pipe.model.model
        model.to(dtype)
        self.generator = model.beam_generator
        #: the checkpoint's (beam size, min length, max length)
        self.decoding = (self.generator.beam_size, self.generator.min_length, self.generator.max_length)

    def answer_texts(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str],
        *,
        beam_size: int | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> list[str]:
        beam, low, high = self.decoding
        self.generator.beam_size = beam_size or beam
        self.generator.min_length = low if min_length is None else min_length
        self.generator.max_length = max_length or high
        pairs = zip(images, questions, strict=True)
        return [str(self.pipe({"image": image, "question": q})["text"]) for image, q in pairs]
