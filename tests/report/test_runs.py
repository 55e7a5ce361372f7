"""Reading run directories for reports: labels, results, and what is missing from incomplete runs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ming_eval.errors import RunStoreError
from ming_eval.report.runs import open_run, open_runs
from tests.report.helpers import TaskData, geneval_data, write_run


def test_open_run_reads_results_and_label(tmp_path):
    root = write_run(
        tmp_path / "run",
        {"geneval": geneval_data(0), "mmstar": TaskData([1.0, 0.0, 1.0])},
        checkpoint="/ckpts/step-2000/",
    )
    run = open_run(root)
    assert set(run.results) == {"geneval", "mmstar"} and not run.problems
    assert run.label == "Ming-Lite-Uni @ step-2000"
    assert run.git_commit == "abc1234def" and run.checkpoint == "/ckpts/step-2000/"
    assert run.results["mmstar"].primary_metric.value == pytest.approx(200 / 3)


def test_equal_labels_are_told_apart(tmp_path):
    a = write_run(tmp_path / "a", {"mmstar": TaskData([1.0, 0.0])})
    b = write_run(tmp_path / "b", {"mmstar": TaskData([1.0, 1.0])})
    assert [r.label for r in open_runs([a, b])] == ["Ming-Lite-Uni (a)", "Ming-Lite-Uni (b)"]
    assert [r.label for r in open_runs([a, b], ["old", "new"])] == ["old", "new"]


def test_missing_and_foreign_directories(tmp_path):
    with pytest.raises(RunStoreError, match=r"does not exist"):
        open_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunStoreError, match=r"has no manifest\.json"):
        open_run(tmp_path / "empty")


def test_older_format_says_what_is_missing(tmp_path):
    root = write_run(tmp_path / "run", {"mmstar": TaskData([1.0])})
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["format"], manifest["model"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunStoreError) as exc:
        open_run(root)
    text = str(exc.value)
    assert "no 'format' key (an older, unversioned run)" in text and "lacks 'format', 'model'" in text
    manifest["format"], manifest["model"] = "ming-eval-run/0", {}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunStoreError, match="has format 'ming-eval-run/0'"):
        open_run(root)


def test_incomplete_tasks_say_which_phase_did_not_finish(tmp_path):
    root = write_run(
        tmp_path / "run", {"mmstar": TaskData([1.0, 0.0]), "ai2d_test": TaskData([1.0])}, skip_results=("ai2d_test",)
    )
    run = open_run(root)
    assert run.problems == {"ai2d_test": "scores but no results.json: aggregation did not finish"}
    (root / "ai2d_test" / "scores.jsonl").unlink()
    assert "scores were not merged" in open_run(root).problems["ai2d_test"]
    for f in (root / "ai2d_test" / "scoring").iterdir():
        f.unlink()
    assert "scoring did not run" in open_run(root).problems["ai2d_test"]
    (root / "ai2d_test" / "predictions.jsonl").unlink()
    assert "no inference records" in open_run(root).problems["ai2d_test"]
    with pytest.raises(RunStoreError, match=r"task ai2d_test has no scores.jsonl \(no inference records"):
        open_run(root).scores("ai2d_test")


def test_rewritten_prompts_are_read_from_the_task_configuration(tmp_path):
    data = geneval_data(0)
    plain = write_run(tmp_path / "a", {"geneval": data})
    # tasks/geneval_rewritten.yaml: GenEvalTask with prompt_set "rewritten"
    by_option = write_run(tmp_path / "b", {"geneval_rewritten": replace(data, options={"prompt_set": "rewritten"})})
    custom = write_run(tmp_path / "d", {"geneval": replace(data, options={"prompt_set": "custom"})})
    by_file = write_run(tmp_path / "c", {"geneval": replace(data, data_name="evaluation_metadata_long.jsonl")})
    assert not open_run(plain).rewritten_prompts("geneval")
    assert open_run(by_option).rewritten_prompts("geneval_rewritten")
    assert not open_run(custom).rewritten_prompts("geneval")
    assert open_run(by_file).rewritten_prompts("geneval")
