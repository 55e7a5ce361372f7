import pytest

from ming_eval.cards.schema import TaskCard
from ming_eval.errors import CapabilityError, CardError, ProtocolError, UnknownNameError
from ming_eval.registry import load_class
from ming_eval.runner.plan import load_task, make_plan


def test_missing_module_gets_install_hint():
    with pytest.raises(CardError) as err:
        load_class("open_clip_missing_xyz.mod:Thing", "ming_eval.tasks", "task card t.yaml")
    assert "task card t.yaml" in str(err.value) and "not installed" in str(err.value)


def test_extra_hint_for_known_module(monkeypatch):
    from ming_eval import registry

    assert "ming-eval[judge]" in registry._install_hint("openai.types")


def test_missing_attribute():
    with pytest.raises(CardError, match="has no attribute 'Nope'"):
        load_class("tests.engine_plugins:Nope", "ming_eval.tasks", "card")


def test_unknown_alias_lists_entry_points():
    with pytest.raises(UnknownNameError, match="entry point"):
        load_class("no_such_alias", "ming_eval.tasks", "card")


def test_class_must_be_a_task():
    card = TaskCard.model_validate(
        {"name": "t", "class": "tests.engine_plugins:PixelModel", "capability": "understand"}
    )
    with pytest.raises(CardError, match="is not a ming_eval task"):
        load_task(card)


def test_card_capability_must_match_class():
    card = TaskCard.model_validate({"name": "t", "class": "tests.engine_plugins:PaintTask", "capability": "understand"})
    with pytest.raises(CardError, match="does not match"):
        load_task(card)


def test_task_options_validated_with_card_name(engine_cards):
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel", task_options={"color_vqa": {"lowercas": True}})
    assert "options.lowercas" in str(err.value) and "lowercase" in str(err.value)


def test_capability_checked_before_work(engine_cards, tmp_path):
    import yaml

    card = yaml.safe_load((engine_cards / "model_zoo" / "pixel.yaml").read_text())
    card.update(name="reader", capabilities=["understand"])
    (engine_cards / "model_zoo" / "reader.yaml").write_text(yaml.safe_dump(card))
    from ming_eval.cards import loader

    loader._INDEX = None
    with pytest.raises(CapabilityError, match="needs a model that can generate; model reader can: understand"):
        make_plan(["paint"], "reader")


def test_incomplete_protocol_is_reported(engine_cards):
    import yaml

    from ming_eval.cards import loader

    card = yaml.safe_load((engine_cards / "model_zoo" / "pixel.yaml").read_text())
    card.update(name="nosize", protocol={"generate": {"seed": 1}})
    (engine_cards / "model_zoo" / "nosize.yaml").write_text(yaml.safe_dump(card))
    loader._INDEX = None
    with pytest.raises(ProtocolError) as err:
        make_plan(["paint"], "nosize")
    assert "generate.height is not set" in str(err.value) and "tasks.paint.generate" in str(err.value)


def test_unknown_prompt_style(engine_cards):
    import yaml

    from ming_eval.cards import loader

    card = yaml.safe_load((engine_cards / "model_zoo" / "pixel.yaml").read_text())
    card.update(name="styled", tasks={"color_vqa": {"understand": {"prompt_style": "letters"}}})
    (engine_cards / "model_zoo" / "styled.yaml").write_text(yaml.safe_dump(card))
    loader._INDEX = None
    with pytest.raises(ProtocolError, match="prompt_style 'letters' is not known to task color_vqa"):
        make_plan(["color_vqa"], "styled")


def test_suites_expand_in_order(engine_cards):
    import yaml

    from ming_eval.cards import loader
    from ming_eval.errors import CardError
    from ming_eval.registry import expand_task_names

    (engine_cards / "tasks" / "both.yaml").write_text(yaml.safe_dump({"name": "both", "tasks": ["paint", "color_vqa"]}))
    (engine_cards / "tasks" / "all.yaml").write_text(yaml.safe_dump({"name": "all", "tasks": ["color_vqa", "both"]}))
    (engine_cards / "tasks" / "loop.yaml").write_text(yaml.safe_dump({"name": "loop", "tasks": ["loop"]}))
    loader._INDEX = None
    assert expand_task_names(["all"]) == ["color_vqa", "paint"]
    assert [t.name for t in make_plan(["both"], "pixel").tasks] == ["paint", "color_vqa"]
    with pytest.raises(CardError, match="includes itself"):
        expand_task_names(["loop"])


def test_suite_membership_comes_from_the_suite_cards(engine_cards, capsys):
    import yaml

    from ming_eval.cards import loader
    from ming_eval.registry import suites_of
    from tests.cli.test_cli import run_cli

    (engine_cards / "tasks" / "both.yaml").write_text(yaml.safe_dump({"name": "both", "tasks": ["paint", "color_vqa"]}))
    (engine_cards / "tasks" / "outer.yaml").write_text(yaml.safe_dump({"name": "outer", "tasks": ["both"]}))
    loader._INDEX = None
    assert suites_of("paint") == ["both", "outer"]  # through the suite it is a member of
    code, text = run_cli(["list", "tasks", "--suite", "outer"], capsys)
    assert code == 0 and "color_vqa" in text and "paint" in text and "mmstar" not in text


def test_a_task_card_that_lists_suites_is_refused_with_the_fix(engine_cards):
    import yaml

    from ming_eval.cards import loader
    from ming_eval.errors import CardError

    path = engine_cards / "tasks" / "color_vqa.yaml"
    card = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**card, "suites": ["opencompass"]}))
    with pytest.raises(CardError, match=r"'suites' is no longer a task card key.*add the task to those suite cards"):
        loader.load_task_card(path)
