"""mPLUG weights: ModelScope's ``pytorch_model.bin`` -> the tensors :class:`~.modeling.MPlugVQA` uses,
and the converted ``.safetensors`` file (``ming-eval mplug convert``).

ModelScope's checkpoint also holds what VQA inference never uses, which is dropped: the momentum
copies of distillation (``*_m``), CLIP's text tower and projections, the fusion layers before the
first that runs, tied or recomputed buffers (``decoder.bias``, ``position_ids``). Keys may carry a
``model.`` or ``module.`` prefix and sit under a ``model`` / ``module`` entry; every other key must
be one the model has, with the same shape, and none may be missing.

The converted file holds the tensors under our (= ModelScope's) names, the architecture as JSON in
its metadata with the source file's sha256; ``<file>.sha256`` (sha256sum format) and the checkpoint's
``vocab.txt`` sit beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from ming_eval.data.files import cached_digest
from ming_eval.errors import CheckpointError
from ming_eval.models.hf_common import check_safetensors
from ming_eval.models.mplug.config import LAYOUT, VOCAB_NAME, WEIGHTS_NAME, MPlugConfig, read_modelscope_config
from ming_eval.models.mplug.modeling import MPlugVQA
from ming_eval.tasks.geneval.detectors.convert import read_metadata, verify_sha256_sidecar, write_sha256

FORMAT = "ming-eval/mplug-vqa/v1"
_UNUSED = re.compile(
    r"^(visual_encoder_m|text_encoder_m|fusion_encoder_m|text_decoder_m|visn_fc_m|visn_layer_norm_m)\."
    r"|^visual_encoder\.(transformer|token_embedding|positional_embedding|ln_final|text_projection|logit_scale)"
    r"|^visual_encoder\.visual\.proj$"
    r"|\.position_ids$|^text_decoder\.cls\.predictions\.decoder\.bias$"
)
_FUSION_LAYER = re.compile(r"^fusion_encoder\.encoder\.layer\.(\d+)\.")


def _strip(key: str) -> str:
    for prefix in ("module.", "model."):
        key = key.removeprefix(prefix)
    return key


def load_modelscope_state(path: Path) -> dict[str, Tensor]:
    """The tensors of ModelScope's ``pytorch_model.bin`` (loaded with ``weights_only=True``)."""
    if not path.is_file():
        raise CheckpointError(f"mPLUG weights {path} do not exist", hint=LAYOUT)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable tensors-only PyTorch checkpoint: {exc}") from exc
    for wrapper in ("model", "module"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors")
    return {_strip(k): v for k, v in obj.items()}


def select_state(state: Mapping[str, Tensor], cfg: MPlugConfig, source: str) -> dict[str, Tensor]:
    """The tensors the model uses, checked against its parameters (names and shapes)."""
    with torch.device("meta"):
        expected = {k: v.shape for k, v in MPlugVQA(cfg).state_dict().items()}
    kept: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        layer = _FUSION_LAYER.match(key)
        if _UNUSED.search(key) or (layer is not None and int(layer.group(1)) < cfg.fusion_start):
            continue
        if key not in expected:
            unknown.append(key)
        elif tuple(value.shape) != tuple(expected[key]):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(value.shape)}, the config asks for {tuple(expected[key])}",
                hint="the weights and config.yaml / config_bert.json belong to different models",
            )
        else:
            kept[key] = value
    missing = sorted(set(expected) - set(kept))
    if unknown or missing:
        parts = [f"missing {len(missing)} (e.g. {', '.join(missing[:3])})" if missing else ""]
        parts.append(f"unexpected {len(unknown)} (e.g. {', '.join(unknown[:3])})" if unknown else "")
        raise CheckpointError(
            f"{source} is not an mPLUG VQA checkpoint for its config: " + "; ".join(p for p in parts if p),
            hint=LAYOUT,
        )
    return kept


def load_modelscope_folder(root: Path) -> tuple[MPlugConfig, dict[str, Tensor]]:
    cfg = read_modelscope_config(root)
    return cfg, select_state(load_modelscope_state(root / WEIGHTS_NAME), cfg, str(root / WEIGHTS_NAME))


def convert_checkpoint(root: Path, out: Path) -> str:
    """ModelScope folder -> ``out`` (.safetensors) + ``out.sha256`` + ``vocab.txt`` beside it; the sha256."""
    from safetensors.torch import save_file

    if out.suffix != ".safetensors":
        raise CheckpointError(f"output {out} must end in .safetensors")
    cfg, state = load_modelscope_folder(root)
    vocab = root / VOCAB_NAME
    if not vocab.is_file():
        raise CheckpointError(f"{root} has no {VOCAB_NAME}", hint=LAYOUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "config": json.dumps(cfg.to_dict()),
        "source": str(root.name),
        "source_sha256": cached_digest(root / WEIGHTS_NAME, "sha256"),
    }
    tmp = out.with_name(out.name + ".part")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, out)
    if vocab.resolve() != (out.parent / VOCAB_NAME).resolve():
        shutil.copyfile(vocab, out.parent / VOCAB_NAME)
    return write_sha256(out)


def load_converted(path: Path) -> tuple[MPlugConfig, dict[str, Tensor]]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"mPLUG weights {path} do not exist", hint=LAYOUT)
    check_safetensors(path)
    verify_sha256_sidecar(path)
    meta = read_metadata(path, hint=LAYOUT)
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} was not written by `ming-eval mplug convert` (format {meta.get('format')!r})", hint=LAYOUT
        )
    try:
        cfg = MPlugConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} has no valid mPLUG config in its metadata: {exc}") from exc
    return cfg, select_state(load_file(str(path)), cfg, str(path))


def load_any(path: Path) -> tuple[MPlugConfig, dict[str, Tensor], Path]:
    """Config, tensors and vocabulary file of a converted ``.safetensors`` or a ModelScope folder."""
    if path.suffix == ".safetensors":
        cfg, state = load_converted(path)
        vocab = path.parent / VOCAB_NAME
    elif path.is_dir():
        cfg, state = load_modelscope_folder(path)
        vocab = path / VOCAB_NAME
    else:
        raise CheckpointError(f"mPLUG checkpoint {path} is neither a folder nor a .safetensors file", hint=LAYOUT)
    if not vocab.is_file():
        raise CheckpointError(f"{vocab} is missing (mPLUG's BERT vocabulary)", hint=LAYOUT)
    return cfg, state, vocab
