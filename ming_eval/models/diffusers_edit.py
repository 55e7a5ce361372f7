"""Instruction-editing baselines through diffusers pipelines: InstructPix2Pix.

The adapters load checkpoints as the text-to-image ones do (:mod:`ming_eval.models.diffusers_t2i`: the
same layout check, dtype and offload options) and implement ``edit``: the source image and the
instruction go to the pipeline, one call per edited image, with a CPU ``torch.Generator`` seeded from
``request.seeds[j]``, so image ``j`` of a request is the same whatever the batch (sources of different
sizes cannot share a batch tensor, so the pipeline is called per image).

The protocol maps to the call: ``steps`` -> ``num_inference_steps``, ``cfg`` -> ``guidance_scale``,
``image_cfg`` -> ``image_guidance_scale`` (InstructPix2Pix), ``height``/``width`` when set (else
the pipeline's own choice from the source: InstructPix2Pix keeps
its size, rounded to the VAE's multiple; Kontext picks its preferred resolution nearest the source's
aspect ratio), and ``extra.pipeline_kwargs`` for the rest, checked against the pipeline's signature before any work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.model import protocol_extras
from ming_eval.core.sample import Capability, EditRequest
from ming_eval.errors import ProtocolError
from ming_eval.models import hf_common as hf
from ming_eval.models.diffusers_t2i import _RESERVED, DiffusersExtras, DiffusersT2IAdapter

_EDIT_RESERVED = _RESERVED | {"image"}


class DiffusersEditAdapter(DiffusersT2IAdapter):
    """Any diffusers image-editing pipeline called with ``prompt`` and ``image``; subclasses pin the family."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.EDIT})
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {Capability.EDIT: ("steps", "cfg")}
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {Capability.EDIT: DiffusersExtras}

    def edit_kwargs(self, protocol: GenerateProtocol) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"num_inference_steps": protocol.steps, "guidance_scale": protocol.cfg}
        if protocol.height is not None and protocol.width is not None:
            kwargs.update(height=protocol.height, width=protocol.width)
        if protocol.image_cfg is not None:
            kwargs["image_guidance_scale"] = protocol.image_cfg
        if protocol.negative_prompt is not None:
            kwargs["negative_prompt"] = protocol.negative_prompt
        extra = protocol_extras(DiffusersExtras, Capability.EDIT, protocol).pipeline_kwargs
        unknown = sorted((set(extra) - self.call_params) | (set(extra) & _EDIT_RESERVED))
        absent = sorted(k for k in kwargs if k not in self.call_params)
        if unknown or absent:
            raise ProtocolError(
                f"edit protocol for {type(self.pipe).__name__}: it takes no {', '.join(unknown + absent)}",
                hint=f"the pipeline accepts: {', '.join(sorted(self.call_params - _EDIT_RESERVED - {'self'}))}",
            )
        kwargs.update(extra)
        return kwargs

    def edit(self, requests: Sequence[EditRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        kwargs = self.edit_kwargs(protocol)
        out: list[list[Image.Image]] = []
        for request in requests:
            source = request.image.load()
            images = []
            for generator in hf.cpu_generators(request.seeds):
                result = self.pipe(
                    prompt=request.instruction,
                    image=source,
                    generator=generator,
                    num_images_per_prompt=1,
                    output_type="pil",
                    **kwargs,
                )
                images.append(result.images[0].convert("RGB"))
            out.append(images)
        return out


class InstructPix2PixAdapter(DiffusersEditAdapter):
    pipeline_class = "StableDiffusionInstructPix2PixPipeline"
