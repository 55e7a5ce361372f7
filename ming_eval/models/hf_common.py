"""What the Hugging Face-based adapters share: finding a checkpoint, checking its parts, dtype, seeds.

A card's ``checkpoint`` is either a local folder (loaded as it is) or a hub id (``org/name``),
fetched once into the Hugging Face cache with :func:`huggingface_hub.snapshot_download`. Offline mode
(``HF_HUB_OFFLINE=1`` or ``MING_EVAL_OFFLINE=1``) only looks in that cache. Either way the folder is
checked for the parts the adapter needs before anything heavy is loaded, so a half-copied checkpoint
fails with the name of the missing part and the layout expected, not with a stack trace from deep
inside ``from_pretrained``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ming_eval.core.sample import EditRequest, GenerateRequest
from ming_eval.data.files import offline
from ming_eval.errors import CheckpointError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")

_DTYPES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float32": torch.float32,
}


class HFOptions(BaseModel):
    """Options every Hugging Face-based adapter accepts in its card's ``options``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: keep the card's dtype on CPU too (by default half precision becomes float32 on CPU, where
    #: bf16/fp16 kernels are slow or missing)
    force_dtype: bool = False
    #: the attention kernels transformers uses; SDPA needs no extra package
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"


@dataclass(frozen=True)
class Part:
    """One part of a checkpoint folder: present when any of ``patterns`` (globs, relative) matches."""

    name: str
    patterns: tuple[str, ...]

    def present(self, root: Path) -> bool:
        return any(_glob_any(root, pattern) for pattern in self.patterns)

    def describe(self) -> str:
        return f"{self.name} ({' or '.join(self.patterns)})"


def _glob_any(root: Path, pattern: str) -> bool:
    if not any(ch in pattern for ch in "*?["):
        return (root / pattern).exists()
    return next(iter(root.glob(pattern)), None) is not None


WEIGHTS = Part(
    "weights",
    ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"),
)
CONFIG = Part("model config", ("config.json",))
TOKENIZER = Part("tokenizer", ("tokenizer.json", "tokenizer.model", "vocab.json"))
PROCESSOR = Part("image processor config", ("preprocessor_config.json", "processor_config.json"))


def looks_like_repo_id(spec: str) -> bool:
    return bool(_REPO_ID.match(spec)) and not spec.startswith((".", "/", "~"))


def resolve_checkpoint(
    spec: str | None,
    *,
    model: str,
    revision: str | None = None,
    allow_patterns: Sequence[str] | None = None,
    precheck: Callable[[Path], Any] | None = None,
) -> Path:
    """The local folder of checkpoint ``spec`` (a path, or a hub id downloaded into the HF cache).

    ``precheck`` runs on a folder holding only the hub checkpoint's ``config.json`` before the full
    download, so a checkpoint of the wrong kind fails before gigabytes are fetched.

    Raises :class:`CheckpointError` when there is no checkpoint, the path is missing or a file, or
    the hub download fails (offline without a cached copy, unknown or gated repo).
    """
    if not spec:
        raise CheckpointError(
            f"model {model} has no checkpoint",
            hint="set `checkpoint:` in the model card or pass --checkpoint PATH",
        )
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"checkpoint {path} is a file; expected a checkpoint folder")
        return path
    if looks_like_repo_id(spec):
        if precheck is not None:
            precheck(download_snapshot(spec, revision=revision, allow_patterns=["config.json"]))
        return download_snapshot(spec, revision=revision, allow_patterns=allow_patterns)
    raise CheckpointError(
        f"checkpoint folder {path} does not exist (and {spec!r} is not a Hugging Face hub id)",
        hint="pass an existing folder to --checkpoint, or a hub id such as org/name",
    )


