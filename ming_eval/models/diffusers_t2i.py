"""Diffusion baselines for GenEval through diffusers pipelines: SDXL, SD3-Medium, Sana, FLUX.1-dev.

One request row per image: the prompts are repeated once per seed and the pipeline gets one CPU
``torch.Generator`` per row, so image ``j`` starts from the noise of ``request.seeds[j]`` whatever
else is in the batch and whatever the device (initial noise drawn on the CPU is device-independent).
Batched rows can still differ from a lone run by a rounding step (±1/255 has been seen on CPU):
batched matrix products round differently.

The protocol maps to the pipeline call: ``steps`` -> ``num_inference_steps``, ``cfg`` ->
``guidance_scale`` (FLUX.1-dev: its distilled guidance), ``height``/``width``, ``negative_prompt``,
and ``extra.pipeline_kwargs`` for anything pipeline-specific (``max_sequence_length``, Sana's
``use_resolution_binning``), checked against the pipeline's signature before any work.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ming_eval.cards.schema import Dtype, GenerateExtras, GenerateProtocol, ModelCard
from ming_eval.core.model import BaseModelAdapter, protocol_extras
from ming_eval.core.sample import Capability, GenerateRequest
from ming_eval.data.files import offline
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models import hf_common as hf

LAYOUT = """<checkpoint>/             (a diffusers repository, e.g. stabilityai/stable-diffusion-xl-base-1.0)
  model_index.json           names the pipeline class and its components
  <component>/               one folder per component listed there: unet/ or transformer/, vae/,
                             text_encoder*/ (config.json + weights), tokenizer*/, scheduler/"""

# components that are code + config only (no weights)
_WEIGHTLESS = ("Tokenizer", "Scheduler", "FeatureExtractor", "ImageProcessor", "Processor")
_RESERVED = {"prompt", "generator", "num_images_per_prompt", "output_type", "return_dict"}


class DiffusersOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: keep the card's dtype on CPU too (by default half precision becomes float32 on CPU)
    force_dtype: bool = False
    #: weight files variant to load (``fp16`` -> ``*.fp16.safetensors``), as the repository provides
    variant: str | None = None
    #: per-component dtypes after loading, e.g. ``{vae: float32}``
    component_dtypes: dict[str, Dtype] = {}
    #: diffusers' model CPU offload: components move to the GPU only while they run (less memory, slower)
    cpu_offload: bool = False


class DiffusersExtras(GenerateExtras):
    """``generate.extra`` of the diffusers adapters."""

    #: more arguments of the pipeline call (``max_sequence_length``, Sana's ``use_resolution_binning``);
    #: checked against the pipeline's signature once it is loaded
    pipeline_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("pipeline_kwargs")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & _RESERVED)
        if reserved:
            raise ValueError(f"{', '.join(reserved)} {'is' if len(reserved) == 1 else 'are'} set by the adapter")
        return value


def check_diffusers_layout(root: Path, pipeline_class: str | None) -> dict[str, Any]:
    """Check ``model_index.json`` and each component folder it names; returns the index."""
    if not (root / "model_index.json").is_file():
        raise CheckpointError(
            f"checkpoint {root} has no model_index.json: it is not a diffusers pipeline folder",
            hint=f"expected layout:\n{LAYOUT}",
        )
    index = hf.read_config(root, "model_index.json")
    found = index.get("_class_name")
    if pipeline_class and found != pipeline_class:
        raise CheckpointError(
            f"checkpoint {root} holds a {found} but this card's adapter runs a {pipeline_class}",
            hint="point the card at a checkpoint of the right family, or use the card of that family",
        )
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        library, cls = spec
        folder = root / name
        if not folder.is_dir() or not any(folder.iterdir()):
            raise CheckpointError(
                f"checkpoint {root} is missing component {name!r} ({library}.{cls}): no folder {folder}",
                hint=f"expected layout:\n{LAYOUT}",
            )
        if library in ("diffusers", "transformers") and not any(word in cls for word in _WEIGHTLESS):
            if not (folder / "config.json").is_file():
                raise CheckpointError(
                    f"component {name!r} of {root} has no config.json", hint=f"expected layout:\n{LAYOUT}"
                )
            weights = [
                p
                for p in folder.iterdir()
                if p.suffix in (".safetensors", ".bin") or (p.suffix == ".json" and ".index" in p.name)
            ]
            if not weights:
                raise CheckpointError(
                    f"component {name!r} of {root} has no weights (*.safetensors or *.bin in {folder})",
                    hint="the download or copy is incomplete; fetch the checkpoint again",
                )
            for idx in folder.glob("*.index*.json"):
                hf.check_shards(root, idx)
    hf.check_all_safetensors(root)
    return index


def download_pipeline(repo_id: str, *, revision: str | None, variant: str | None) -> Path:
    """diffusers' own download: only the files the pipeline loads (the chosen variant, no ONNX/Flax)."""
    from diffusers import DiffusionPipeline

    try:
        return Path(
            str(DiffusionPipeline.download(repo_id, revision=revision, variant=variant, local_files_only=offline()))
        )
    except Exception as exc:  # diffusers wraps hub errors in OSError/ValueError/EnvironmentError alike
        at = f"{repo_id}@{revision}" if revision else repo_id
        raise CheckpointError(
            f"cannot get diffusers checkpoint {at}: {type(exc).__name__}: {exc}",
            hint=f"prefetch it on a machine with internet (`hf download {repo_id}`, same HF_HOME), "
            "accept its licence on huggingface.co if it is gated, or pass a local folder with --checkpoint",
        ) from exc


