"""What the engine gives a task's phases: the scorer's and aggregate's context, the finalize hook
after the results are written, and the declared headline stored with the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ming_eval.core.results import TaskResult
from ming_eval.core.statistic import Mean
from ming_eval.core.task import TaskContext
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore
from ming_eval.stats.headline import headline_value
from tests.engine_plugins import ColorVqaTask


def test_phases_get_their_context_and_finalize_runs_after_results(engine_cards, tmp_path, monkeypatch):
    seen: dict[str, Any] = {}
    scorer = ColorVqaTask.scorer

    def spy_scorer(self: ColorVqaTask, ctx: TaskContext) -> Any:
        seen["scorer"] = (len(ctx.samples), len(ctx.predictions), ctx.device)
        return scorer(self, ctx)

    def spy_finalize(self: ColorVqaTask, result: TaskResult, samples: Any, scores: Any, ctx: TaskContext) -> None:
        assert ctx.work_dir is not None
        stored = json.loads((ctx.work_dir / "results.json").read_text())
        seen.setdefault("finalize", []).append((stored["metrics"]["accuracy"]["value"], len(scores), ctx.model_name))

    monkeypatch.setattr(ColorVqaTask, "scorer", spy_scorer)
    monkeypatch.setattr(ColorVqaTask, "finalize", spy_finalize)
    out = evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["t"]))
    accuracy = out.results["color_vqa"].primary_metric.value
    assert seen["scorer"][:2] == (24, 24) and seen["scorer"][2] in ("cpu", "cuda:0")
    assert seen["finalize"] == [(accuracy, 24, "pixel")]  # once, after results.json was written
    rescore(tmp_path / "run", argv=["t"])  # unchanged since: read back, nothing to finalize
    assert len(seen["finalize"]) == 1
    (tmp_path / "run" / "color_vqa" / "scores.jsonl").unlink()
    rescore(tmp_path / "run", argv=["t"])  # a fresh task in `ming-eval score` finalizes again
    assert seen["finalize"][1] == (accuracy, 24, "pixel")


def test_results_carry_the_declared_headline_that_reproduces_them(engine_cards, tmp_path):
    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["t"]))
    task_dir = Path(tmp_path / "run" / "color_vqa")
    results = json.loads((task_dir / "results.json").read_text())
    assert results["headline"] == {"kind": "mean", "scale": 100.0, "where": {}}
    scores = [json.loads(line) for line in (task_dir / "scores.jsonl").read_text().splitlines()]
    values = np.array([s["score"] for s in scores])
    assert 0.0 < values.mean() < 1.0
    assert headline_value(Mean(scale=100.0), values, {}) == pytest.approx(results["metrics"]["accuracy"]["value"])
    assert all(s["details"]["breakdown"]["category"] for s in scores)
