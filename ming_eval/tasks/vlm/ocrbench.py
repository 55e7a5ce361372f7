"""OCRBench: substring matching against a list of accepted answers, no judge.

A sample scores 1 if any accepted answer, lower-cased and stripped, occurs in the lower-cased output
(newlines as spaces); for handwritten mathematical expressions, spaces and case are kept apart:
all whitespace is removed from both and the match is case-sensitive. ``final_score`` is the count of
right answers (0-1000 on the full benchmark); ``overall`` = final score / 10, as the leaderboard
divides it, whatever the number of samples scored.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.statistic import Statistic, Sum
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import DataError
from ming_eval.stats.bootstrap import mean_metric
from ming_eval.tasks.vlm.base import PooledScorer, Quirks, VlmOptions, VlmTask, require, scored_text
from ming_eval.tasks.vlm.prompts import Kind

HMER = "Handwritten Mathematical Expression Recognition"
TEXT_RECOGNITION = (
    "Regular Text Recognition",
    "Irregular Text Recognition",
    "Artistic Text Recognition",
    "Handwriting Recognition",
    "Digit String Recognition",
    "Non-Semantic Text Recognition",
)
SUMMARY = ("Text Recognition", "Scene Text-centric VQA", "Doc-oriented VQA", "Key Information Extraction", HMER)


def summary_group(category: str) -> str:
    return "Text Recognition" if category in TEXT_RECOGNITION else category


def ocr_match(prediction: str, answers: Sequence[str], category: str) -> bool:
    if category == HMER:
        said = prediction.strip().replace("\n", " ").replace(" ", "")
        return any(a.strip().replace("\n", " ").replace(" ", "") in said for a in answers)
    said = prediction.lower().strip().replace("\n", " ")
    return any(a.lower().strip().replace("\n", " ") in said for a in answers)


class OCRBenchTask(VlmTask):
    Options: ClassVar[type[BaseModel]] = VlmOptions
    kind: ClassVar[Kind] = "vqa"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question", "answer", "category")

    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        raw = require(row, "answer", source, str)
        try:
            answers = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"{source}: the answer cell is not a list of strings: {raw[:60]!r}") from exc
        if not isinstance(answers, (list, tuple)):  # one bare answer ("2024" parses as a number)
            answers = [answers]
        return [str(a) for a in answers], {"category": require(row, "category", source, str)}

    def scorer(self, ctx: TaskContext) -> Scorer:
        return OCRBenchScorer(self.opts.quirks)

    def headline(self) -> Statistic:
        return Sum(scale=0.1)  # the count of right answers / 10, as the leaderboard divides it

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        n = len(values)
        # final score = number right: the mean times n; overall = that / 10
        final = mean_metric(values, scale=float(n))
        overall = self.headline_metric(samples, scores)
        groups: dict[str, list[float]] = {name: [] for name in SUMMARY}
        categories: dict[str, list[float]] = {}
        for sample, v in zip(samples, values, strict=True):
            category = str(sample.meta["category"])
            groups.setdefault(summary_group(category), []).append(v)
            categories.setdefault(category, []).append(v)
        counts_table: dict[str, Metric] = {k: mean_metric(v, scale=float(len(v))) for k, v in groups.items() if v}
        category_table = {k: mean_metric(v, scale=float(len(v))) for k, v in sorted(categories.items())}
        notes = (
            []
            if n == 1000
            else [
                f"{n} samples scored: final_score counts right answers among them (1000 in "
                "the full benchmark), and overall is that count / 10 as the leaderboard "
                "computes it"
            ]
        )
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics={"overall": overall, "final_score": final},
            breakdowns={"group": counts_table, "category": category_table},
            notes=notes,
        )


class OCRBenchScorer(PooledScorer):
    def __init__(self, quirks: Quirks = "vlmevalkit") -> None:
        super().__init__()
        self.quirks = quirks

    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        category = str(sample.meta["category"])
        ok = ocr_match(scored_text(pred, self.quirks), sample.target, category)
        return SampleScore(
            sample.id,
            float(ok),
            correct=ok,
            reason=("an accepted answer is in the output" if ok else "no accepted answer in the output"),
            details={"answers": sample.target},
        )
