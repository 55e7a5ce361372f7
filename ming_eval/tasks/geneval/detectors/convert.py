"""mmdetection Mask2Former checkpoints -> this package's safetensors weights.

Our parameter names are mmdetection 3.x's. A 2.x checkpoint (what GenEval uses) differs only in the
transformer layers built by mmcv 1.x's ``BaseTransformerLayer``:

- pixel-decoder encoder layers: ``attentions.0`` -> ``self_attn``, ``ffns.0`` -> ``ffn``;
- transformer-decoder layers (operation order cross-attn, self-attn, FFN): ``attentions.0`` ->
  ``cross_attn``, ``attentions.1`` -> ``self_attn``, ``ffns.0`` -> ``ffn``.

Both layouts also store Swin's ``relative_position_index`` buffers, which are recomputed, not loaded.
The written file carries the architecture (JSON) and the source checkpoint's sha256 in its metadata,
and a ``<file>.sha256`` line in ``sha256sum`` format sits beside it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from ming_eval.cards.schema import DataFile
from ming_eval.data.files import cached_digest, file_digest, verify_file
from ming_eval.errors import CheckpointError
from ming_eval.tasks.geneval.detectors.config import SWIN_S, Mask2FormerConfig

Layout = Literal["mmdet2", "mmdet3"]
FORMAT = "ming-eval/mask2former/v1"
_IGNORED = re.compile(r"(^|\.)relative_position_index$")
_ENCODER = re.compile(r"^(panoptic_head\.pixel_decoder\.encoder\.layers\.\d+\.)(attentions\.0|ffns\.0)\.")
_DECODER = re.compile(r"^(panoptic_head\.transformer_decoder\.layers\.\d+\.)(attentions\.[01]|ffns\.0)\.")
_ENCODER_NAMES = {"attentions.0": "self_attn", "ffns.0": "ffn"}
_DECODER_NAMES = {"attentions.0": "cross_attn", "attentions.1": "self_attn", "ffns.0": "ffn"}


def _numpy_metadata_types() -> list[Callable[..., Any] | tuple[Callable[..., Any], str]]:
    """The globals that the ``meta`` of mmdet checkpoints needs beyond tensors: numpy scalars (an epoch
    as ``np.int64``), plain numeric arrays (a seed) and their dtypes, under the module names of numpy 1
    and 2. None of them runs code from the file; an object array needs further globals, still refused."""
    import numpy as np
    from numpy._core import multiarray

    dtypes = {type(np.dtype(code)) for code in "?bhilqpBHILQPefdgFDGUS"}
    allowed: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (np.dtype, "numpy.dtype"),
        (np.ndarray, "numpy.ndarray"),
    ]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(multiarray.scalar, f"{module}.scalar"), (multiarray._reconstruct, f"{module}._reconstruct")]
    allowed += [(cls, f"numpy.dtypes.{cls.__name__}") for cls in sorted(dtypes, key=lambda c: c.__name__)]
    return allowed


def load_torch_checkpoint(path: Path, *, allow_pickle: bool = False) -> dict[str, Tensor]:
    """The ``state_dict`` of an mmdet ``.pth`` file (a dict with ``state_dict``, or a bare state dict).

    Loads with torch's weights-only unpickler, allow-listing only the numpy scalar, array and dtype types
    that mmdet's ``meta`` holds. Anything else in the file would need full unpickling, which runs code
    from the file: only with ``allow_pickle`` (``convert-detector --allow-pickle``, a file the user
    vouches for), never for a download.
    """
    if not path.is_file():
        raise CheckpointError(
            f"detector checkpoint {path} does not exist", hint="pass the path of an mmdet Mask2Former .pth file"
        )
    try:
        with torch.serialization.safe_globals(_numpy_metadata_types()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "weights only" not in str(exc).lower() and "weights_only" not in str(exc):
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
        if not allow_pickle:
            try:
                unsafe = ", ".join(torch.serialization.get_unsafe_globals_in_checkpoint(path)) or "unknown objects"
            except Exception:  # an old (non-zip) file: torch lists globals of zip checkpoints only
                unsafe = "Python objects besides tensors and numpy values"
            raise CheckpointError(
                f"{path} holds {unsafe}, which the weights-only loader refuses (unpickling them would run "
                "code from the file)",
                hint="if you trust the file, convert it yourself with full unpickling: "
                "`ming-eval geneval convert-detector --allow-pickle CHECKPOINT OUT.safetensors`, and pass "
                "OUT.safetensors as -o geneval.detector.weights=...",
            ) from exc
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc2}") from exc2
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path} has no state_dict of tensors (top-level keys: "
            f"{sorted(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__})"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def detect_layout(state: Mapping[str, Tensor], source: str) -> Layout:
    keys = list(state)
    if any(_ENCODER.match(k) or _DECODER.match(k) for k in keys):
        return "mmdet2"
    if any(k.startswith("panoptic_head.transformer_decoder.layers.") and ".cross_attn." in k for k in keys):
        return "mmdet3"
    sample = ", ".join(sorted(keys)[:5]) or "(no keys)"
    raise CheckpointError(
        f"{source} is not an mmdet Mask2Former checkpoint (2.x or 3.x layout); its first keys: {sample}",
        hint="GenEval's detector is mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco (mmdet 2.x) or "
        "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco (mmdet 3.x)",
    )


def _rename_mmdet2(key: str) -> str:
    m = _ENCODER.match(key)
    if m:
        return m.group(1) + _ENCODER_NAMES[m.group(2)] + key[m.end() - 1 :]
    m = _DECODER.match(key)
    if m:
        return m.group(1) + _DECODER_NAMES[m.group(2)] + key[m.end() - 1 :]
    return key


def to_mmdet3_names(state: Mapping[str, Tensor], layout: Layout) -> dict[str, Tensor]:
    """Rename to the mmdet 3.x layout (a no-op for 3.x); keeps every tensor."""
    if layout == "mmdet3":
        return dict(state)
    return {_rename_mmdet2(k): v for k, v in state.items()}


def check_state_dict(state: Mapping[str, Tensor], cfg: Mask2FormerConfig, source: str) -> dict[str, Tensor]:
    """Our model's tensors from an mmdet-3.x-named state dict; a clear error on anything missing.

    Extra keys that mmdet keeps but we recompute (``relative_position_index``) are dropped; any other
    unexpected key, missing key or shape mismatch is an error naming ``source``.
    """
    from ming_eval.tasks.geneval.detectors.head import Mask2Former

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Mask2Former(cfg).state_dict().items()}
    kept = {k: v for k, v in state.items() if not _IGNORED.search(k)}
    missing = sorted(set(expected) - set(kept))
    unexpected = sorted(set(kept) - set(expected))
    wrong = sorted(
        f"{k}: {tuple(kept[k].shape)} != {expected[k]}"
        for k in set(expected) & set(kept)
        if tuple(kept[k].shape) != expected[k]
    )
    if missing or unexpected or wrong:
        parts = []
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                more = f" (+{len(items) - 8} more)" if len(items) > 8 else ""
                parts.append(f"{len(items)} {title}: {', '.join(items[:8])}{more}")
        raise CheckpointError(
            f"{source} does not match the Mask2Former architecture "
            f"(embed_dims={cfg.embed_dims}, depths={list(cfg.depths)}): " + "; ".join(parts),
            hint="use GenEval's Mask2Former Swin-S COCO instance-segmentation checkpoint, or the tiny "
            "architecture for a tiny test checkpoint",
        )
    return {k: kept[k].detach().to(torch.float32).contiguous() for k in expected}


def write_sha256(path: Path) -> str:
    digest = file_digest(path, "sha256")
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def verify_sha256_sidecar(path: Path) -> None:
    """Check ``<path>.sha256`` if it exists (the digest is remembered by size and mtime, as for task
    data, so the weights are hashed once, not on every load)."""
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        return
    text = sidecar.read_text().split()
    if not text or not re.fullmatch(r"[0-9a-f]{64}", text[0]):
        raise CheckpointError(f"{sidecar} is not a sha256sum line", hint="delete it or convert again")
    verify_file(
        path,
        DataFile(name=path.name, sha256=text[0]),
        fix="the converted weights changed since conversion: convert the checkpoint again",
    )


def save_converted(
    state: Mapping[str, Tensor],
    cfg: Mask2FormerConfig,
    out: Path,
    *,
    source: str,
    source_sha256: str | None,
    layout: str,
) -> str:
    """Write safetensors (atomically) plus its ``.sha256``; returns the digest."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "config": json.dumps(cfg.to_dict()),
        "source": source,
        "source_layout": layout,
        "source_sha256": source_sha256 or "",
    }
    tmp = out.with_name(out.name + ".part")
    save_file(dict(state), str(tmp), metadata=metadata)
    os.replace(tmp, out)
    return write_sha256(out)


