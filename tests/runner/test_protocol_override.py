"""``--protocol KEY=VALUE`` / ``TASK.KEY=VALUE``: the model card's protocol changed for one run, recorded
in the manifest, and the results marked not comparable."""

import json

import pytest

from ming_eval.cli.options import parse_protocol_overrides
from ming_eval.errors import ProtocolError
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.plan import make_plan
from tests.cli.test_cli import run_cli


def test_parsing_tells_fields_from_tasks():
    assert parse_protocol_overrides(["max_new_tokens=64", "color_vqa.prompt_style=short", "extra.top_k=5"]) == {
        "*": {"max_new_tokens": 64, "extra.top_k": 5},
        "color_vqa": {"prompt_style": "short"},
    }


def test_override_is_applied_recorded_and_not_comparable(engine_cards, tmp_path):
    out = evaluate(
        RunConfig(
            tasks=["color_vqa", "paint"],
            model="pixel",
            out=tmp_path / "run",
            argv=["test"],
            protocol_overrides={"*": {"max_new_tokens": 7}, "paint": {"steps": 3}},
        )
    )
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    vqa = manifest["tasks"]["color_vqa"]
    assert vqa["protocol"]["max_new_tokens"] == 7 and vqa["protocol_overrides"] == {"max_new_tokens": 7}
    assert manifest["tasks"]["paint"]["protocol_overrides"] == {"steps": 3}  # max_new_tokens is not its field
    result = out.results["color_vqa"]
    assert not result.comparable
    assert "protocol max_new_tokens=7 set with --protocol for this run" in result.not_comparable_because
    # resuming without the override is a different configuration
    from ming_eval.errors import ConfigMismatchError

    with pytest.raises(ConfigMismatchError, match="protocol_overrides"):
        evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"]))


def test_cli_flag(engine_cards, tmp_path, capsys):
    code, text = run_cli(
        ["run", "color_vqa", "-m", "pixel", "--out", str(tmp_path / "r"), "--protocol", "color_vqa.max_new_tokens=9"],
        capsys,
    )
    assert code == 0, text
    assert "color_vqa (not comparable)" in text  # the table's task cell
    assert "note color_vqa: not comparable: protocol max_new_tokens=9 set with --protocol for this run" in text
    stored = json.loads((tmp_path / "r" / "color_vqa" / "results.json").read_text())
    assert stored["comparable"] is False
    assert stored["not_comparable_because"] == ["protocol max_new_tokens=9 set with --protocol for this run"]


@pytest.mark.parametrize(
    ("overrides", "message", "hint"),
    [
        (
            {"*": {"max_new_token": 7}},
            "--protocol max_new_token=7: no task of this run has a protocol field 'max_new_token'",
            None,
        ),
        (
            {"color_vqa": {"max_new_token": 7}},
            "--protocol max_new_token=7: the understand protocol of task color_vqa has no field 'max_new_token'",
            "did you mean --protocol max_new_tokens=...?",
        ),
        (
            {"colr_vqa": {"max_new_tokens": 7}},
            "--protocol colr_vqa.max_new_tokens=7: task 'colr_vqa' is not in this run",
            "did you mean --protocol color_vqa.KEY=VALUE?",
        ),
        ({"*": {"max_new_tokens": -1}}, "--protocol max_new_tokens=-1: not a valid protocol for task color_vqa", None),
    ],
)
def test_bad_overrides_name_the_flag(engine_cards, overrides, message, hint):
    with pytest.raises(ProtocolError) as err:
        make_plan(["color_vqa"], "pixel", protocol_overrides=overrides)
    assert err.value.message.startswith(message)
    if hint:
        assert err.value.hint == hint
