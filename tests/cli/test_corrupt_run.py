"""A run directory with a damaged file says which file, and the way out it names works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ming_eval.runner.evaluate import evaluate
from tests.cli.test_cli import run_cli
from tests.tasks.geneval.test_e2e import cards, config, injected  # noqa: F401 (fixtures)


@pytest.fixture
def made(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """A finished GenEval run (painting model, painted detector) and its metadata file."""
    request.getfixturevalue("injected")
    metadata: Path = request.getfixturevalue("cards")
    evaluate(config(tmp_path, metadata))
    return tmp_path / "run", metadata


def _opts(metadata: Path) -> list[str]:
    return ["-o", "geneval.prompt_set=custom", "-o", f"geneval.prompts_file={metadata}"]


@pytest.mark.parametrize("damage", ["{not json", '{"format": "ming-eval/run/v1"}', "[1, 2]"])
def test_damaged_results_json(
    damage: str,
    capsys: pytest.CaptureFixture[str],
    made: tuple[Path, Path],
) -> None:
    run, metadata = made
    good = json.loads((run / "results.json").read_text())
    # the run's file is rebuilt by the next scoring, from the tasks' own files
    (run / "results.json").write_text(damage)
    code, text = run_cli(["score", str(run), *_opts(metadata)], capsys)
    assert code == 0, text
    assert json.loads((run / "results.json").read_text()) == good
    # a task's file: reports name it and the way out, which works
    (run / "geneval" / "results.json").write_text(damage)
    code, text = run_cli(["report", str(run)], capsys)
    assert code == 2 and "Traceback" not in text, text
    assert f"{run / 'geneval' / 'results.json'} is not a valid results file" in text and "ming-eval score" in text
    code, text = run_cli(["score", str(run), *_opts(metadata)], capsys)
    assert code == 0, text
    assert json.loads((run / "results.json").read_text()) == good
    code, text = run_cli(["report", str(run)], capsys)
    assert code == 0, text


def test_damaged_scoring_config(
    capsys: pytest.CaptureFixture[str],
    made: tuple[Path, Path],
) -> None:
    run, metadata = made
    config_json = run / "geneval" / "scoring" / "config.json"
    config_json.write_text("{trunc")
    code, text = run_cli(["score", str(run), *_opts(metadata)], capsys)
    assert code == 2 and "Traceback" not in text
    assert f"{config_json} is not valid JSON" in text and "delete it" in text
    config_json.unlink()  # the way out the hint gives
    code, text = run_cli(["score", str(run), *_opts(metadata)], capsys)
    assert code == 0, text
    code, text = run_cli(["compare", str(run), str(run)], capsys)
    assert code == 0 and "Traceback" not in text, text


def test_manifest_missing_keys(
    capsys: pytest.CaptureFixture[str],
    made: tuple[Path, Path],
) -> None:
    run, _ = made
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["model"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    for command in (["report", str(run)], ["score", str(run)], ["leaderboard", str(run)]):
        code, text = run_cli(command, capsys)
        assert code in (1, 2) and "Traceback" not in text, text
        assert f"{run / 'manifest.json'} is not a valid" in text and "missing required key 'model'" in text
