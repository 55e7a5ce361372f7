"""GenEval's summary: keyed by tag, overall = mean of tag means, prompt accuracy, failures count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ming_eval.core.results import INFERENCE_FAILED, SampleScore
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.tasks.geneval.constants import TAGS
from ming_eval.tasks.geneval.summary import ImageRow, build_result, image_rows, summarize


def test_overall_is_the_mean_of_tag_means_not_of_images():
    rows = [ImageRow(f"p{i}", "single_object", True) for i in range(8)]  # 8 images, all right
    rows += [ImageRow("q0", "counting", False), ImageRow("q0", "counting", True)]  # 2 images, half right
    s = summarize(rows)
    assert s.tags == {"single_object": 1.0, "counting": 0.5}
    assert s.overall == 0.75 and s.image_accuracy == 0.9
    assert s.prompt_accuracy == 1.0 and s.n_prompts == 9
    assert list(s.tags) == ["single_object", "counting"]  # canonical tag order, whatever the row order


def test_tag_order_does_not_depend_on_row_order():
    rows = [ImageRow("a", "position", True), ImageRow("b", "colors", False), ImageRow("c", "single_object", True)]
    assert list(summarize(rows).tags) == ["single_object", "colors", "position"]
    assert list(summarize(rows[::-1]).tags) == ["single_object", "colors", "position"]


def sample(i: int, tag: str, n: int = 4) -> Sample:
    return Sample(f"{i:05d}", GenerateRequest("p", num_images=n), target={}, meta={"tag": tag, "index": i})


def ok_score(i: int, tag: str, verdicts: list[bool]) -> SampleScore:
    images = [{"file": f"{i:05d}/samples/{k:04d}.png", "correct": v, "reason": ""} for k, v in enumerate(verdicts)]
    return SampleScore(
        f"{i:05d}", float(np.mean(verdicts)), correct=any(verdicts), details={"tag": tag, "images": images}
    )


def test_build_result_metrics_and_failures():
    samples, scores = [], []
    for j, tag in enumerate(TAGS):
        for r in range(3):
            i = j * 3 + r
            samples.append(sample(i, tag))
            scores.append(ok_score(i, tag, [True, r == 0, False, True]))
    samples.append(sample(99, "counting"))
    scores.append(SampleScore("00099", 0.0, correct=False, status=INFERENCE_FAILED, reason="boom"))
    result = build_result("geneval", samples, scores, label="GenEval", prompt_set="original")
    assert list(result.metrics) == ["overall", *TAGS, "image_accuracy", "prompt_accuracy"]
    assert result.metrics["single_object"].value == pytest.approx(7 / 12)
    assert result.metrics["counting"].value == pytest.approx(7 / 16)  # the failed prompt: 4 wrong images
    assert result.metrics["counting"].n == 16
    assert result.metrics["overall"].value == pytest.approx((5 * 7 / 12 + 7 / 16) / 6)
    assert result.metrics["prompt_accuracy"].value == pytest.approx(18 / 19)
    assert result.counts["images"] == 76 and result.counts["correct_images"] == 42
    assert result.info["table"]["keys"] == [*TAGS, "overall"]
    assert result.info["table"]["values"][-1] == pytest.approx(result.metrics["overall"].value)
    m = result.metrics["overall"]
    assert m.ci_low is not None and m.ci_high is not None and m.ci_low < m.value < m.ci_high


def test_missing_tags_are_nan_and_noted_rewritten_labelled():
    result = build_result(
        "geneval_rewritten",
        [sample(0, "colors")],
        [ok_score(0, "colors", [True] * 4)],
        label="GenEval†",
        prompt_set="rewritten",
    )
    assert math.isnan(result.metrics["position"].value) and result.metrics["position"].n == 0
    assert result.metrics["overall"].value == 1.0
    assert any("5 of 6" not in n and "averages 1 of 6 tags" in n for n in result.notes)
    assert any(n.startswith("† rewritten prompts") for n in result.notes)
    assert result.info["table"]["values"][TAGS.index("position")] is None


def test_image_rows_count_missing_images_only_from_details():
    s = ok_score(0, "colors", [True, False])
    s.details["missing_images"] = 2
    rows = image_rows([sample(0, "colors")], [s])
    assert len(rows) == 2
    result = build_result("geneval", [sample(0, "colors")], [s], label="GenEval", prompt_set="original")
    assert result.counts["missing_images"] == 2
    assert any("2 images missing" in n for n in result.notes)
