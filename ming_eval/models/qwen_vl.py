"""Qwen2.5-VL (and Qwen2-VL) for understanding, through transformers.

These also stand for MetaQuery's understanding numbers: MetaQuery keeps its Qwen2.5-VL backbone
frozen and drops the language head, so its MMBench/MMMU/... scores are the base model's.

Images are resized the way ``qwen_vl_utils`` (and so VLMEvalKit) resizes them before the processor
sees them: each side rounded to a multiple of 28 (patch 14 x merge 2), the pixel count brought into
``[min_pixels, max_pixels]`` (``protocol.extra``, :class:`QwenVLExtras`; VLMEvalKit uses 1280*28*28 .. 16384*28*28, and
min 10*10*28*28 for OCRBench), then a bicubic PIL resize. The processor then finds nothing left to
resize. Prompts go through the checkpoint's chat template (which adds Qwen's default system prompt
when none is given), batched with left padding, greedy unless the protocol samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel, Field

from ming_eval.cards.schema import GenerateProtocol, ModelCard, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter, protocol_extras
from ming_eval.core.sample import Capability, ImagePart, UnderstandRequest
from ming_eval.errors import DataError, ProtocolError
from ming_eval.models import hf_common as hf
from ming_eval.models import text_generation as tg

LAYOUT = """<checkpoint>/            (e.g. Qwen/Qwen2.5-VL-7B-Instruct)
  config.json                model_type "qwen2_5_vl" (or "qwen2_vl")
  generation_config.json
  model.safetensors          or model-0000x-of-0000n.safetensors + model.safetensors.index.json
  tokenizer.json, tokenizer_config.json (vocab.json, merges.txt)
  chat_template.json | chat_template.jinja
  preprocessor_config.json"""

DEFAULT_MIN_PIXELS = 56 * 56
DEFAULT_MAX_PIXELS = 28 * 28 * 1280
MAX_ASPECT = 200


def smart_resize(height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The ``(height, width)`` Qwen2-VL's preprocessing resizes an image to: both multiples of
    ``factor``, close to the original aspect ratio, with a pixel count in ``[min_pixels, max_pixels]``.
    """
    if min(height, width) < 1:
        raise DataError(f"image of size {width}x{height} is empty")
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise DataError(
            f"image of size {width}x{height} has an aspect ratio above {MAX_ASPECT}, which Qwen2-VL rejects"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def check_qwen_type(root: Path) -> dict[str, Any]:
    return hf.check_model_type(root, ["qwen2_5_vl", "qwen2_vl"])


class QwenVLExtras(tg.TextGenerationExtras):
    """``understand.extra`` of Qwen2-VL / Qwen2.5-VL: the pixel range images are resized into."""

    min_pixels: int = Field(DEFAULT_MIN_PIXELS, gt=0)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0)


def pixel_limits(extras: QwenVLExtras) -> tuple[int, int]:
    if extras.min_pixels > extras.max_pixels:
        raise ProtocolError(
            f"understand.extra needs min_pixels <= max_pixels, got {extras.min_pixels} and {extras.max_pixels}"
        )
    return extras.min_pixels, extras.max_pixels


class QwenVLAdapter(BaseModelAdapter):
    """Qwen2.5-VL-Instruct / Qwen2-VL-Instruct: images + text -> text."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = hf.HFOptions
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {Capability.UNDERSTAND: QwenVLExtras}

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

        assert isinstance(options, hf.HFOptions)
        root = hf.resolve_checkpoint(self.checkpoint, model=card.name, revision=card.revision, precheck=check_qwen_type)
        hf.check_parts(root, [hf.CONFIG, hf.WEIGHTS, hf.TOKENIZER, hf.PROCESSOR], layout=LAYOUT)
        config = check_qwen_type(root)
        qwen25 = config["model_type"] == "qwen2_5_vl"
        model_cls: Any = Qwen2_5_VLForConditionalGeneration if qwen25 else Qwen2VLForConditionalGeneration
        self.root = root
        self.dtype = hf.torch_dtype(card.dtype, device, force=options.force_dtype, config_dtype=hf.config_dtype(config))
        self.processor: Any = AutoProcessor.from_pretrained(root)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        image_processor = self.processor.image_processor
        self.factor = int(image_processor.patch_size) * int(image_processor.merge_size)
        self.model: Any = model_cls.from_pretrained(
            root, attn_implementation=options.attn_implementation, **{hf.dtype_kwarg(): self.dtype}
        )
        self.model.to(device).eval()

    def _prepare_image(self, image: Image.Image, min_pixels: int, max_pixels: int) -> Image.Image:
        height, width = smart_resize(
            image.height, image.width, factor=self.factor, min_pixels=min_pixels, max_pixels=max_pixels
        )
        if (width, height) == image.size:
            return image
        return image.resize((width, height), Image.Resampling.BICUBIC)

    def _allow_pixels(self, min_pixels: int, max_pixels: int) -> None:
        """Open the processor's own limits to the protocol's, so it keeps our resize as it is."""
        image_processor = self.processor.image_processor
        size = dict(getattr(image_processor, "size", None) or {})
        size["shortest_edge"] = min(min_pixels, int(size.get("shortest_edge", min_pixels)))
        size["longest_edge"] = max(max_pixels, int(size.get("longest_edge", max_pixels)))
        image_processor.size = size
        for name, value in (("min_pixels", size["shortest_edge"]), ("max_pixels", size["longest_edge"])):
            if hasattr(image_processor, name):
                setattr(image_processor, name, value)

    def messages(self, request: UnderstandRequest, protocol: UnderstandProtocol) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = [
            {"type": "image"} if isinstance(part, ImagePart) else {"type": "text", "text": part.text}
            for part in request.content
        ]
        out: list[dict[str, Any]] = []
        system = tg.system_prompt(protocol, request)
        if system is not None:
            out.append({"role": "system", "content": [{"type": "text", "text": system}]})
        out.append({"role": "user", "content": content})
        return out

    @classmethod
    def check_protocol(cls, capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        problems = super().check_protocol(capability, protocol)
        if not problems and isinstance(protocol, UnderstandProtocol):
            try:
                pixel_limits(protocol_extras(QwenVLExtras, capability, protocol))
            except ProtocolError as exc:
                problems.append(exc.message)
        return problems

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        extras = protocol_extras(QwenVLExtras, Capability.UNDERSTAND, protocol)
        min_pixels, max_pixels = pixel_limits(extras)
        self._allow_pixels(min_pixels, max_pixels)
        texts: list[str] = []
        images: list[Image.Image] = []
        for req in requests:
            messages = self.messages(req, protocol)
            texts.append(self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
            images.extend(self._prepare_image(ref.load(), min_pixels, max_pixels) for ref in req.images)
        inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt").to(self.device)
        return tg.answer(
            self.model,
            self.tokenizer,
            inputs,
            protocol,
            extras,
            requests,
            dtype=self.dtype,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def close(self) -> None:
        self.model = None
        self.processor = None