def download_snapshot(
    repo_id: str, *, revision: str | None = None, allow_patterns: Sequence[str] | None = None
) -> Path:
    """Fetch ``repo_id`` into the Hugging Face cache (or find it there when offline)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"{repo_id}@{revision}" if revision else repo_id
    prefetch = f"hf download {repo_id}" + (f" --revision {revision}" if revision else "")
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=list(allow_patterns) if allow_patterns else None,
            local_files_only=offline(),
        )
    except LocalEntryNotFoundError as exc:
        raise CheckpointError(
            f"checkpoint {at} is not in the Hugging Face cache and offline mode is on (or the hub is unreachable)",
            hint=f"on a machine with internet run `{prefetch}` with the same HF_HOME, or pass a local "
            "folder with --checkpoint",
        ) from exc
    except GatedRepoError as exc:
        raise CheckpointError(
            f"checkpoint {at} is gated on the Hugging Face hub",
            hint="accept its licence on huggingface.co and log in (`hf auth login` or HF_TOKEN)",
        ) from exc
    except RevisionNotFoundError as exc:
        raise CheckpointError(f"checkpoint {repo_id} has no revision {revision!r}") from exc
    except RepositoryNotFoundError as exc:
        raise CheckpointError(
            f"checkpoint {repo_id} is neither a local folder nor a model repository on the Hugging Face hub",
            hint="check the spelling; private repositories need `hf auth login`",
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise CheckpointError(
            f"cannot download checkpoint {at}: {type(exc).__name__}: {exc}",
            hint=f"retry, or prefetch with `{prefetch}`",
        ) from exc
    return Path(str(folder))


def check_parts(root: Path, parts: Sequence[Part], *, layout: str) -> None:
    """Raise :class:`CheckpointError` naming every part of ``parts`` missing from ``root``.

    ``layout`` is a short description of the expected folder, shown in the hint.
    """
    missing = [part for part in parts if not part.present(root)]
    if missing:
        names = ", ".join(part.describe() for part in missing)
        raise CheckpointError(f"checkpoint {root} is missing {names}", hint=f"expected layout:\n{layout}")
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        check_shards(root, root / index_name)
    check_all_safetensors(root)


def check_all_safetensors(root: Path) -> None:
    """:func:`check_safetensors` on every ``*.safetensors`` under ``root`` (sub-folders too): the check
    every checkpoint folder gets before anything loads (transformers, diffusers and our own parts alike)."""
    for weights in sorted(root.rglob("*.safetensors")):
        check_safetensors(weights)


def check_safetensors(path: Path) -> None:
    """Raise :class:`CheckpointError` if ``path`` is shorter than its own header says (a download or copy
    cut short) or has no readable header; reads the header only."""
    size = path.stat().st_size
    fix = "the download or copy was cut short: re-download or re-copy this file (compare its size with the source's)"
    try:
        with path.open("rb") as fh:
            prefix = fh.read(8)
            length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if not 0 < length <= size - 8:
                raise CheckpointError(f"{path} is not a safetensors file, or is truncated ({size} bytes)", hint=fix)
            header = json.loads(fh.read(length))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path} has a damaged safetensors header: {exc}", hint=fix) from exc
    if 8 + length + end > size:
        raise CheckpointError(
            f"{path} is truncated: {size} bytes, but its header describes {8 + length + end}", hint=fix
        )


def check_shards(root: Path, index: Path) -> list[Path]:
    """The shard files a ``*.index.json`` names, in name order; every one must be present (a partial
    copy is a common mistake). Empty when there is no such index."""
    if not index.is_file():
        return []
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shards = sorted(set(weight_map.values()))
        if not all(isinstance(name, str) for name in shards):
            raise TypeError("weight_map values must be file names")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"cannot read shard index {index}: {exc}", hint="re-download the checkpoint") from exc
    missing = [name for name in shards if not (index.parent / name).is_file()]
    if missing:
        raise CheckpointError(
            f"checkpoint {root} is missing {len(missing)} of {len(shards)} weight shards named in "
            f"{index.name}: {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}",
            hint="the copy is incomplete: re-download or re-copy the checkpoint folder",
        )
    return [index.parent / name for name in shards]


def read_config(root: Path, name: str = "config.json") -> dict[str, Any]:
    path = root / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {root} has no {name}") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot parse {path}: {exc}", hint="the file is corrupt; re-download it") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a JSON object")
    return data


def check_model_type(root: Path, expected: Sequence[str], *, advice: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``config.json`` and insist on one of the ``expected`` model types.

    ``advice`` maps known wrong model types to a hint (e.g. an original checkpoint that needs converting).
    """
    config = read_config(root)
    model_type = config.get("model_type")
    if model_type not in expected:
        hint = (advice or {}).get(str(model_type), f"point the card at a checkpoint of type {' or '.join(expected)}")
        raise CheckpointError(
            f"checkpoint {root} has model_type {model_type!r}; this adapter loads {' or '.join(expected)}",
            hint=hint,
        )
    return config


def torch_dtype(card_dtype: str, device: str, *, force: bool = False, config_dtype: Any = None) -> torch.dtype:
    """The dtype to load weights in: the card's, except half precision on CPU becomes float32
    unless ``force`` is set. ``auto`` takes the checkpoint's own ``torch_dtype``/``dtype``.
    """
    if card_dtype == "auto":
        name = str(config_dtype).replace("torch.", "") if config_dtype else "float32"
        dtype = _DTYPES.get(name, torch.float32)
    else:
        dtype = _DTYPES[card_dtype]
    if torch.device(device).type == "cpu" and not force and dtype in (torch.bfloat16, torch.float16):
        return torch.float32
    return dtype


def config_dtype(config: dict[str, Any]) -> Any:
    """A checkpoint config's declared dtype (``dtype`` in transformers 5, ``torch_dtype`` before)."""
    return config.get("dtype") or config.get("torch_dtype") or (config.get("text_config") or {}).get("torch_dtype")


def dtype_kwarg() -> str:
    """The ``from_pretrained`` keyword for the weights' dtype: ``dtype`` from transformers 4.56 on,
    ``torch_dtype`` before (the ``models`` extra asks for 5.x; MetaQuery's own pinned environment is older)."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56.0") else "torch_dtype"


def cache_keyword(module: torch.nn.Module) -> str:
    """The ``forward`` keyword for a KV cache: ``cache`` from transformers 5 on, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


def cpu_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per seed. Initial noise drawn on the CPU is the same whatever the device."""
    return [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]


def images_per_request(
    images: Sequence[Image.Image], requests: Sequence[GenerateRequest | EditRequest]
) -> list[list[Image.Image]]:
    """Images made one per seed, in request order, back as one RGB list per request."""
    total = sum(len(r.seeds) for r in requests)
    if len(images) != total:
        raise RuntimeError(f"the model returned {len(images)} images for {total} seeds")
    out: list[list[Image.Image]] = []
    start = 0
    for r in requests:
        out.append([img.convert("RGB") for img in images[start : start + len(r.seeds)]])
        start += len(r.seeds)
    return out


def tensor_to_pil(images: torch.Tensor, *, value_range: tuple[float, float] = (0.0, 1.0)) -> list[Image.Image]:
    """``(N, C, H, W)`` or ``(N, H, W, C)`` float images in ``value_range`` to RGB PIL images.

    Values are scaled to 0..255, clipped and truncated to uint8 (as Janus' and GenEval's reference
    scripts do).
    """
    arr = images.detach().to(torch.float32).cpu().numpy()
    if arr.ndim != 4:
        raise ValueError(f"expected a 4-d image batch, got shape {tuple(arr.shape)}")
    if arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)
    lo, hi = value_range
    arr = np.clip((arr - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return [Image.fromarray(a, "RGB") for a in arr]
