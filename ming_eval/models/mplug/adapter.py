"""mPLUG-large VQA (``damo/mplug_visual-question-answering_coco_large_en``) as a zoo model: one image
and one question per request, a short text answer. DPG-Bench's grader (``ctx.graders.get("mplug-large")``).

Two backends (card option ``backend``):

- ``native`` (default): :mod:`ming_eval.models.mplug.modeling`, our PyTorch module, batched; the
  checkpoint is a ModelScope folder or the ``.safetensors`` written by ``ming-eval mplug convert``;
  no ModelScope at run time;
- ``modelscope``: upstream's own call, ``pipeline(Tasks.visual_question_answering, model=<checkpoint>,
  device=<device>)``, one question at a time (the reference; needs the ``modelscope`` extra in an
  environment with transformers 4.x, see :mod:`.reference`).

Decoding follows the checkpoint's ``config.yaml`` (beam 5, 1 to 10 tokens for mPLUG-large) unless
``understand.extra`` sets ``beam_size`` / ``min_length`` / ``max_length``; ``max_new_tokens`` only
caps the length further. Sampling and system prompts are refused: mPLUG has neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ming_eval.cards.schema import GenerateProtocol, ModelCard, UnderstandExtras, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter, protocol_extras
from ming_eval.core.sample import Capability, ImagePart, TextPart, UnderstandRequest
from ming_eval.errors import CheckpointError, DataError, ProtocolError
from ming_eval.models.mplug.config import LAYOUT


class MPlugOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``native``: our module, batched; ``modelscope``: upstream's pipeline, one question at a time
    backend: Literal["native", "modelscope"] = "native"
    #: keep a half-precision card dtype on the CPU too (by default it becomes float32 there)
    force_dtype: bool = False


class MPlugExtras(UnderstandExtras):
    """``understand.extra`` of mPLUG: beam search settings (None: the checkpoint's config.yaml)."""

    beam_size: int | None = Field(None, gt=0)
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, gt=0)


def modelscope_cache_dirs(model_id: str) -> list[Path]:
    """Where ModelScope's ``snapshot_download`` puts ``model_id`` (new and old cache layouts)."""
    root = Path(os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache" / "modelscope" / "hub")
    return [root / "models" / model_id, root / model_id]


def resolve_checkpoint(spec: str) -> Path:
    """A local folder or ``.safetensors``, or a ModelScope id found in ModelScope's cache."""
    path = Path(spec).expanduser()
    if path.exists():
        return path
    for candidate in modelscope_cache_dirs(spec):
        if (candidate / "pytorch_model.bin").is_file():
            return candidate
    raise CheckpointError(
        f"mPLUG checkpoint {spec!r} is neither a local path nor in ModelScope's cache",
        hint=f"download it (`modelscope download --model {spec} --local_dir DIR`, or "
        f"`git clone https://www.modelscope.cn/{spec}.git DIR`), optionally convert it with "
        "`ming-eval mplug convert DIR OUT.safetensors`, and set the card's checkpoint to DIR or OUT\n" + LAYOUT,
    )


def split_request(request: UnderstandRequest, index: int) -> tuple[Image.Image, str]:
    """The one image and the question text of a request."""
    images = [part.image for part in request.content if isinstance(part, ImagePart)]
    if len(images) != 1:
        raise DataError(f"request {index}: mPLUG answers about exactly one image, got {len(images)}")
    question = "".join(part.text for part in request.content if isinstance(part, TextPart)).strip()
    if not question:
        raise DataError(f"request {index}: the question is empty")
    return images[0].load(), question


class MPlugAdapter(BaseModelAdapter):
    """mPLUG VQA: one image + one question -> a short answer."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = MPlugOptions
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {Capability.UNDERSTAND: MPlugExtras}

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        from ming_eval.models import hf_common as hf

        assert isinstance(options, MPlugOptions)
        if self.checkpoint is None:
            raise CheckpointError(f"model card {card.name} sets no checkpoint", hint=LAYOUT)
        self.dtype = hf.torch_dtype(card.dtype, device, force=options.force_dtype)
        self.backend: Any
        if options.backend == "modelscope":
            from ming_eval.models.mplug.reference import ModelScopeVQA

            self.backend = ModelScopeVQA(self.checkpoint, device, self.dtype)
            self.defaults = self.backend.decoding
        else:
            from ming_eval.models.mplug.runtime import MPlugRunner
            from ming_eval.models.mplug.weights import load_any

            cfg, state, vocab = load_any(resolve_checkpoint(self.checkpoint))
            self.backend = MPlugRunner(cfg, state, vocab, device, self.dtype)
            self.defaults = (cfg.beam_size, cfg.min_length, cfg.max_length)

    @classmethod
    def locate_checkpoint(cls, checkpoint: str, revision: str | None) -> tuple[str | None, str]:
        """A local path or ModelScope's cache (not the Hugging Face hub's)."""
        try:
            return str(resolve_checkpoint(checkpoint)), ""
        except CheckpointError:
            return None, f"modelscope download --model {checkpoint} --local_dir DIR (then set the card's checkpoint)"

    @classmethod
    def check_protocol(cls, capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        problems = super().check_protocol(capability, protocol)
        if isinstance(protocol, UnderstandProtocol):
            if protocol.do_sample or protocol.temperature > 0:
                problems.append("understand: mPLUG decodes by beam search; set temperature 0 and do_sample false")
            if protocol.system_prompt is not None:
                problems.append("understand.system_prompt: mPLUG takes no system prompt")
        return problems

    def decoding(self, protocol: UnderstandProtocol) -> tuple[int, int, int]:
        """(beam size, min length, max length) for ``protocol``."""
        problems = self.check_protocol(Capability.UNDERSTAND, protocol)
        if problems:
            raise ProtocolError("; ".join(problems))
        extras = protocol_extras(MPlugExtras, Capability.UNDERSTAND, protocol)
        beam, low, high = self.defaults
        beam = extras.beam_size or beam
        low = low if extras.min_length is None else extras.min_length
        high = min(extras.max_length or high, protocol.max_new_tokens)
        return beam, low, high

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        beam, low, high = self.decoding(protocol)
        pairs = [split_request(r, i) for i, r in enumerate(requests)]
        extras = protocol.common_extras()
        questions = [extras.prompt_prefix + q + extras.prompt_suffix for _, q in pairs]
        images = [image for image, _ in pairs]
        answers: list[str] = self.backend.answer_texts(
            images, questions, beam_size=beam, min_length=low, max_length=high
        )
        return answers

    def close(self) -> None:
        self.backend = None
