"""The ``ming-lite-uni`` model adapter: understanding, text-to-image and editing, batched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from PIL import Image
from pydantic import BaseModel, Field, field_validator

from ming_eval.cards.schema import GenerateProtocol, ModelCard, UnderstandExtras, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, EditRequest, GenerateRequest, ImagePart, ImageRef, UnderstandRequest
from ming_eval.errors import DataError
from ming_eval.models import hf_common as hf
from ming_eval.models import text_generation
from ming_eval.models.ming_lite_uni import image_processing
from ming_eval.models.ming_lite_uni.checkpoint import validate_layout
from ming_eval.models.ming_lite_uni.decoding import Sampling
from ming_eval.models.ming_lite_uni.loading import require_transformers_5
from ming_eval.models.ming_lite_uni.modeling import MingLiteUniModel, Prompt, SanaSettings
from ming_eval.models.ming_lite_uni.prompting import question_text

_GEN_FIELDS = ("steps", "cfg", "height", "width")


class MingLiteUniOptions(hf.HFOptions):
    """Card ``options`` for Ming-Lite-Uni: ``force_dtype`` and ``attn_implementation`` (SDPA by default,
    for the vision tower, LLM and connector) as every Hugging Face adapter, plus these."""

    round_rope_to_dtype: bool = Field(
        True,
        description="in half precision, compute RoPE frequencies (and the vision tower's angles) in the compute "
        "dtype, as the reference does after model.to(bfloat16); no effect in float32",
    )
    max_diffusion_batch: int = Field(16, ge=1, description="most images SANA samples at once")


def _load_image(ref: ImageRef) -> Image.Image:
    """Decode an image and check the vision tower can take it, naming the image if not."""
    image = ref.load()
    width, height = image.size
    if min(width, height) < 1:
        raise DataError(f"image {ref.source} is empty ({width}x{height})")
    try:
        image_processing.smart_resize(height, width)
    except DataError as exc:
        raise DataError(
            f"image {ref.source} ({width}x{height}) cannot be used: {exc}",
            hint="Ming-Lite-Uni's vision tower accepts aspect ratios up to 200:1",
        ) from exc
    return image


class MingLiteUniUnderstandExtras(UnderstandExtras):
    """``understand.extra`` of Ming-Lite-Uni: its decoder is greedy or temperature/top_p sampling only."""

    #: accepted so a card shared with other models may say 1.0 (none); anything else is refused
    repetition_penalty: float = 1.0

    @field_validator("repetition_penalty")
    @classmethod
    def _none(cls, value: float) -> float:
        if value != 1.0:
            raise ValueError("Ming-Lite-Uni's decoder takes no repetition penalty (greedy or temperature/top_p only)")
        return value


class MingLiteUni(BaseModelAdapter):
    """inclusionAI's Ming-Lite-Uni (Qwen2.5-VL vision tower, Qwen2.5-7B with 3D RoPE, SANA 1.6B).

    Understanding builds the chat prompt without the image-generation prefix, decodes with a KV cache
    and stops at ``<|im_end|>``. Generation and editing run one LLM pass over the multi-scale queries
    and sample SANA with the card's steps, cfg and size; image ``j`` of a request is drawn from
    ``request.seeds[j]`` alone, so results do not depend on how requests are batched.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.UNDERSTAND, Capability.GENERATE, Capability.EDIT}
    )
    Options = MingLiteUniOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {
        Capability.GENERATE: _GEN_FIELDS,
        Capability.EDIT: _GEN_FIELDS,
    }
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {
        Capability.UNDERSTAND: MingLiteUniUnderstandExtras
    }

    def __init__(self, card: ModelCard, options: BaseModel, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        self._model: MingLiteUniModel | None = None

    @classmethod
    def check_protocol(cls, capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        problems = super().check_protocol(capability, protocol)
        if isinstance(protocol, GenerateProtocol):
            if protocol.negative_prompt:
                problems.append(
                    f"{capability.value}.negative_prompt is set, but Ming-Lite-Uni's unconditional branch is a "
                    "zero embedding, not a text prompt"
                )
            if protocol.image_cfg is not None:
                problems.append(f"{capability.value}.image_cfg is set, but Ming-Lite-Uni has no image guidance")
        return problems

    # ----------------------------------------------------------------------------- loading
    @property
    def model(self) -> MingLiteUniModel:
        if self._model is None:
            opts = self.options
            assert isinstance(opts, MingLiteUniOptions)
            require_transformers_5()  # before a hub checkpoint is downloaded
            root = hf.resolve_checkpoint(self.checkpoint, model=self.card.name, revision=self.card.revision)
            validate_layout(root)
            llm_config = hf.read_config(root / "qwen2_5_llm")
            self._model = MingLiteUniModel(
                root,
                device=torch.device(self.device),
                dtype=hf.torch_dtype(
                    self.card.dtype, self.device, force=opts.force_dtype, config_dtype=hf.config_dtype(llm_config)
                ),
                attn=opts.attn_implementation,
                round_rope=opts.round_rope_to_dtype,
            )
        return self._model

    def close(self) -> None:
        self._model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ----------------------------------------------------------------------------- understanding
    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        model = self.model
        refs = [ref for r in requests for ref in r.images]
        encoded = iter(model.encode_images([_load_image(ref) for ref in refs]))
        prompts = []
        for r in requests:
            parts: list[str | int] = []
            feats, grids = [], []
            for part in r.content:
                if isinstance(part, ImagePart):
                    f, g = next(encoded)
                    feats.append(f)
                    grids.append(g)
                    parts.append(f.shape[0])
                else:
                    parts.append(part.text)
            system = text_generation.system_prompt(protocol, r)
            ids = model.prompts.build(question_text(parts), system=system, generate_image=False)
            prompts.append(Prompt(ids, feats, grids))
        sampling = Sampling(
            do_sample=text_generation.sampling(protocol),
            temperature=protocol.temperature if protocol.temperature > 0 else 1.0,
            top_p=protocol.top_p,
        )
        generators = [torch.Generator().manual_seed(r.seed) for r in requests] if sampling.do_sample else None
        tokens = model.answer(prompts, max_new_tokens=protocol.max_new_tokens, sampling=sampling, generators=generators)
        return [model.tokenizer.decode(t, skip_special_tokens=True) for t in tokens]

    # ----------------------------------------------------------------------------- generation
    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        model = self.model
        prompts = [
            Prompt(model.prompts.build(question_text([r.prompt]), generate_image=False), queries=True) for r in requests
        ]
        return self._draw(prompts, [r.seeds for r in requests], protocol)

    def edit(self, requests: Sequence[EditRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        model = self.model
        encoded = model.encode_images([_load_image(r.image) for r in requests])
        prompts = []
        for r, (feats, grid) in zip(requests, encoded, strict=True):
            ids = model.prompts.build(question_text([feats.shape[0], r.instruction]), generate_image=False)
            prompts.append(Prompt(ids, [feats], [grid], queries=True))
        return self._draw(prompts, [r.seeds for r in requests], protocol)

    def _draw(
        self, prompts: list[Prompt], seeds: list[tuple[int, ...]], protocol: GenerateProtocol
    ) -> list[list[Image.Image]]:
        model = self.model
        assert protocol.steps and protocol.cfg is not None and protocol.height and protocol.width
        settings = SanaSettings(protocol.steps, protocol.cfg, protocol.height, protocol.width)
        embeds = model.prompt_embeds(prompts)  # the LLM pass is shared by all images of a prompt
        jobs = [(i, seed) for i, row in enumerate(seeds) for seed in row]
        out: list[list[Image.Image]] = [[] for _ in prompts]
        chunk = self.options.max_diffusion_batch  # type: ignore[attr-defined]
        for start in range(0, len(jobs), chunk):
            part = jobs[start : start + chunk]
            rows = embeds[torch.tensor([i for i, _ in part], device=embeds.device)]
            for (i, _), image in zip(part, model.sample(rows, [s for _, s in part], settings), strict=True):
                out[i].append(image)
        return out
