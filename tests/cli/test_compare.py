"""``ming-eval compare`` end to end: exit codes for CI, the Markdown summary, real engine runs."""

from __future__ import annotations

import numpy as np

from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.cli.test_cli import run_cli
from tests.report.helpers import TaskData, understanding_scores, write_run


def _runs(tmp_path, drop: float):
    base = understanding_scores(300, 0.7, 1)
    new = np.array(base)
    ones = np.flatnonzero(new == 1.0)
    new[ones[: int(len(base) * drop)]] = 0.0
    a = write_run(tmp_path / "base", {"mmstar": TaskData(base), "ai2d_test": TaskData(base)})
    b = write_run(tmp_path / "new", {"mmstar": TaskData(new.tolist()), "ai2d_test": TaskData(base)})
    return a, b


def test_planted_regression_fails_the_job(tmp_path, capsys):
    a, b = _runs(tmp_path, 0.1)
    md = tmp_path / "ci" / "comment.md"
    code, text = run_cli(["compare", str(a), str(b), "--fail-on-regression", "--markdown", str(md)], capsys)
    assert code == 1, text
    assert "Significant regression in 1 of 2 benchmarks: mmstar" in text
    summary = md.read_text()
    assert summary.startswith("## ming-eval compare") and "| mmstar | 300 |" in summary
    # without --fail-on-regression the verdict is reported but the exit code stays 0
    code, _ = run_cli(["compare", str(a), str(b)], capsys)
    assert code == 0


def test_identical_runs_pass(tmp_path, capsys):
    a, _ = _runs(tmp_path, 0.0)
    code, text = run_cli(["compare", str(a), str(a), "--fail-on-regression", "--format", "md"], capsys)
    assert code == 0, text
    assert "No significant regression (2 benchmarks compared)" in text


def test_min_delta_lets_small_drops_pass(tmp_path, capsys):
    a, b = _runs(tmp_path, 0.1)
    code, text = run_cli(["compare", str(a), str(b), "--fail-on-regression", "--min-delta", "15"], capsys)
    assert code == 0 and "below --min-delta" in text


def test_protocol_mismatch_exits_2_and_lists_the_differences(tmp_path, capsys):
    data = {"mmstar": TaskData([1.0, 0.0, 1.0])}
    a = write_run(tmp_path / "a", data)
    b = write_run(tmp_path / "b", data, protocol_overrides={"prompt_style": "cot"})
    code, text = run_cli(["compare", str(a), str(b), "--fail-on-regression"], capsys)
    assert code == 2
    assert "different protocols" in text and "protocol.prompt_style: 'default' -> 'cot'" in text and "--force" in text
    code, text = run_cli(["compare", str(a), str(b), "--force"], capsys)
    assert code == 0 and "compared with --force" in text


def test_bad_run_directory_exits_2(tmp_path, capsys):
    code, text = run_cli(["compare", str(tmp_path / "x"), str(tmp_path / "y")], capsys)
    assert code == 2 and "does not exist" in text


def test_engine_runs_identical_pass_and_a_different_prompt_style_is_refused(engine_cards, tmp_path, capsys):
    import yaml

    from ming_eval.cards import loader

    for name in ("a", "b"):
        evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / name, argv=["test"]))
    code, text = run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression"], capsys)
    assert code == 0, text
    assert "No significant regression (1 benchmark compared)" in text
    card_path = engine_cards / "model_zoo" / "pixel.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["protocol"]["understand"]["prompt_style"] = "short"
    card_path.write_text(yaml.safe_dump(card))
    loader._INDEX = None
    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "c", argv=["test"]))
    code, text = run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "c")], capsys)
    assert code == 2 and "color_vqa: protocol.prompt_style: 'default' -> 'short'" in text