class DiffusersT2IAdapter(BaseModelAdapter):
    """Any diffusers text-to-image pipeline; the subclasses pin the family."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})
    Options = DiffusersOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {
        Capability.GENERATE: ("steps", "cfg", "height", "width"),
    }
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {Capability.GENERATE: DiffusersExtras}
    #: the pipeline class the checkpoint must hold (None: whatever model_index.json names)
    pipeline_class: ClassVar[str | None] = None
    #: extra ``from_pretrained`` arguments
    load_kwargs: ClassVar[dict[str, Any]] = {}

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        import diffusers

        assert isinstance(options, DiffusersOptions)
        spec = self.checkpoint
        if spec and not Path(spec).expanduser().exists() and hf.looks_like_repo_id(spec):
            root = download_pipeline(spec, revision=card.revision, variant=options.variant)
        else:
            root = hf.resolve_checkpoint(spec, model=card.name, revision=card.revision)
        index = check_diffusers_layout(root, self.pipeline_class)
        self.root = root
        self.dtype = hf.torch_dtype(card.dtype, device, force=options.force_dtype)
        pipeline_cls = getattr(diffusers, str(index["_class_name"]), None)
        if pipeline_cls is None:
            raise CheckpointError(
                f"checkpoint {root} needs diffusers.{index['_class_name']}, "
                f"which diffusers {diffusers.__version__} lacks",
                hint="upgrade diffusers",
            )
        kwargs = dict(self.load_kwargs)
        if options.variant:
            kwargs["variant"] = options.variant
        self.pipe = pipeline_cls.from_pretrained(root, torch_dtype=self.dtype, **kwargs)
        for name, dtype in options.component_dtypes.items():
            component = getattr(self.pipe, name, None)
            if component is None:
                raise CheckpointError(f"options.component_dtypes names {name!r}, which {index['_class_name']} lacks")
            component.to(hf.torch_dtype(dtype, device, force=options.force_dtype))
        if options.cpu_offload and not device.startswith("cpu"):
            self.pipe.enable_model_cpu_offload(device=device)
        else:
            self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.call_params = set(inspect.signature(self.pipe.__call__).parameters)

    def call_kwargs(self, protocol: GenerateProtocol, rows: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "num_inference_steps": protocol.steps,
            "guidance_scale": protocol.cfg,
            "height": protocol.height,
            "width": protocol.width,
        }
        if protocol.negative_prompt is not None:
            kwargs["negative_prompt"] = [protocol.negative_prompt] * rows
        extra = protocol_extras(DiffusersExtras, Capability.GENERATE, protocol).pipeline_kwargs
        unknown = sorted(set(extra) - self.call_params)
        if unknown:
            raise ProtocolError(
                f"generate.extra.pipeline_kwargs for {type(self.pipe).__name__}: unknown {', '.join(unknown)}",
                hint=f"the pipeline accepts: {', '.join(sorted(self.call_params - _RESERVED - {'self', 'kwargs'}))}",
            )
        kwargs.update(extra)
        return kwargs

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        prompts = [r.prompt for r in requests for _ in r.seeds]
        seeds = [seed for r in requests for seed in r.seeds]
        if not prompts:
            return [[] for _ in requests]
        kwargs = self.call_kwargs(protocol, len(prompts))
        result = self.pipe(
            prompt=prompts, generator=hf.cpu_generators(seeds), num_images_per_prompt=1, output_type="pil", **kwargs
        )
        return hf.images_per_request(list(result.images), requests)

    def close(self) -> None:
        self.pipe = None


class SDXLAdapter(DiffusersT2IAdapter):
    pipeline_class = "StableDiffusionXLPipeline"
    # no invisible watermark: it perturbs the pixels the GenEval detector sees
    load_kwargs: ClassVar[dict[str, Any]] = {"add_watermarker": False}


class SD3Adapter(DiffusersT2IAdapter):
    pipeline_class = "StableDiffusion3Pipeline"


class SanaAdapter(DiffusersT2IAdapter):
    pipeline_class = "SanaPipeline"


class FluxAdapter(DiffusersT2IAdapter):
    pipeline_class = "FluxPipeline"
