"""MM-Vet: open answers graded 0.0-1.0 by an LLM judge (MM-Vet's few-shot grading prompt).

As VLMEvalKit: the judge is asked up to five times, at temperature 0, 0.5, 1.0, 1.5, 2.0, until its
reply parses as a number in [0, 1]; a judge that never gives one grades the answer 0.0. Every reply
is cached, so re-scoring gives the same grades. ``overall`` = mean grade x 100; per capability (rec,
ocr, know, gen, spat, math: a sample counts for each capability named in its category) and per
category combination (VLMEvalKit counts a sample whose category is exactly one capability twice in
that capability's row, because it keeps both tables in one dict; here every sample counts once, and
``overall`` is not affected either way). Without a judge every sample is ``judge_unavailable`` (VLMEvalKit refuses to
score). An empty output is graded by the judge as the text "nan", as VLMEvalKit reads it back; under
``quirks: fixed`` it is graded 0.0 without asking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import JudgeUnavailableError
from ming_eval.stats.bootstrap import mean_metric
from ming_eval.tasks.vlm.base import (
    JudgedScorer,
    LlmJudgedOptions,
    VlmTask,
    ask_judge,
    is_blank,
    judge_unavailable,
    require,
    scored_text,
)
from ming_eval.tasks.vlm.judge_prompts import MMVetJudgePrompt
from ming_eval.tasks.vlm.prompts import Kind
from ming_eval.tasks.vlm.tsv import clean

CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")
JUDGE_TRIES = 5
JUDGE_MAX_TOKENS = 2048


class MMVetOptions(LlmJudgedOptions):
    judge: str | None = "gpt-4-turbo"


def parse_grade(reply: str) -> float | None:
    """The grade in a judge reply: the whole reply as a float in [0, 1], else None."""
    try:
        grade = float(reply)
    except ValueError:
        return None
    return grade if 0.0 <= grade <= 1.0 else None


class MMVetTask(VlmTask):
    Options: ClassVar[type[BaseModel]] = MMVetOptions
    kind: ClassVar[Kind] = "mmvet"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question", "answer", "category")

    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        return require(row, "answer", source, str), {
            "question": str(row["question"]),
            "category": str(clean(row.get("category")) or ""),
        }

    def scorer(self, ctx: TaskContext) -> Scorer:
        return MMVetScorer(*self.open_judge(ctx, MMVetJudgePrompt.load), self.opts.quirks)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        cats = [str(s.meta.get("category", "")) for s in samples]
        capability: dict[str, Metric] = {}
        for cap in CAPABILITIES:
            # VLMEvalKit tests ``cap in category`` on the raw string
            picked = [v for v, c in zip(values, cats, strict=True) if cap in c]
            if picked:
                capability[cap] = mean_metric(picked, scale=100.0)
        combos: dict[str, list[float]] = defaultdict(list)
        for v, c in zip(values, cats, strict=True):
            combos[c.replace(",", "_")].append(v)
        tables = {"capability": capability, "category": {k: mean_metric(v, scale=100.0) for k, v in combos.items()}}
        unparsed = sum(1 for s in scores if s.details.get("how") == "judge_unparsed")
        notes = (
            [f"{unparsed} answers got no usable grade from the judge in {JUDGE_TRIES} tries and count 0.0"]
            if unparsed
            else []
        )
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics={"overall": self.headline_metric(samples, scores)},
            breakdowns=tables,
            notes=notes,
            info={"judge": getattr(self.options, "judge", None)},
        )


class MMVetScorer(JudgedScorer[MMVetJudgePrompt]):
    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        text = scored_text(pred, self.quirks)
        if is_blank(text, self.quirks):
            return SampleScore(sample.id, 0.0, correct=False, reason="empty output", details={"how": "empty"})
        client = self.judge.client
        if client is None or self.prompt is None:
            return judge_unavailable(sample, f"MM-Vet is graded by a judge and {self.judge.missing}")
        prompt = self.prompt.build(sample.meta["question"], str(sample.target), text)
        replies: list[str] = []
        try:
            grade = ask_judge(
                client,
                prompt,
                parse_grade,
                replies,
                tries=JUDGE_TRIES,
                max_tokens=JUDGE_MAX_TOKENS,
                rising_temperature=True,
            )
        except JudgeUnavailableError as exc:
            return judge_unavailable(sample, f"the judge failed: {exc}", judge_replies=replies)
        if grade is not None:
            return SampleScore(
                sample.id,
                grade,
                correct=grade >= 1.0,
                reason=f"graded {grade:g}",
                details={"how": "judge", "judge": client.model, "judge_replies": replies},
            )
        return SampleScore(
            sample.id,
            0.0,
            correct=False,
            reason=f"no grade in {JUDGE_TRIES} judge replies; 0.0",
            details={"how": "judge_unparsed", "judge": client.model, "judge_replies": replies},
        )
