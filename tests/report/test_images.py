"""The image section of reports shows what the run stored with its scores: prompts and categories
come from the task through the engine, for any generation task (here the test plugins' paint task)."""

from __future__ import annotations

import json

from ming_eval.report.images import run_images
from ming_eval.report.runs import open_run
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore


def test_paint_prompts_reach_the_report_through_the_scores(engine_cards, tmp_path):
    out = tmp_path / "run"
    evaluate(RunConfig(tasks=["paint"], model="pixel", out=out, argv=["test"]))
    shown = run_images(open_run(out), "paint")
    assert [s.prompt for s in shown] == ["a red square", "a green square", "a blue square"] * 2
    assert all(len(s.images) == 2 and all(p.is_file() for p in s.images) for s in shown)
    assert [s.score for s in shown] == [
        json.loads(line)["score"] for line in (out / "paint" / "scores.jsonl").read_text().splitlines()
    ]


def test_scores_stored_without_prompts_get_them_when_scored_again(engine_cards, tmp_path):
    """A run scored by an older version (no prompt in the scores) shows none until `ming-eval score`
    merges its scores again, which adds them without re-scoring."""
    out = tmp_path / "run"
    evaluate(RunConfig(tasks=["paint"], model="pixel", out=out, argv=["test"]))
    scores = out / "paint" / "scores.jsonl"
    old = [json.loads(line) for line in scores.read_text().splitlines()]
    for rec in old:
        del rec["details"]["prompt"]
    scores.write_text("".join(json.dumps(r) + "\n" for r in old))
    for rank_file in (out / "paint" / "scoring").glob("rank-*.jsonl"):
        recs = [json.loads(line) for line in rank_file.read_text().splitlines()]
        for rec in recs:
            rec["details"].pop("prompt", None)
        rank_file.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert {s.prompt for s in run_images(open_run(out), "paint")} == {""}

    rescore(out, argv=["test"])
    again = [json.loads(line) for line in scores.read_text().splitlines()]
    assert [r["score"] for r in again] == [r["score"] for r in old]  # the same scores, not redone
    assert [s.prompt for s in run_images(open_run(out), "paint")][:3] == [
        "a red square",
        "a green square",
        "a blue square",
    ]
