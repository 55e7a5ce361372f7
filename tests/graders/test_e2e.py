"""A grader-scored task end to end through the runner, with a zoo card (PixelGrader) as the grader."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ming_eval.cards import loader
from ming_eval.cards.schema import TaskCard
from ming_eval.cli.app import main
from ming_eval.core.results import JUDGE_UNAVAILABLE
from ming_eval.graders.local import ZooGrader
from ming_eval.graders.service import GraderService
from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.engine_plugins import COLORS, PixelGrader, PixelModel
from tests.graders.conftest import set_grader_card


def _config(out: Path) -> RunConfig:
    return RunConfig(tasks=["graded_paint"], model="pixel", out=out, argv=["test"])


def _scores(run: Path) -> dict[str, dict]:
    lines = (run / "graded_paint" / "scores.jsonl").read_text().splitlines()
    return {rec["id"]: rec for rec in map(json.loads, lines)}


def _images(run: Path) -> dict[str, list[tuple[str, str]]]:
    """Per sample, (prompt colour, dominant colour) of each of its images, read from the PNGs."""
    data = Path(os.environ["MING_EVAL_CACHE"]) / "data" / "graded_paint" / "paint.jsonl"
    prompts = [json.loads(line)["color"] for line in data.read_text().splitlines()]
    out = {}
    for line in (run / "graded_paint" / "predictions.jsonl").read_text().splitlines():
        pred = json.loads(line)
        seen = []
        for rel in pred["output"]:
            rgb = np.asarray(Image.open(run / "graded_paint" / "images" / rel).convert("RGB"), dtype=float)
            seen.append((prompts[int(pred["id"])], list(COLORS)[int(rgb.mean(axis=(0, 1)).argmax())]))
        out[pred["id"]] = seen
    return out


def _expected(run: Path) -> dict[str, float]:
    """Per sample, the share of its images whose dominant colour is the prompt's."""
    return {sid: sum(p == c for p, c in seen) / len(seen) for sid, seen in _images(run).items()}


def _distinct_questions(run: Path, ids: set[str] | None = None) -> int:
    """Questions the grader must be asked: one per distinct (prompt, picture)."""
    return len({pair for sid, seen in _images(run).items() if ids is None or sid in ids for pair in seen})


def test_scores_come_from_the_grader_and_a_second_run_reuses_its_replies(graded_cards, tmp_path):
    first = evaluate(_config(tmp_path / "a"))
    scores = _scores(tmp_path / "a")
    expected = _expected(tmp_path / "a")
    assert {sid: s["score"] for sid, s in scores.items()} == expected
    assert 0 < sum(expected.values()) < len(expected)  # the grader tells right from wrong images
    assert first.results["graded_paint"].metrics["accuracy"].value == np.mean(list(expected.values()))
    assert {s["details"]["grader"] for s in scores.values()} == {"zoo:pixel-grader@none"}
    assert PixelGrader.loads == 1 and sum(PixelGrader.batch_sizes) == _distinct_questions(tmp_path / "a")

    # the same images under another run directory: every reply from the cache, no grader load
    PixelGrader.loads, PixelGrader.batch_sizes = 0, []
    second = evaluate(_config(tmp_path / "b"))
    assert PixelModel.loads == 2  # the model painted again ...
    assert PixelGrader.loads == 0 and PixelGrader.batch_sizes == []  # ... the grader was not asked
    assert second.results["graded_paint"].to_dict()["metrics"] == first.results["graded_paint"].to_dict()["metrics"]

    # `ming-eval score RUN` with a changed scoring option: re-scored, still without asking the grader
    main(["score", str(tmp_path / "a"), "-o", "graded_paint.pass_fraction=0.5", "--device", "cpu"])
    assert PixelGrader.loads == 0 and PixelGrader.batch_sizes == []
    correct = {sid: s["correct"] for sid, s in _scores(tmp_path / "a").items()}
    assert correct == {sid: v >= 0.5 for sid, v in expected.items()}
    assert any(v == 0.5 for v in expected.values())  # the option changed some verdicts


def test_grader_outage_marks_judge_unavailable_and_the_next_run_retries_only_those(graded_cards, tmp_path):
    set_grader_card(graded_cards, options={"fail_on": "blue"})  # the grader fails on blue prompts
    run = tmp_path / "run"
    out = evaluate(_config(run))
    scores = _scores(run)
    down = {sid for sid, s in scores.items() if s["status"] == JUDGE_UNAVAILABLE}
    assert down == {"00002", "00005"}  # paint's prompts cycle red, green, blue
    assert all("cannot handle" in scores[sid]["reason"] for sid in down)
    assert out.results["graded_paint"].counts[JUDGE_UNAVAILABLE] == 2
    assert out.results["graded_paint"].counts["ok"] == 4

    set_grader_card(graded_cards)  # the grader is back
    PixelGrader.loads, PixelGrader.batch_sizes = 0, []
    healed = evaluate(_config(run))
    # only the two blue prompts' images were asked again
    assert sum(PixelGrader.batch_sizes) == _distinct_questions(run, down)
    assert JUDGE_UNAVAILABLE not in healed.results["graded_paint"].counts
    assert {sid: s["score"] for sid, s in _scores(run).items()} == _expected(run)


def test_graders_are_released_between_tasks_when_memory_is_short(graded_cards, tmp_path, monkeypatch):
    cache = Path(os.environ["MING_EVAL_CACHE"]) / "data"
    card = yaml.safe_load((graded_cards / "tasks" / "graded_paint.yaml").read_text())
    (graded_cards / "tasks" / "graded_paint_2.yaml").write_text(yaml.safe_dump({**card, "name": "graded_paint_2"}))
    shutil.copytree(cache / "graded_paint", cache / "graded_paint_2")
    loader._INDEX = None
    released: list[bool] = []  # per release: whether a grader was loaded then
    original = GraderService.release_all

    def spy(self: GraderService) -> None:
        released.append(any(isinstance(g, ZooGrader) and g.loaded for g in self.graders))
        original(self)

    monkeypatch.setattr(GraderService, "release_all", spy)
    tasks: list[str | TaskCard] = ["graded_paint", "graded_paint_2"]
    # on an accelerator other than CUDA, memory counts as short whenever a grader is loaded
    evaluate(RunConfig(tasks=tasks, model="pixel", out=tmp_path / "mps", device="mps", argv=["t"]))
    assert released == [True]  # once, between the two tasks
    released.clear()
    PixelGrader.loads = 0
    shutil.rmtree(cache.parent / "graders")  # so that the grader is asked again
    evaluate(RunConfig(tasks=tasks, model="pixel", out=tmp_path / "cpu", device="cpu", argv=["t"]))
    assert released == [] and PixelGrader.loads == 1  # on the CPU the grader stays loaded for the second task
