"""Which tiny checkpoint and which self-test data belong to which adapter and task class.

Keys are class paths (``module:QualName``, the class's own module, not a re-export). A class without
an entry of its own uses the nearest base class that has one (every VLMEvalKit-format task shares
:class:`~ming_eval.tasks.vlm.base.VlmTask`'s). Values are callables or ``module:function`` strings,
imported on first use, so that reading this table imports no model library.

A plugin package adds its own entries by calling :func:`register_tiny_model` /
:func:`register_selftest_data` from a module it names in the ``ming_eval.testing`` entry-point
group; those modules are imported before the first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ming_eval.cards.schema import ModelCard, TaskCard

ENTRY_POINT_GROUP = "ming_eval.testing"


@dataclass(frozen=True)
class SelftestSetup:
    """How a task runs offline in ``ming-eval selftest``: generated data files in the real format
    (by data-file name), option overrides (e.g. a tiny random detector) and protocol fields set for
    the run as ``run --protocol`` sets them (e.g. fewer images per prompt)."""

    data: dict[str, Path] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    limit: int | None = 4


#: writes a tiny checkpoint into a folder; returns the model-card fields that make the card run on it
TinyBuilder = Callable[[Path], dict[str, Any]]
#: writes a task's self-test data into a folder; None when the task cannot run offline
SelftestBuilder = Callable[[TaskCard, Path], SelftestSetup | None]

_TINY_MODELS: dict[str, TinyBuilder | str] = {
    "ming_eval.models.janus:JanusAdapter": "ming_eval.testing.tiny.janus:card_overrides",
    "ming_eval.models.qwen_vl:QwenVLAdapter": "ming_eval.testing.tiny.qwen_vl:card_overrides",
    "ming_eval.models.ming_lite_uni.adapter:MingLiteUni": "ming_eval.testing.tiny.ming_lite_uni:card_overrides",
    "ming_eval.models.diffusers_t2i:SDXLAdapter": "ming_eval.testing.tiny.diffusers:sdxl_card_overrides",
    "ming_eval.models.diffusers_t2i:SD3Adapter": "ming_eval.testing.tiny.diffusers:sd3_card_overrides",
    "ming_eval.models.diffusers_t2i:SanaAdapter": "ming_eval.testing.tiny.diffusers:sana_card_overrides",
    "ming_eval.models.diffusers_t2i:FluxAdapter": "ming_eval.testing.tiny.diffusers:flux_card_overrides",
    "ming_eval.models.mplug.adapter:MPlugAdapter": "ming_eval.testing.tiny.mplug:card_overrides",
    "ming_eval.models.diffusers_edit:InstructPix2PixAdapter": (
        "ming_eval.testing.tiny.diffusers:instruct_pix2pix_card_overrides"
    ),
}
_SELFTEST_DATA: dict[str, SelftestBuilder | str] = {
    "ming_eval.tasks.vlm.base:VlmTask": "ming_eval.testing.fixtures.vlm:selftest_setup",
    "ming_eval.tasks.geneval.task:GenEvalTask": "ming_eval.testing.fixtures.geneval:selftest_setup",
    "ming_eval.tasks.dpg_bench.task:DpgBenchTask": "ming_eval.testing.fixtures.dpg_bench:selftest_setup",
    "ming_eval.tasks.wise.task:WiseTask": "ming_eval.testing.fixtures.wise:selftest_setup",
    "ming_eval.tasks.gedit.task:GEditTask": "ming_eval.testing.fixtures.gedit:selftest_setup",
}
_plugins_loaded = False


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_tiny_model(adapter: type | str, builder: TinyBuilder | str) -> None:
    """Give an adapter class (or class path) a tiny checkpoint builder (or its ``module:function``)."""
    _TINY_MODELS[adapter if isinstance(adapter, str) else class_path(adapter)] = builder


def register_selftest_data(task: type | str, builder: SelftestBuilder | str) -> None:
    """Give a task class (or class path) its self-test data builder (or its ``module:function``)."""
    _SELFTEST_DATA[task if isinstance(task, str) else class_path(task)] = builder


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            ep.load()


def _lookup(table: dict[str, Any], cls: type) -> Any:
    _load_plugins()
    for base in cls.__mro__:
        entry = table.get(class_path(base))
        if isinstance(entry, str):
            module, _, name = entry.partition(":")
            return getattr(importlib.import_module(module), name)
        if entry is not None:
            return entry
    return None


def tiny_model_builder(adapter: type) -> TinyBuilder | None:
    """The tiny checkpoint builder of an adapter class (or of its nearest registered base), if any."""
    builder: TinyBuilder | None = _lookup(_TINY_MODELS, adapter)
    return builder


def selftest_data_builder(task: type) -> SelftestBuilder | None:
    """The self-test data builder of a task class (or of its nearest registered base), if any."""
    builder: SelftestBuilder | None = _lookup(_SELFTEST_DATA, task)
    return builder


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it: a non-empty dict merges key by key; any other value,
    an empty dict included, replaces (``component_dtypes: {}`` clears the card's own mapping)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and value and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def tiny_card(card: ModelCard, folder: Path) -> ModelCard | None:
    """``card`` pointed at a freshly built tiny checkpoint of its family in ``folder`` (None: its
    adapter class has no tiny variant)."""
    from ming_eval.runner.plan import load_model_class

    builder = tiny_model_builder(load_model_class(card))
    if builder is None:
        return None
    overrides = builder(folder)
    merged = deep_merge(card.model_dump(mode="json", by_alias=True, exclude_unset=True), overrides)
    return ModelCard.model_validate(merged)
