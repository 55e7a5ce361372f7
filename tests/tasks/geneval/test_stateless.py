"""The GenEval task keeps no state between phases: each phase reads what it needs from its context."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.results import SampleScore
from ming_eval.core.task import TaskContext
from ming_eval.runner.plan import resolve_task, task_context
from ming_eval.tasks.geneval import task as task_module
from ming_eval.tasks.geneval.task import GenEvalTask
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, write_metadata


def _setup(tmp_path: Path, **options: object) -> tuple[GenEvalTask, TaskContext, Path]:
    prompts = write_metadata(tmp_path / "prompts.jsonl", SELFTEST_PROMPTS)
    task = resolve_task("geneval", {"prompt_set": "custom", "prompts_file": str(prompts), **options})
    assert isinstance(task, GenEvalTask)
    work = tmp_path / "run" / "geneval"
    ctx = task_context(task, GenerateProtocol(images_per_prompt=2), work, model_name="painter", seed=0)
    return task, ctx, prompts


def test_fingerprint_is_the_same_before_and_after_samples(tmp_path):
    task, ctx, prompts = _setup(tmp_path)
    before = task.scoring_fingerprint()
    assert len(task.samples(ctx)) == len(SELFTEST_PROMPTS)
    assert task.scoring_fingerprint() == before
    assert before["prompts_sha256"] == hashlib.sha256(prompts.read_bytes()).hexdigest()
    prompts.write_text(prompts.read_text().replace("a photo", "a picture", 1))
    assert task.scoring_fingerprint() != before  # another prompt file: stored scores are redone


def test_scorer_gets_the_device_from_its_context(tmp_path, monkeypatch):
    task, ctx, _ = _setup(tmp_path)
    seen = []
    monkeypatch.setattr(task_module, "GenEvalScorer", lambda settings, device: seen.append(device))
    task.scorer(dataclasses.replace(ctx, device="cuda:3"))
    assert seen == ["cuda:3"]


def _scores(samples):
    return [
        SampleScore(s.id, 0.5, correct=True, details={"images": [{"correct": True}, {"correct": False}]})
        for s in samples
    ]


def test_aggregate_writes_nothing_and_finalize_writes_the_page(tmp_path):
    task, ctx, _ = _setup(tmp_path)
    samples = task.samples(ctx)
    scores = _scores(samples)
    result = task.aggregate(samples, scores, ctx)
    page = tmp_path / "run" / "geneval" / "report.html"
    assert result.info["html_report"] == str(page) and not page.exists()
    assert result.primary_metric.value == pytest.approx(0.5)
    GenEvalTask(task.card, task.options).finalize(result, samples, scores, ctx)  # a fresh task: nothing kept
    assert "painter" in page.read_text()

    quiet, quiet_ctx, _ = _setup(tmp_path / "quiet", html_report=False)
    quiet_result = quiet.aggregate(samples, scores, quiet_ctx)
    quiet.finalize(quiet_result, samples, scores, quiet_ctx)
    assert "html_report" not in quiet_result.info and not (tmp_path / "quiet" / "run").exists()


def test_import_notes_come_from_the_run_folder(tmp_path):
    task, ctx, _ = _setup(tmp_path)
    assert ctx.work_dir is not None
    ctx.work_dir.mkdir(parents=True)
    state = {"source": "/imgs", "warnings": ["a.jpg converted"], "incomplete": [], "missing_prompts": [3]}
    (ctx.work_dir / "import.json").write_text(json.dumps(state))
    samples = task.samples(ctx)
    result = GenEvalTask(task.card, task.options).aggregate(samples, _scores(samples), ctx)
    assert any(n.startswith("1 files in /imgs were ignored or converted") for n in result.notes)
    assert any(n.startswith("scored an incomplete folder: 1 prompt folders missing") for n in result.notes)
