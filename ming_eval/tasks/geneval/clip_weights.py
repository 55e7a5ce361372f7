"""The CLIP weights of GenEval's colour check: downloaded once into ming-eval's cache, found there offline.

open_clip names the weights of a pretrained tag by a Hugging Face hub file (``ViT-L-14`` / ``openai``:
``timm/vit_large_patch14_clip_224.openai``, ``open_clip_model.safetensors``, the safetensors copy open_clip
prefers to ``open_clip_pytorch_model.bin``). We fetch that same file over plain HTTPS from the hub's
``resolve`` URL (``$HF_ENDPOINT`` honoured, for mirrors) with the project's download helper (retries,
DNS fail-fast, full-disk clean-up) into ``$MING_EVAL_CACHE/models/clip/``, check that it is whole, and
hand open_clip the file with the tag's own preprocessing and activation, so the model is the one the tag
builds. A copy already in the Hugging Face cache (from open_clip's own download) is used as it is. The
hub publishes no checksum we could pin, so the check is completeness (the safetensors header against the
file's size), not origin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ming_eval.data.files import CACHE_ENV, cache_root, download, offline
from ming_eval.errors import DataError, MingEvalError

#: open_clip's names for a hub repository's weights (``open_clip.constants``)
_HUB_BIN = "open_clip_pytorch_model.bin"
_HUB_SAFETENSORS = "open_clip_model.safetensors"


@dataclass(frozen=True)
class HubWeights:
    """One weights file of a Hugging Face hub model repository."""

    repo_id: str
    filename: str
    revision: str = "main"

    @property
    def url(self) -> str:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        return f"{endpoint}/{self.repo_id}/resolve/{self.revision}/{self.filename}"


def pretrained_cfg(model_name: str, pretrained: str | None) -> dict[str, Any]:
    """open_clip's configuration of a built-in model's pretrained tag ({} for local folders, hub
    schemas, file paths and unknown tags)."""
    if not pretrained or ":" in model_name:
        return {}
    from open_clip.pretrained import get_pretrained_cfg

    return dict(get_pretrained_cfg(model_name.replace("/", "-"), pretrained))


def hub_weights(model_name: str, pretrained: str | None) -> HubWeights | None:
    """The hub file open_clip loads for ``pretrained``; None when the tag names no hub file (a local
    model, a file path, or a tag only published at a URL, which open_clip then fetches itself)."""
    hub = str(pretrained_cfg(model_name, pretrained).get("hf_hub") or "")
    repo_id, filename = os.path.split(hub)  # as open_clip splits it: "org/repo/" names the default file
    if not repo_id or filename not in ("", _HUB_BIN):
        return None  # a file of its own choosing: open_clip fetches it as before
    filename = _HUB_SAFETENSORS  # the safetensors copy open_clip looks for first
    return HubWeights(repo_id, filename)


def clip_cache() -> Path:
    return cache_root() / "models" / "clip"


def cached_path(weights: HubWeights) -> Path:
    return clip_cache() / weights.repo_id.replace("/", "--") / weights.filename


def _hf_cache_copy(weights: HubWeights) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(weights.repo_id, weights.filename, revision=weights.revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def _check_whole(path: Path) -> None:
    from ming_eval.models.hf_common import check_safetensors

    if path.suffix == ".safetensors":
        try:
            check_safetensors(path)
        except MingEvalError as exc:
            raise DataError(exc.message, hint=f"delete {path} and run `ming-eval data download geneval` again") from exc


def _offline_ways() -> str:
    return (
        f"on a machine with internet run `ming-eval data download geneval` and copy {clip_cache()} here (or set "
        f"{CACHE_ENV} to a shared cache); or pass your own copy with -o geneval.clip_model=local-dir:FOLDER "
        f"(open_clip_config.json + weights)"
        + ("" if offline() else "; set MING_EVAL_OFFLINE=1 to stop at once instead of trying the network")
    )


def clip_weights_file(model_name: str, pretrained: str | None) -> Path | None:
    """The local, whole copy of the weights of ``model_name`` / ``pretrained``, downloaded into the cache
    if missing (an error in offline mode); None when open_clip finds the weights by other means."""
    weights = hub_weights(model_name, pretrained)
    if weights is None:
        return None
    path = cached_path(weights)
    if not path.is_file():
        elsewhere = _hf_cache_copy(weights)
        if elsewhere is not None:
            _check_whole(elsewhere)
            return elsewhere
        what = f"the CLIP weights of {model_name} ({pretrained}), {weights.repo_id}/{weights.filename},"
        if offline():
            raise DataError(
                f"{what} are not cached at {path}, and offline mode is on",
                hint=_offline_ways(),
            )
        try:
            download(weights.url, path)
        except DataError as exc:
            raise DataError(exc.message, hint=_offline_ways()) from exc
    _check_whole(path)
    return path


def find_clip_weights(model_name: str, pretrained: str | None) -> tuple[str, str | None]:
    """What the colour check loads and where it is on this machine (None: missing), without
    downloading or checking anything (``ming-eval doctor``)."""
    if model_name.startswith("local-dir:"):
        folder = Path(model_name[len("local-dir:") :]).expanduser()
        return f"CLIP {folder}", str(folder) if folder.is_dir() else None
    weights = hub_weights(model_name, pretrained)
    if weights is None:
        return f"CLIP {model_name} ({pretrained})", "open_clip's own cache (not checked)"
    path = cached_path(weights)
    found = path if path.is_file() else _hf_cache_copy(weights)
    return f"CLIP {model_name} ({pretrained})", None if found is None else str(found)


def open_clip_kwargs(model_name: str, pretrained: str | None) -> dict[str, Any]:
    """The arguments that make ``open_clip.create_model_and_transforms(model_name, **kwargs)`` build what
    the tag builds, from the cached file when there is one (downloading it first if need be)."""
    path = clip_weights_file(model_name, pretrained)
    if path is None:
        return {"pretrained": pretrained}
    cfg = pretrained_cfg(model_name, pretrained)
    return {
        "pretrained": str(path),
        "image_mean": cfg.get("mean"),
        "image_std": cfg.get("std"),
        "image_interpolation": cfg.get("interpolation"),
        "image_resize_mode": cfg.get("resize_mode"),
    }
