"""MetaQuery (facebookresearch/metaquery) text-to-image, from a checkpoint you trained yourself.

No official MetaQuery weights exist (the authors' issue #1), so the card points at the output of
MetaQuery's own ``train.py``, and the model runs through the user's own checkout of that repository
(found from the card option ``repo_path`` or ``$METAQUERY_REPO``): its ``MetaQueryPipeline`` is
imported from there, never vendored. The checkout's base models (``mllm_id``, ``diffusion_model_id``,
``vae_id`` in the checkpoint's ``config.json``) load through its own code from the Hugging Face cache.

Per-image seeds: every image is its own caption row with its own CPU ``torch.Generator``
(MetaQuery's ``sample_images`` accepts a list of generators), so image ``j`` depends on
``request.seeds[j]`` alone. MetaQuery's ``eval/sample_geneval.py`` instead reseeds the global RNG
with 42 before each prompt; its exact images cannot be reproduced image for image.

Understanding: MetaQuery replaces the backbone's language head, so it cannot answer; its published
understanding numbers are its frozen base model's (use the ``qwen2.5-vl-*`` cards).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ming_eval.cards.schema import GenerateProtocol, ModelCard
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, GenerateRequest
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models import hf_common as hf

REPO_ENV = "METAQUERY_REPO"
REPO_FILES = ("pipeline_metaquery.py", "models/metaquery.py", "models/model.py", "models/transformer_encoder.py")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")

LAYOUT = """<checkpoint>/                 the output_dir of MetaQuery's train.py (its newest checkpoint-<step>/
  checkpoint-<step>/             is used), or one checkpoint-<step>/ folder itself:
    config.json                  model_type "metaquery" (mllm_id, diffusion_model_id, vae_id, num_metaqueries, ...)
    model.safetensors            or model-0000x-of-0000n.safetensors + model.safetensors.index.json"""

REPO_LAYOUT = """<metaquery checkout>/          git clone https://github.com/facebookresearch/metaquery
  pipeline_metaquery.py
  models/metaquery.py, models/model.py, models/transformer_encoder.py"""


class MetaQueryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the user's checkout of facebookresearch/metaquery (default: $METAQUERY_REPO)
    repo_path: str | None = None
    #: keep the card's dtype on CPU too (by default half precision becomes float32 on CPU)
    force_dtype: bool = False


def find_repo(option: str | None) -> Path:
    """The MetaQuery checkout: the card option, else ``$METAQUERY_REPO``; checked for its modules."""
    where = "the card option repo_path" if option else f"${REPO_ENV}"
    spec = option or os.environ.get(REPO_ENV)
    if not spec:
        raise CheckpointError(
            "MetaQuery runs through your checkout of facebookresearch/metaquery, and none is configured",
            hint=f"clone it and set {REPO_ENV}=/path/to/metaquery (or options.repo_path in the card); "
            "install its requirements (environment.yml) in this environment",
        )
    repo = Path(spec).expanduser()
    if not repo.is_dir():
        raise CheckpointError(
            f"MetaQuery checkout {repo} (from {where}) does not exist", hint=f"expected:\n{REPO_LAYOUT}"
        )
    missing = [name for name in REPO_FILES if not (repo / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{repo} (from {where}) is not a MetaQuery checkout: missing {', '.join(missing)}",
            hint=f"expected:\n{REPO_LAYOUT}",
        )
    return repo.resolve()


def _inside(module: Any, repo: Path) -> bool:
    files = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []) or [])]
    return any(f and Path(f).resolve().is_relative_to(repo) for f in files)


def import_pipeline(repo: Path) -> type:
    """``MetaQueryPipeline`` from the checkout. Its modules import each other as top-level
    ``models.*`` and ``pipeline_metaquery``, so the checkout goes first on ``sys.path``; another
    package already imported under one of those names would shadow it, and is refused.
    """
    for name in ("models", "pipeline_metaquery"):
        loaded = sys.modules.get(name)
        if loaded is not None and not _inside(loaded, repo):
            raise CheckpointError(
                f"a different Python module named {name!r} is already imported "
                f"({getattr(loaded, '__file__', None) or loaded}); MetaQuery's code needs that name",
                hint="run ming-eval in a process that does not import another top-level 'models' package",
            )
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        module = importlib.import_module("pipeline_metaquery")
    except Exception as exc:  # its imports (diffusers, transformers internals) can fail in many ways
        raise CheckpointError(
            f"cannot import MetaQuery's pipeline from {repo}: {type(exc).__name__}: {exc}",
            hint="install the checkout's requirements (its environment.yml pins transformers 4.49) in this environment",
        ) from exc
    if not _inside(module, repo):
        raise CheckpointError(f"imported pipeline_metaquery from {module.__file__}, not from the checkout {repo}")
    cls = getattr(module, "MetaQueryPipeline", None)
    if not isinstance(cls, type):
        raise CheckpointError(f"{repo}/pipeline_metaquery.py defines no MetaQueryPipeline class")
    return cls


def _has_weights(folder: Path) -> bool:
    return any(p.is_file() and p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir())


def find_checkpoint(spec: str | None, *, model: str) -> Path:
    """A local MetaQuery checkpoint folder: ``spec`` itself if it holds weights, else its newest
    ``checkpoint-<step>`` (as MetaQuery's ``find_newest_checkpoint``). Hub ids are refused: there
    are no released weights.
    """
    if not spec:
        raise CheckpointError(
            f"model {model} has no checkpoint (MetaQuery has no released weights)",
            hint="train one with MetaQuery's train.py and pass its output folder with --checkpoint",
        )
    root = Path(spec).expanduser()
    if not root.is_dir():
        why = " (MetaQuery has no weights on the hub)" if hf.looks_like_repo_id(spec) else ""
        raise CheckpointError(
            f"MetaQuery checkpoint folder {root} does not exist{why}",
            hint=f"pass the output folder of MetaQuery's train.py with --checkpoint; expected layout:\n{LAYOUT}",
        )
    folder = root
    if not _has_weights(root):
        steps = sorted(
            ((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT_DIR.match(p.name))),
            key=lambda item: item[0],
        )
        if not steps:
            raise CheckpointError(
                f"MetaQuery checkpoint {root} has no weights and no checkpoint-<step> folders",
                hint=f"expected layout:\n{LAYOUT}",
            )
        folder = steps[-1][1]
    hf.check_parts(folder, [hf.CONFIG, hf.WEIGHTS], layout=LAYOUT)
    hf.check_model_type(folder, ["metaquery"])
    return folder


class MetaQueryAdapter(BaseModelAdapter):
    """MetaQuery text-to-image (Sana decoder) from a locally trained checkpoint."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})
    Options = MetaQueryOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {Capability.GENERATE: ("steps", "cfg")}

    def __init__(self, card: ModelCard, options: Any, checkpoint: str | None, device: str) -> None:
        super().__init__(card, options, checkpoint, device)
        assert isinstance(options, MetaQueryOptions)
        repo = find_repo(options.repo_path)
        folder = find_checkpoint(self.checkpoint, model=card.name)
        config = hf.read_config(folder)
        pipeline_cls = import_pipeline(repo)
        self.repo, self.folder = repo, folder
        self.dtype = hf.torch_dtype(card.dtype, device, force=options.force_dtype, config_dtype=hf.config_dtype(config))
        pipe: Any = getattr(pipeline_cls, "from_pretrained")(  # noqa: B009
            str(folder), ignore_mismatched_sizes=True, _gradient_checkpointing=False, **{hf.dtype_kwarg(): self.dtype}
        )
        self.pipe = pipe.to(device=device, dtype=self.dtype)
        self.pipe.eval()
        self.image_size = int(config.get("input_size", 16)) * int(config.get("vae_downsample_f", 32))

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        for name in ("height", "width"):
            value = getattr(protocol, name)
            if value is not None and value != self.image_size:
                raise ProtocolError(
                    f"generate.{name} is {value}, but this MetaQuery checkpoint makes "
                    f"{self.image_size}x{self.image_size} images (input_size x vae_downsample_f)",
                    hint=f"set generate.height/width to {self.image_size} or leave them unset",
                )
        captions = [r.prompt for r in requests for _ in r.seeds]
        seeds = [seed for r in requests for seed in r.seeds]
        if not captions:
            return [[] for _ in requests]
        with torch.inference_mode():
            result = self.pipe(
                caption=captions,
                image=None,
                negative_prompt=protocol.negative_prompt or "",
                guidance_scale=float(protocol.cfg or 0.0),
                num_inference_steps=int(protocol.steps or 0),
                num_images_per_prompt=1,
                generator=hf.cpu_generators(seeds),
                enable_progress_bar=False,
            )
        return hf.images_per_request(list(getattr(result, "images", result)), requests)

    def close(self) -> None:
        self.pipe = None
