"""The released Ming-Lite-Uni checkpoint: what it must contain and how to read it.

``inclusionAI/Ming-Lite-Uni`` is not a single ``transformers`` model but a folder of parts, each loaded
by the reference code (``Ming-unify/Ming_Uni/MingUniInference.py``) with its own loader. This module
names those parts, checks that a folder has all of them before anything is loaded, and reads weights
in the formats the reference loaders accept (safetensors or ``.bin``, single file or sharded). A hub
id is fetched by :func:`ming_eval.models.hf_common.resolve_checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ming_eval.errors import CheckpointError
from ming_eval.models import hf_common as hf


@dataclass(frozen=True)
class Part:
    """One sub-folder of the checkpoint and the files it needs."""

    folder: str
    what: str
    config: str | None  # the config file name, if the part has one
    weights: tuple[str, ...]  # any one of these (a single file or a shard index) is enough
    also: tuple[tuple[str, ...], ...] = ()  # further requirements: any one file of each group


_HF_WEIGHTS = hf.WEIGHTS.patterns
_DIFFUSERS_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.bin.index.json",
)

PARTS: tuple[Part, ...] = (
    Part("qwen2_5_vit", "the Qwen2.5-VL vision tower", "config.json", _HF_WEIGHTS),
    Part(
        "qwen2_5_llm",
        "the Qwen2.5 language model (3D RoPE) and its tokenizer",
        "config.json",
        _HF_WEIGHTS,
        (("tokenizer.json", "vocab.json"), ("tokenizer_config.json",)),
    ),
    Part("connector", "the bidirectional Qwen2 connector", "config.json", _HF_WEIGHTS),
    Part(
        "mlp",
        "linear_proj, proj_in/proj_out, the multi-scale queries and SANA's caption MLP",
        None,
        ("model.safetensors",),
    ),
    Part("vae", "SANA's DC-AE (diffusers AutoencoderDC)", "config.json", _DIFFUSERS_WEIGHTS),
    Part("transformer", "SANA's transformer (diffusers SanaTransformer2DModel)", "config.json", _DIFFUSERS_WEIGHTS),
    Part("scheduler", "SANA's scheduler config", "scheduler_config.json", ()),
)

EXPECTED_LAYOUT = """\
<checkpoint>/
  qwen2_5_vit/   config.json + model.safetensors (or sharded / pytorch_model.bin)
  qwen2_5_llm/   config.json + weights + tokenizer (tokenizer.json or vocab.json/merges.txt, tokenizer_config.json)
  connector/     config.json + weights (a Qwen2 causal LM used bidirectionally)
  mlp/           model.safetensors (linear_proj.*, proj_in.*, proj_out.*, query_tokens_dict.*, mlp.*)
  vae/           config.json + diffusion_pytorch_model.safetensors (AutoencoderDC)
  transformer/   config.json + diffusion_pytorch_model.safetensors (SanaTransformer2DModel)
  scheduler/     scheduler_config.json"""


def missing_parts(root: Path) -> list[str]:
    """What ``root`` lacks, one line per missing part or file; empty when the layout is complete."""
    problems: list[str] = []
    for part in PARTS:
        folder = root / part.folder
        if not folder.is_dir():
            problems.append(f"{part.folder}/ ({part.what}) is missing")
            continue
        if part.config and not (folder / part.config).is_file():
            problems.append(f"{part.folder}/{part.config} is missing")
        if part.weights and not any((folder / name).is_file() for name in part.weights):
            problems.append(f"{part.folder}/ has no weights (expected one of {', '.join(part.weights)})")
        for group in part.also:
            if not any((folder / name).is_file() for name in group):
                problems.append(f"{part.folder}/{' or '.join(group)} is missing")
    return problems


def validate_layout(root: Path) -> None:
    """Raise :class:`CheckpointError` naming every missing part, with the expected layout."""
    if not root.is_dir():
        raise CheckpointError(
            f"Ming-Lite-Uni checkpoint {root} is not a folder",
            hint=f"pass --checkpoint a folder laid out as:\n{EXPECTED_LAYOUT}",
        )
    problems = missing_parts(root)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise CheckpointError(
            f"Ming-Lite-Uni checkpoint {root} is incomplete:\n{lines}",
            hint=f"download the full inclusionAI/Ming-Lite-Uni snapshot; the expected layout is:\n{EXPECTED_LAYOUT}",
        )
    hf.check_all_safetensors(root)


def _weight_files(folder: Path) -> list[Path]:
    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
        ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json"),
    ):
        if (folder / single).is_file():
            return [folder / single]
        if (folder / index).is_file():
            return hf.check_shards(folder, folder / index)
    raise CheckpointError(f"no weights in {folder}", hint=f"the expected layout is:\n{EXPECTED_LAYOUT}")


def read_state_dict(folder: Path, *, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """All tensors of a part, cast to ``dtype`` if given."""
    out: dict[str, torch.Tensor] = {}
    for file in _weight_files(folder):
        try:
            tensors = _read_file(file)
        except CheckpointError:
            raise
        except Exception as exc:  # corrupt or truncated files raise library-specific errors
            raise CheckpointError(
                f"cannot read weights {file}: {type(exc).__name__}: {exc}",
                hint="the file is corrupt or truncated; delete it and download it again",
            ) from exc
        for name, tensor in tensors.items():
            out[name] = tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor
    return out


def _read_file(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    state: dict[str, torch.Tensor] = torch.load(str(file), map_location="cpu", weights_only=True, mmap=True)
    return state