def convert_checkpoint(src: Path, out: Path, *, cfg: Mask2FormerConfig = SWIN_S, allow_pickle: bool = False) -> str:
    """Convert an mmdet 2.x or 3.x Mask2Former ``.pth`` to our safetensors; returns the sha256."""
    state = load_torch_checkpoint(src, allow_pickle=allow_pickle)
    layout = detect_layout(state, str(src))
    ours = check_state_dict(to_mmdet3_names(state, layout), cfg, str(src))
    return save_converted(ours, cfg, out, source=src.name, source_sha256=cached_digest(src, "sha256"), layout=layout)


def read_metadata(
    path: Path, hint: str = "convert the mmdet checkpoint with `ming-eval geneval convert-detector`"
) -> dict[str, str]:
    """The metadata of a converted ``.safetensors`` file; ``hint`` says how to make a good one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file: {exc}",
            hint=hint,
        ) from exc


def load_converted(path: Path) -> tuple[Mask2FormerConfig, dict[str, Tensor]]:
    """Architecture and tensors of a converted file, checked against its sidecar and our model."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(
            f"detector weights {path} do not exist",
            hint="convert GenEval's checkpoint with `ming-eval geneval convert-detector "
            "CKPT OUT`, or leave `weights` unset to download it",
        )
    verify_sha256_sidecar(path)
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} was not written by ming-eval's detector converter "
            f"(format {meta.get('format')!r}, expected {FORMAT!r})",
            hint="convert the mmdet checkpoint with `ming-eval geneval convert-detector`",
        )
    try:
        cfg = Mask2FormerConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} has no valid architecture in its metadata: {exc}") from exc
    state = load_file(str(path))
    return cfg, check_state_dict(state, cfg, str(path))


def load_any(path: Path, cfg: Mask2FormerConfig = SWIN_S) -> tuple[Mask2FormerConfig, dict[str, Tensor]]:
    """Weights from a converted ``.safetensors`` or directly from an mmdet ``.pth`` (converted in memory)."""
    if path.suffix == ".safetensors":
        return load_converted(path)
    state = load_torch_checkpoint(path)
    layout = detect_layout(state, str(path))
    return cfg, check_state_dict(to_mmdet3_names(state, layout), cfg, str(path))
