"""ming_eval.testing stays out of the product, and its registry points at classes that exist."""

import importlib
import re
import sys
from pathlib import Path

import pytest

from ming_eval.registry import list_model_cards, list_task_cards
from ming_eval.runner.plan import load_model_class, load_task
from ming_eval.testing import registry
from tests.conftest import REPO_ROOT

_IMPORT = re.compile(r"^\s*(from|import)\s+ming_eval\.testing\b", re.M)


def test_only_the_selftest_imports_the_test_helpers():
    package = REPO_ROOT / "ming_eval"
    users = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if _IMPORT.search(p.read_text()) and not p.relative_to(package).as_posix().startswith("testing/")
    }
    assert users == {"selftest.py"}


@pytest.mark.parametrize("table", ["_TINY_MODELS", "_SELFTEST_DATA"])
def test_every_entry_names_a_real_class_and_builder(table):
    for key, builder in getattr(registry, table).items():
        module, _, name = key.partition(":")
        cls = getattr(importlib.import_module(module), name)
        assert registry.class_path(cls) == key
        if not isinstance(builder, str):  # a plugin registered a function (tests/tasks/vlm/plugins.py does)
            assert callable(builder), key
            continue
        target, _, function = builder.partition(":")
        assert callable(getattr(importlib.import_module(target), function)), builder


def test_zoo_families_and_tasks_find_their_builders():
    with_tiny = {c.name for c in list_model_cards() if registry.tiny_model_builder(load_model_class(c))}
    # MetaQuery needs the user's own code and weights; an endpoint has no checkpoint
    assert {c.name for c in list_model_cards()} - with_tiny == {"metaquery", "openai-compatible"}
    without = {c.name for c in list_task_cards() if registry.selftest_data_builder(type(load_task(c))) is None}
    assert without == set()  # every built-in task has self-test data (geneval_rewritten then declines)


def test_a_registered_plugin_class_and_its_subclasses_find_the_builder(tmp_path: Path):
    class Plugin:
        pass

    class Child(Plugin):
        pass

    def build(folder: Path) -> dict:
        return {"checkpoint": str(folder)}

    assert registry.tiny_model_builder(Child) is None
    registry.register_tiny_model(Plugin, build)
    try:
        assert registry.tiny_model_builder(Child) is build
    finally:
        registry._TINY_MODELS.pop(registry.class_path(Plugin))


def test_plugin_modules_from_the_entry_point_group_are_loaded_before_lookup(monkeypatch):
    from importlib.metadata import EntryPoint

    ep = EntryPoint(name="lab", value="tests.testing.plugin_helpers", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [ep] if group == ep.group else [])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_TINY_MODELS", dict(registry._TINY_MODELS))
    monkeypatch.delitem(sys.modules, "tests.testing.plugin_helpers", raising=False)
    # the lab's class as the runner would see it; its module is imported only by the entry point
    lab_adapter = type("LabAdapter", (), {"__module__": "tests.testing.plugin_helpers"})
    found = registry.tiny_model_builder(lab_adapter)
    assert found is not None and found(Path("/x")) == {"checkpoint": "/x"}


def test_an_empty_mapping_in_the_tiny_overrides_clears_the_cards_own(tmp_path: Path, monkeypatch):
    """The tiny diffusers checkpoints have no fp16 variant and their own component dtypes: a card's
    ``component_dtypes`` must not survive into the tiny card."""
    from ming_eval.cards.schema import ModelCard
    from ming_eval.registry import get_model_card
    from ming_eval.testing.tiny import diffusers

    data = get_model_card("sdxl").model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["options"] = {"variant": "fp16", "component_dtypes": {"vae": "float32"}}
    card = ModelCard.model_validate(data)
    adapter = registry.class_path(load_model_class(card))
    # the shipped builder's card fields, without writing the checkpoint
    monkeypatch.setitem(registry._TINY_MODELS, adapter, lambda folder: diffusers._generate_card(folder, {}))

    tiny = registry.tiny_card(card, tmp_path)
    assert tiny is not None
    assert tiny.options == {"variant": None, "component_dtypes": {}}
    assert tiny.checkpoint == str(tmp_path)
    assert tiny.protocol.generate.steps == 2 and tiny.protocol.generate.cfg == 9.0  # the rest still merges


def test_deep_merge_merges_nested_keys_and_replaces_with_empty_or_scalar_values():
    base = {"a": {"x": 1, "y": {"z": 2}}, "b": {"k": 1}, "c": 3}
    merged = registry.deep_merge(base, {"a": {"y": {"w": 4}}, "b": {}, "c": {"new": 1}})
    assert merged == {"a": {"x": 1, "y": {"z": 2, "w": 4}}, "b": {}, "c": {"new": 1}}
    assert base == {"a": {"x": 1, "y": {"z": 2}}, "b": {"k": 1}, "c": 3}  # the base is not changed
