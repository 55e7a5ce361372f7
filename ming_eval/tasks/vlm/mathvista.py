"""MathVista (testmini): answer extraction and comparison as VLMEvalKit does it.

First the heuristics ("prefetch", no judge): for multiple choice, an option letter or text in the
output (any match counts as prefetched, right or wrong); for integer and float answers, the whole
output cast with ``int()`` / ``float()`` and equal to the answer. Otherwise the judge extracts the
answer with MathVista's five-example prompt (temperature 0, at most 128 tokens), and the extraction
is compared the same way: the option letter against ``answer_option``, numbers by exact equality
after the cast (the ``precision`` column is not used).

By default every sample is scored as VLMEvalKit scores it, accidents included: a numeric answer
that casts to 0 is never prefetched (VLMEvalKit's truthiness test sends it to the judge, whose
extraction then decides), and an empty output goes to the judge as the text "nan" (what VLMEvalKit
reads back from its prediction file). ``quirks: fixed`` prefetches the 0 and counts an empty output
wrong without a judge call; results are then not comparable with published numbers. In both modes a
judge that cannot be reached gives ``judge_unavailable`` samples (VLMEvalKit refuses to score).

Kept for comparability: answers of type ``text`` and ``list`` are never credited (VLMEvalKit compares
them against ``str(None)``); ``-o mathvista_mini.text_answers=exact`` compares the judge's extraction
with the answer instead, which gives a different number.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import DataError, JudgeUnavailableError
from ming_eval.stats.bootstrap import mean_metric
from ming_eval.tasks.vlm.base import (
    Judge,
    JudgedScorer,
    LlmJudgedOptions,
    VlmTask,
    is_blank,
    judge_unavailable,
    require,
    scored_text,
)
from ming_eval.tasks.vlm.extraction import MatchingRules, match_option
from ming_eval.tasks.vlm.judge_prompts import MathVistaJudgePrompt
from ming_eval.tasks.vlm.prompts import Kind
from ming_eval.tasks.vlm.report import extraction_counts, grouped
from ming_eval.tasks.vlm.tsv import clean

JUDGE_MAX_TOKENS = 128


class MathVistaOptions(LlmJudgedOptions):
    matching: MatchingRules = "current"
    text_answers: Literal["vlmevalkit", "exact"] = "vlmevalkit"


def cast_number(text: Any, answer_type: str) -> int | float | None:
    """``int(text)`` or ``float(text)`` as Python parses them, None if that fails."""
    try:
        return int(text) if answer_type == "integer" else float(text)
    except (TypeError, ValueError):
        return None


def _parse_list(value: Any, source: str, column: str) -> list[Any]:
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError) as exc:
        raise DataError(f"{source}: cannot parse the {column!r} cell {str(value)[:60]!r}: {exc}") from exc
    if not isinstance(parsed, (list, tuple)):
        raise DataError(f"{source}: the {column!r} cell is not a list")
    return list(parsed)


class MathVistaTask(VlmTask):
    Options: ClassVar[type[BaseModel]] = MathVistaOptions
    kind: ClassVar[Kind] = "vqa"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question", "answer", "question_type", "answer_type")

    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        question_type = require(row, "question_type", source, str)
        answer_type = require(row, "answer_type", source, str)
        meta: dict[str, Any] = {
            "question": str(row["question"]),
            "question_type": question_type,
            "answer_type": answer_type,
            "task": clean(row.get("task")),
        }
        skills = clean(row.get("skills"))
        try:
            meta["skills"] = [str(s) for s in ast.literal_eval(str(skills))] if skills is not None else []
        except (ValueError, SyntaxError):
            meta["skills"] = [str(skills)]
        answer = require(row, "answer", source, str)
        if question_type == "multi_choice":
            options = _parse_list(require(row, "choices", source), source, "choices")
            meta["choices"] = {chr(65 + i): str(v) for i, v in enumerate(options)}
            return require(row, "answer_option", source, str), meta | {"answer": answer}
        return answer, meta

    def scorer(self, ctx: TaskContext) -> Scorer:
        assert isinstance(self.options, MathVistaOptions)
        return MathVistaScorer(*self.open_judge(ctx, MathVistaJudgePrompt.load), self.options)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        prefetched = [1.0 if s.details.get("how") == "prefetch" else 0.0 for s in scores]
        metrics = {
            "overall": self.headline_metric(samples, scores),
            "prefetch_rate": mean_metric(prefetched, scale=100.0),
        }
        by_skill: dict[str, list[float]] = defaultdict(list)
        for sample, v in zip(samples, values, strict=True):
            for skill in sample.meta.get("skills", []):
                by_skill[skill].append(v)
        skill_table: dict[str, Metric] = {k: mean_metric(v, scale=100.0) for k, v in sorted(by_skill.items())}
        tables = {"task": grouped(values, [s.meta.get("task") for s in samples]), "skill": skill_table}
        notes = []
        never = sum(1 for s in scores if s.details.get("how") == "never_credited")
        if never:
            notes.append(f"{never} text/list answers are never credited, as in VLMEvalKit (option text_answers)")
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics=metrics,
            breakdowns=tables,
            notes=notes,
            info={"judge": getattr(self.options, "judge", None), "extraction": extraction_counts(scores)},
        )


class MathVistaScorer(JudgedScorer[MathVistaJudgePrompt]):
    def __init__(self, judge: Judge, prompt: MathVistaJudgePrompt | None, options: MathVistaOptions) -> None:
        super().__init__(judge, prompt, options.quirks)
        self.options = options

    def _compare(self, sample: Sample, extracted: str) -> tuple[bool, Any]:
        meta = sample.meta
        if meta["question_type"] == "multi_choice":
            letter, _ = match_option(extracted, meta["choices"], self.options.matching)
            return letter == sample.target, letter
        kind = meta["answer_type"]
        if kind in ("integer", "float"):
            said, gold = cast_number(extracted, kind), cast_number(sample.target, kind)
            return said is not None and said == gold, said
        return extracted.strip() == str(sample.target).strip(), extracted.strip()

    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        meta = sample.meta
        text = scored_text(pred, self.quirks)

        def verdict(ok: bool, how: str, extracted: Any, reason: str = "", **details: Any) -> SampleScore:
            why = reason or f"extracted {extracted!r} ({how}), answer {sample.target!r}"
            return SampleScore(
                sample.id,
                float(ok),
                correct=ok,
                reason=why,
                details={"extracted": extracted, "how": how, "answer": sample.target, **details},
            )

        numeric = meta["answer_type"] in ("integer", "float")
        if meta["question_type"] != "multi_choice" and not numeric and self.options.text_answers == "vlmevalkit":
            return verdict(
                False,
                "never_credited",
                None,
                f"answer type {meta['answer_type']!r} is never credited by VLMEvalKit's MathVista scoring",
            )
        if is_blank(text, self.quirks):
            return verdict(False, "empty", None, "empty output")
        if meta["question_type"] == "multi_choice":
            letter, _ = match_option(text, meta["choices"], self.options.matching)
            if letter:
                return verdict(letter == sample.target, "prefetch", letter)
        elif numeric:
            ok, said = self._compare(sample, text)
            # VLMEvalKit's prefetch is a truthiness test on the cast value: a right 0 is not prefetched
            if ok and (said or self.quirks == "fixed"):
                return verdict(True, "prefetch", said)
        client = self.judge.client
        if client is None or self.prompt is None:
            return judge_unavailable(sample, f"the answer needs extraction and {self.judge.missing}")
        try:
            reply = client.complete(
                self.prompt.build(meta["question"], text), temperature=0.0, max_tokens=JUDGE_MAX_TOKENS
            )
        except JudgeUnavailableError as exc:
            return judge_unavailable(sample, f"the answer needs extraction and the judge failed: {exc}")
        ok, said = self._compare(sample, reply)
        return verdict(ok, "judge", said, judge=client.model, judge_reply=reply)
