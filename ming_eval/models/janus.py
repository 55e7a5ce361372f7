"""Janus and Janus-Pro through transformers' ``JanusForConditionalGeneration`` (transformers >= 4.52.1; tested on 5.x).

Understanding: prompts in DeepSeek's SFT format (``{system}\\n\\n{User}: {content}\\n\\n{Assistant}:``,
images as ``<image_placeholder>``, which the processor expands to 576 image tokens), batched with
left padding, greedy unless the protocol samples.

Generation: the prompt ``{User}: {prompt}\\n\\n{Assistant}:<begin_of_image>``, classifier-free
guidance and 576 VQ tokens per 384-px image, sampled by :mod:`ming_eval.models.janus_sampling` with
one RNG per image, so image ``j`` depends on ``request.seeds[j]`` alone.

Only converted checkpoints load (``model_type: janus``, e.g. ``deepseek-community/Janus-Pro-7B``);
DeepSeek's originals (``model_type: multi_modality``) must first go through transformers'
``convert_janus_weights_to_hf.py``. Role names are protocol settings (``extra.roles``): Janus-Pro
was trained with ``<|User|>``/``<|Assistant|>``, Janus-1.3B with ``User``/``Assistant``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from pydantic import BaseModel, Field

from ming_eval.cards.schema import GenerateExtras, GenerateProtocol, ModelCard, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter, protocol_extras
from ming_eval.core.sample import Capability, Content, GenerateRequest, ImagePart, UnderstandRequest
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models import hf_common as hf
from ming_eval.models import text_generation as tg
from ming_eval.models.janus_sampling import sample_image_tokens

IMAGE_PLACEHOLDER = "<image_placeholder>"
DEFAULT_ROLES = ("<|User|>", "<|Assistant|>")
DECODE_CHUNK = 8

LAYOUT = """<checkpoint>/
  config.json                 model_type "janus" (converted for transformers, e.g. deepseek-community/Janus-Pro-7B)
  generation_config.json
  model.safetensors           or model-0000x-of-0000n.safetensors + model.safetensors.index.json
  tokenizer.json, tokenizer_config.json
  preprocessor_config.json    and/or processor_config.json"""

_CONVERT_HINT = (
    "this is an original DeepSeek checkpoint (model_type multi_modality), which transformers' Janus classes "
    "cannot load: use the converted deepseek-community/Janus-Pro-1B or -7B, or convert it with transformers' "
    "src/transformers/models/janus/convert_janus_weights_to_hf.py --repo_id <id> --output_dir <dir>"
)


def check_janus_type(root: Path) -> dict[str, Any]:
    return hf.check_model_type(root, ["janus"], advice={"multi_modality": _CONVERT_HINT})


class JanusUnderstandExtras(tg.TextGenerationExtras):
    """``understand.extra`` of Janus: the role names of its SFT prompt format."""

    roles: tuple[str, str] = DEFAULT_ROLES


class JanusGenerateExtras(GenerateExtras):
    """``generate.extra`` of Janus: role names, and the image tokens per image the card expects (checked
    against the checkpoint when it loads)."""

    roles: tuple[str, str] = DEFAULT_ROLES
    image_tokens: int | None = Field(None, gt=0)


def content_text(content: Sequence[Content]) -> str:
    """Images become ``<image_placeholder>``; a newline separates an image from adjacent text
    (DeepSeek's examples write ``<image_placeholder>\\n{question}``) unless the text has one already.
    """
    out = ""
    prev_image = False
    for part in content:
        if isinstance(part, ImagePart):
            if out and not prev_image and not out.endswith("\n"):
                out += "\n"
            out += IMAGE_PLACEHOLDER
            prev_image = True
        else:
            if prev_image and part.text and not part.text.startswith("\n"):
                out += "\n"
            out += part.text
            prev_image = False
    return out.strip(" ")


def sft_prompt(body: str, *, system: str | None, user: str, assistant: str) -> str:
    """DeepSeek's SFT format: ``{system}\\n\\n{user}: {body}\\n\\n{assistant}:``."""
    prefix = f"{system.rstrip()}\n\n" if system else ""
    return f"{prefix}{user}: {body}\n\n{assistant}:"


class JanusAdapter(BaseModelAdapter):
    """Janus / Janus-Pro: understanding and text-to-image generation."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND, Capability.GENERATE})
    Options = hf.HFOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {
        Capability.GENERATE: ("cfg", "temperature"),
    }
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {
        Capability.UNDERSTAND: JanusUnderstandExtras,
        Capability.GENERATE: JanusGenerateExtras,
    }

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        from transformers import JanusForConditionalGeneration, JanusProcessor

        assert isinstance(options, hf.HFOptions)
        root = hf.resolve_checkpoint(
            self.checkpoint, model=card.name, revision=card.revision, precheck=check_janus_type
        )
        hf.check_parts(root, [hf.CONFIG, hf.WEIGHTS, hf.TOKENIZER, hf.PROCESSOR], layout=LAYOUT)
        config = check_janus_type(root)
        self.root = root
        self.dtype = hf.torch_dtype(card.dtype, device, force=options.force_dtype, config_dtype=hf.config_dtype(config))
        self.processor: Any = JanusProcessor.from_pretrained(root)
        # the adapter writes the system prompt itself (protocol or task), never the processor's default
        self.processor.use_default_system_prompt = False
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        model_cls: Any = JanusForConditionalGeneration
        self.model: Any = model_cls.from_pretrained(
            root, attn_implementation=options.attn_implementation, **{hf.dtype_kwarg(): self.dtype}
        )
        self.model.to(device).eval()
        self.pad_id = self._token_id(self.tokenizer.pad_token, "pad")
        self.boi_token = self.processor.image_start_token

    def _token_id(self, token: str | None, what: str) -> int:
        if token is None:
            raise CheckpointError(f"the tokenizer of {self.root} has no {what} token")
        return int(self.tokenizer.convert_tokens_to_ids(token))

    # -- geometry -------------------------------------------------------------------------------

    @property
    def num_image_tokens(self) -> int:
        return int(self.model.config.vision_config.num_image_tokens)

    @property
    def image_size(self) -> int:
        """Pixels per side of a generated image: VQ grid side times the decoder's upsampling."""
        vq = self.model.config.vq_config
        return int(vq.num_patches * 2 ** (len(vq.channel_multiplier) - 1))

    # -- understanding ----------------------------------------------------------------------------

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        extras = protocol_extras(JanusUnderstandExtras, Capability.UNDERSTAND, protocol)
        user, assistant = extras.roles
        prompts: list[str] = []
        images: list[Image.Image] = []
        for req in requests:
            body = content_text(req.content)
            prompts.append(sft_prompt(body, system=tg.system_prompt(protocol, req), user=user, assistant=assistant))
            images.extend(ref.load() for ref in req.images)
        inputs = self.processor(text=prompts, images=images or None, padding=True, return_tensors="pt")
        return tg.answer(
            self.model,
            self.tokenizer,
            inputs.to(self.device),
            protocol,
            extras,
            requests,
            dtype=self.dtype,
            pad_token_id=self.pad_id,
            generation_mode="text",
        )

    # -- generation -------------------------------------------------------------------------------

    def _check_generate(self, protocol: GenerateProtocol) -> None:
        size = self.image_size
        for name in ("height", "width"):
            value = getattr(protocol, name)
            if value is not None and value != size:
                raise ProtocolError(
                    f"generate.{name} is {value}, but {self.card.name} only makes {size}x{size} images",
                    hint=f"set generate.height/width to {size} (or leave them unset)",
                )
        expected = protocol_extras(JanusGenerateExtras, Capability.GENERATE, protocol).image_tokens
        if expected is not None and expected != self.num_image_tokens:
            raise ProtocolError(
                f"generate.extra.image_tokens is {expected}, but the checkpoint makes {self.num_image_tokens} per image"
            )

    def generation_prompt(self, prompt: str, protocol: GenerateProtocol) -> str:
        user, assistant = protocol_extras(JanusGenerateExtras, Capability.GENERATE, protocol).roles
        return sft_prompt(prompt.strip(), system=None, user=user, assistant=assistant) + self.boi_token

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        self._check_generate(protocol)
        assert protocol.cfg is not None and protocol.temperature is not None
        prompts = [self.generation_prompt(r.prompt, protocol) for r in requests for _ in r.seeds]
        seeds = [seed for r in requests for seed in r.seeds]
        if not prompts:
            return [[] for _ in requests]
        # the processor's image mode would append <begin_of_image> itself; the prompt already ends with it
        enc = self.tokenizer(prompts, padding=True, return_tensors="pt").to(self.device)
        generators = [torch.Generator(self.device).manual_seed(int(s)) for s in seeds]
        tokens = sample_image_tokens(
            self.model,
            enc["input_ids"],
            enc["attention_mask"],
            generators,
            pad_id=self.pad_id,
            cfg=float(protocol.cfg),
            temperature=float(protocol.temperature),
            top_k=protocol.top_k,
            num_tokens=self.num_image_tokens,
        )
        return hf.images_per_request(self.decode(tokens), requests)

    def decode(self, tokens: torch.Tensor) -> list[Image.Image]:
        images: list[Image.Image] = []
        with torch.inference_mode():
            for chunk in tokens.split(DECODE_CHUNK):
                pixels = self.model.model.vqmodel.decode(chunk)
                images.extend(hf.tensor_to_pil(pixels, value_range=(-1.0, 1.0)))
        return images

    def close(self) -> None:
        self.model = None
        self.processor = None
