"""Nothing the user asks for is silently ignored: options and data files for tasks not in the run, a
model card's per-task block that matches no task, and option errors that name the ``-o`` value."""

from pathlib import Path

import pytest
import yaml

from ming_eval.cards import loader
from ming_eval.errors import CardError
from ming_eval.registry import get_task_card
from ming_eval.runner.plan import make_plan


def _card_tasks_block(cards: Path, block: dict) -> None:
    path = cards / "model_zoo" / "pixel.yaml"
    card = yaml.safe_load(path.read_text())
    card["tasks"] = block
    path.write_text(yaml.safe_dump(card))
    loader._INDEX = None


def test_option_for_a_task_not_in_the_run_is_an_error(engine_cards):
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel", task_options={"colr_vqa": {"lowercase": False}})
    assert err.value.message.startswith("-o colr_vqa.lowercase=False: task 'colr_vqa' is not in this run")
    assert err.value.hint == "did you mean -o color_vqa.KEY=VALUE?"
    with pytest.raises(CardError, match="task 'paint' is not in this run"):
        make_plan(["color_vqa"], "pixel", task_options={"paint": {"steps": 2}})


def test_unknown_option_names_the_o_value_with_did_you_mean(engine_cards):
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel", task_options={"color_vqa": {"lowercas": False}})
    assert err.value.message.startswith("-o color_vqa.lowercas=False is invalid")
    assert "unknown key 'options.lowercas' (did you mean 'lowercase'?)" in err.value.message


def test_bad_option_value_names_the_o_value_not_the_card(engine_cards):
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel", task_options={"color_vqa": {"lowercase": "maybe"}})
    assert err.value.message.startswith("-o color_vqa.lowercase=maybe")
    assert "color_vqa.yaml" not in err.value.message


def test_data_file_no_task_declares_is_an_error(engine_cards, tmp_path):
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel", data_overrides={"vqa.jsonll": tmp_path / "x.jsonl"})
    assert "--data vqa.jsonll=" in err.value.message and "no task card declares" in err.value.message
    assert err.value.hint == "did you mean --data vqa.jsonl=PATH?"
    make_plan(["color_vqa"], "pixel", data_overrides={"vqa.jsonl": tmp_path / "x.jsonl"})  # declared: fine
    paint_files = [f.name for f in get_task_card("paint").data]
    assert paint_files and "vqa.jsonl" not in paint_files
    # another task's file (the same --data list for several runs): fine
    make_plan(["color_vqa"], "pixel", data_overrides={paint_files[0]: tmp_path / "y"})


def test_card_task_block_matching_no_task_is_an_error(engine_cards):
    _card_tasks_block(engine_cards, {"paint": {"generate": {"steps": 3}}})
    make_plan(["color_vqa"], "pixel")  # a block for a task of the catalog that is not in this run: fine
    _card_tasks_block(engine_cards, {"colour_vqa": {"understand": {"max_new_tokens": 4}}})
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], "pixel")
    assert "tasks.colour_vqa matches no task card" in err.value.message
    assert err.value.hint == "did you mean tasks.color_vqa?"
    _card_tasks_block(engine_cards, {"color_*": {"understand": {"max_new_tokens": 4}}})
    make_plan(["color_vqa"], "pixel")  # a glob that matches


def test_smaller_limit_on_resume_keeps_the_results(engine_cards, tmp_path):
    from ming_eval.errors import RunStoreError
    from ming_eval.runner.evaluate import RunConfig, evaluate

    def config(**kw):
        return RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"], **kw)

    evaluate(config())
    results = tmp_path / "run" / "color_vqa" / "results.json"
    before = results.read_text()
    with pytest.raises(RunStoreError) as err:
        evaluate(config(limit=5))
    assert "task color_vqa has results for all samples; --limit 5 would replace them" in err.value.message
    assert results.read_text() == before
    evaluate(config(limit=5, force=True))  # asked for: replaced
    assert '"n": 5' in results.read_text()


def test_rescore_option_for_a_task_not_scored_is_an_error(engine_cards, tmp_path):
    from ming_eval.errors import RunStoreError
    from ming_eval.runner.evaluate import RunConfig, evaluate
    from ming_eval.runner.rescore import rescore

    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"]))
    with pytest.raises(RunStoreError, match=r"-o paint\.steps=2: task 'paint' is not scored here"):
        rescore(tmp_path / "run", task_options={"paint": {"steps": 2}})
