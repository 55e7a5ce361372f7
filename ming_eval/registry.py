"""Names to cards, cards to classes.

A card's ``class`` is either an import path (``package.module:Class``), imported only when that
card is used, or a short alias that an installed package declares in the ``ming_eval.tasks`` or
``ming_eval.models`` entry-point group. There is no central table: adding a benchmark or a model
means adding a card and the module it names.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ming_eval.cards.loader import card_index, load_model_card, load_task_card, validate
from ming_eval.cards.schema import ModelCard, SuiteCard, TaskCard
from ming_eval.core.summaries import SummaryCatalog
from ming_eval.errors import CardError, UnknownNameError

TASK_ENTRY_POINTS = "ming_eval.tasks"
MODEL_ENTRY_POINTS = "ming_eval.models"


def _looks_like_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or name.startswith(".")


def get_task_card(name: str) -> TaskCard:
    """A task card by name, or by path to a YAML file."""
    if _looks_like_path(name):
        path = Path(name)
        if not path.is_file():
            raise CardError(f"task card file {path} does not exist")
        return load_task_card(path)
    index = card_index()
    if name not in index.tasks:
        raise UnknownNameError("task", name, [*index.tasks, *index.suites])
    return index.tasks[name]


def get_model_card(name: str) -> ModelCard:
    """A model card by name, or by path to a YAML file."""
    if _looks_like_path(name):
        path = Path(name)
        if not path.is_file():
            raise CardError(f"model card file {path} does not exist")
        return load_model_card(path)
    index = card_index()
    if name not in index.models:
        raise UnknownNameError("model", name, index.models)
    return index.models[name]


def expand_task_names(names: list[str]) -> list[str]:
    """Replace suite names by their tasks (recursively), keeping order and dropping repeats."""
    index = card_index()
    out: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            raise CardError(f"suite {name!r} includes itself: {' -> '.join((*trail, name))}")
        suite = index.suites.get(name)
        if suite is None or name in index.tasks:
            if name not in out:
                out.append(name)
            return
        for member in suite.tasks:
            visit(member, (*trail, name))

    for name in names:
        visit(name, ())
    return out


def list_suite_cards() -> list[SuiteCard]:
    return sorted(card_index().suites.values(), key=lambda c: c.name)


def summary_catalog() -> SummaryCatalog:
    """The summaries every known suite card declares (built in, $MING_EVAL_CARDS_PATH, plugins)."""
    return SummaryCatalog(list_suite_cards())


def suites_of(task: str) -> list[str]:
    """The suites that contain ``task``, directly or through another suite (from the suite cards)."""
    return [s.name for s in list_suite_cards() if task in expand_task_names([s.name])]


def list_task_cards() -> list[TaskCard]:
    return sorted(card_index().tasks.values(), key=lambda c: c.name)


def list_model_cards() -> list[ModelCard]:
    return sorted(card_index().models.values(), key=lambda c: c.name)


def load_class(spec: str, group: str, where: str) -> type:
    """Import ``package.module:Class``, or resolve an alias from the entry-point ``group``."""
    if ":" not in spec:
        eps = {ep.name: ep for ep in metadata.entry_points(group=group)}
        if spec not in eps:
            raise UnknownNameError(f"{group} entry point", spec, eps)
        obj = eps[spec].load()
    else:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or module_name
            raise CardError(
                f"{where}: class {spec!r} cannot be imported: module {missing!r} is not installed",
                hint=_install_hint(missing),
            ) from exc
        try:
            obj = getattr(module, attr)
        except AttributeError:
            raise CardError(f"{where}: module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, type):
        raise CardError(f"{where}: {spec!r} is not a class")
    return obj


_EXTRA_OF_MODULE = {
    "transformers": "models",
    "diffusers": "models",
    "accelerate": "models",
    "torchvision": "models",
    "open_clip": "geneval",
    "openai": "judge",
    "mmdet": "mmdet",
    "mmcv": "mmdet",
    "mmengine": "mmdet",
    "pyarrow": "reports",
}


def _install_hint(module: str) -> str:
    extra = _EXTRA_OF_MODULE.get(module.split(".")[0])
    if extra:
        return f"install the '{extra}' extra: pip install 'ming-eval[{extra}]'"
    return f"install the package that provides {module!r}"


def validate_options(cls: type, options: dict[str, Any], where: str) -> BaseModel:
    """Validate a card's ``options`` against the class's ``Options`` model."""
    options_model: type[BaseModel] = getattr(cls, "Options")  # noqa: B009
    return validate(options_model, options, where, prefix=("options",))
