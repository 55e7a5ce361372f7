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
