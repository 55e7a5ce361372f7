"""mPLUG's architecture settings, read from a ModelScope model folder or a converted file.

A ModelScope mPLUG folder (``damo/mplug_visual-question-answering_coco_large_en``) holds:

- ``config.yaml``: the vision tower (CLIP ViT name and sizes), the image resolution, the width of the
  visual features, and the answer decoding (``beam_size``, ``min_length``, ``max_length``);
- ``config_bert.json`` (named by ``bert_config``): a BERT config shared by the question encoder, the
  fusion encoder and the answer decoder, with the extra keys ``text_encoder_layers``,
  ``fusion_layers``, ``text_decode_layers``, ``stride_layer`` and ``encoder_width``;
- ``vocab.txt`` (BERT uncased WordPiece), ``pytorch_model.bin``, ``configuration.json``.

The defaults below are ModelScope's ``MPlugConfig`` defaults (mPLUG-large), used where the yaml is
silent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ming_eval.errors import CheckpointError

YAML_NAME = "config.yaml"
VOCAB_NAME = "vocab.txt"
WEIGHTS_NAME = "pytorch_model.bin"

LAYOUT = """<checkpoint>/            (ModelScope damo/mplug_visual-question-answering_coco_large_en)
  config.yaml                image_res, clip_name, clip_*, vision_width, beam_size, min/max_length
  config_bert.json           BERT sizes + text_encoder_layers, fusion_layers, text_decode_layers
  vocab.txt                  BERT uncased WordPiece vocabulary
  pytorch_model.bin          the state dict (ModelScope's parameter names)
or <file>.safetensors (+ <file>.sha256 and vocab.txt beside it) from `ming-eval mplug convert`"""


@dataclass(frozen=True)
class BertSizes:
    """The BERT settings the three text stacks share."""

    vocab_size: int
    hidden_size: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    pad_token_id: int
    encoder_width: int
    #: layers built in the fusion encoder; only the last ``fusion_layers`` of them run
    num_hidden_layers: int
    text_encoder_layers: int
    fusion_layers: int
    text_decode_layers: int
    #: every ``stride_layer``-th fusion layer (counted from the first that runs, never the first)
    #: attends jointly over image and question instead of cross-attending
    stride_layer: int
    hidden_act: str = "gelu"


@dataclass(frozen=True)
class MPlugConfig:
    """Everything the model and its preprocessing need."""

    bert: BertSizes
    image_res: int = 504
    vision_width: int = 1024
    clip_vision_layers: int = 24
    clip_vision_width: int = 1024
    clip_vision_patch_size: int = 14
    beam_size: int = 5
    min_length: int = 1
    max_length: int = 10

    @property
    def vision_heads(self) -> int:
        return self.clip_vision_width // 64

    @property
    def num_patches(self) -> int:
        return (self.image_res // self.clip_vision_patch_size) ** 2

    @property
    def fusion_start(self) -> int:
        return max(0, self.bert.num_hidden_layers - self.bert.fusion_layers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MPlugConfig:
        data = dict(data)
        bert = BertSizes(**data.pop("bert"))
        return cls(bert=bert, **data)


_BERT_DEFAULTS: dict[str, Any] = {
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "hidden_act": "gelu",
    "stride_layer": 100,
}


def _bert_sizes(raw: dict[str, Any], source: Path) -> BertSizes:
    values = {**_BERT_DEFAULTS, **raw}
    values.setdefault("encoder_width", values.get("hidden_size"))
    needed = [f.name for f in fields(BertSizes)]
    missing = [name for name in needed if name not in values]
    if missing:
        raise CheckpointError(
            f"{source} lacks {', '.join(missing)}", hint="use the config_bert.json of the ModelScope mPLUG model"
        )
    if values["hidden_act"] != "gelu":
        raise CheckpointError(f"{source}: hidden_act {values['hidden_act']!r} is not supported (mPLUG uses gelu)")
    return BertSizes(**{name: values[name] for name in needed})


def read_modelscope_config(root: Path) -> MPlugConfig:
    """The config of a ModelScope mPLUG folder (``config.yaml`` + the BERT json it names)."""
    import yaml

    path = root / YAML_NAME
    if not path.is_file():
        raise CheckpointError(f"{root} has no {YAML_NAME}; it is not a ModelScope mPLUG folder", hint=LAYOUT)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} is not a mapping of settings")
    clip_name = str(raw.get("clip_name", "ViT-L-14"))
    if "ViT" not in clip_name:
        raise CheckpointError(f"{path}: clip_name {clip_name!r} is not a ViT; only ViT vision towers are supported")
    bert_path = root / str(raw.get("bert_config", "config_bert.json"))
    try:
        bert_raw = json.loads(bert_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{root} has no {bert_path.name} (named by bert_config in {YAML_NAME})") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{bert_path} is not valid JSON: {exc}") from None
    names = {f.name for f in fields(MPlugConfig)} - {"bert"}
    kept = {k: raw[k] for k in names if k in raw}
    return MPlugConfig(bert=_bert_sizes(bert_raw, bert_path), **kept)
