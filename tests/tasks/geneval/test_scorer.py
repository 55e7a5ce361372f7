"""The scorer: batching through the detector, lazy CLIP, per-prompt failures that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ming_eval.core.results import SCORING_FAILED, Prediction, Status
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.tasks.geneval import scorer as scorer_module
from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.rules import RuleOptions
from ming_eval.tasks.geneval.scorer import GenEvalScorer, ScorerSettings
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS
from tests.tasks.geneval.plugins import PaintedColors, PaintedDetector, paint


def item(root: Path, index: int, wrong: list[bool]) -> tuple[Sample, Prediction]:
    row = SELFTEST_PROMPTS[index]
    sid = f"{index:05d}"
    rels = []
    for k, w in enumerate(wrong):
        rel = f"{sid}/samples/{k:04d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        paint(row, w).save(root / rel)
        rels.append(rel)
    sample = Sample(
        sid, GenerateRequest(row["prompt"], num_images=len(wrong)), target=row, meta={"tag": row["tag"], "index": index}
    )
    return sample, Prediction(sid, Status.OK, output=rels, images_root=root)


def settings(batch_size: int = 3) -> ScorerSettings:
    return ScorerSettings(rules=RuleOptions(), detector=DetectorOptions(batch_size=batch_size))


def test_batches_and_verdicts(tmp_path):
    detector, colors = PaintedDetector(), PaintedColors()
    scorer = GenEvalScorer(settings(3), "cpu", detector=detector, colors=colors)
    batch = [item(tmp_path, i, [False, True, False, False]) for i in range(6)]
    scores = scorer.score(batch)
    assert [s.id for s in scores] == [f"{i:05d}" for i in range(6)]
    assert all(s.score == 0.75 and s.correct for s in scores)
    assert detector.batches == [3] * 8
    assert colors.seen > 0
    two = scores[1]
    assert two.reason.startswith("3/4 images correct\n0001.png: expected kite>=1, found 0")
    assert two.details["images"][1]["detections"] == {"cup": [[4.0, 8.0, 16.0, 20.0, pytest.approx(0.95)]]}
    attr = scores[5].details["images"][1]
    assert attr["colors"] == {"0": ["yellow"], "1": ["red"]}
    scorer.close()
    assert detector.closed


def test_clip_is_not_built_for_colour_free_prompts(tmp_path, monkeypatch):
    built: list[Any] = []
    monkeypatch.setattr(scorer_module, "make_color_classifier", lambda s, d: built.append(1) or PaintedColors())
    scorer = GenEvalScorer(settings(), "cpu", detector=PaintedDetector())
    scorer.score([item(tmp_path, i, [False, False]) for i in (0, 1, 2, 4)])
    assert built == []
    scorer.score([item(tmp_path, 3, [False, False])])
    assert built == [1]


def test_a_corrupt_image_fails_its_prompt_only_and_names_the_file(tmp_path):
    batch = [item(tmp_path, i, [False, False]) for i in range(3)]
    bad = tmp_path / "00001" / "samples" / "0001.png"
    bad.write_bytes(bad.read_bytes()[:40])
    scores = GenEvalScorer(settings(), "cpu", detector=PaintedDetector(), colors=PaintedColors()).score(batch)
    assert scores[0].status == "ok" and scores[2].status == "ok"
    assert scores[1].status == SCORING_FAILED and scores[1].score == 0.0
    assert "00001/samples/0001.png" in scores[1].reason and "corrupt or truncated" in scores[1].reason


def test_incomplete_prompt_is_scored_on_what_is_there(tmp_path):
    sample, pred = item(tmp_path, 0, [False, True])
    sample = Sample(
        sample.id,
        GenerateRequest(sample.request.prompt, num_images=4),
        target=sample.target,  # type: ignore[union-attr]
        meta=sample.meta,
    )
    [score] = GenEvalScorer(settings(), "cpu", detector=PaintedDetector()).score([(sample, pred)])
    assert score.score == 0.5 and score.details["missing_images"] == 2
    assert score.reason.startswith("1/2 images correct (2 missing)")


def test_a_detector_that_breaks_the_contract_is_caught(tmp_path):
    class Short(PaintedDetector):
        def detect(self, images):  # type: ignore[no-untyped-def]
            return super().detect(images)[:-1]

    with pytest.raises(RuntimeError, match="returned 1 results for 2 images"):
        GenEvalScorer(settings(), "cpu", detector=Short()).score([item(tmp_path, 0, [False, False])])
