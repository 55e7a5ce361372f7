"""Multiple-choice benchmarks: MMBench (circular), MMStar, AI2D and MMMU, scored as VLMEvalKit does.

Each row's answer is extracted by the heuristics (an option letter, then an option's text); what they
cannot match goes to the judge, asked up to three times with VLMEvalKit's option-matching prompt. A
judge reply that still names no option counts as 'Z' (wrong): VLMEvalKit picks a random option there,
which makes scores irreproducible. Without a judge those samples are ``judge_unavailable``; under
``judge: exact_matching`` (VLMEvalKit's no-LLM policy) they are wrong. An empty output is matched like
any other, as the text ``"nan"`` VLMEvalKit reads back (so it usually goes to the judge); under
``quirks: fixed`` it is wrong without a judge call.

MMBench uses circular evaluation: the TSV holds every question once per rotation of its options
(index ``i + k*1e6``), and a question counts as solved only if every rotation is answered right. Rows
of a question already failed by the heuristics are not sent to the judge, as in VLMEvalKit.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from ming_eval.core.results import (
    INFERENCE_FAILED,
    SCORING_FAILED,
    Metric,
    Prediction,
    SampleScore,
    TaskResult,
)
from ming_eval.core.sample import Sample
from ming_eval.core.statistic import CLUSTER, AllCorrect, Mean, Statistic
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import DataError, JudgeUnavailableError
from ming_eval.stats.bootstrap import mean_metric
from ming_eval.tasks.vlm.base import (
    Judge,
    JudgedOptions,
    JudgedScorer,
    Quirks,
    VlmTask,
    ask_judge,
    is_blank,
    judge_unavailable,
    scored_text,
)
from ming_eval.tasks.vlm.extraction import MatchingRules, match_option
from ming_eval.tasks.vlm.judge_prompts import McqJudgePrompt
from ming_eval.tasks.vlm.prompts import Kind, options_of
from ming_eval.tasks.vlm.report import NO_ANSWER, breakdowns, extraction_counts
from ming_eval.tasks.vlm.tsv import clean

CIRCULAR_OFFSET = 1_000_000
JUDGE_TRIES = 3
JUDGE_MAX_TOKENS = 2048  # VLMEvalKit's OpenAIWrapper default for option matching
OPEN_ANSWER_OTHER = "Other Answers"
EMPTY_ANSWER_CELL = "empty_answer_cell"


class McqOptions(JudgedOptions):
    circular: bool | None = None  # None: as VLMEvalKit, circular for MMBench datasets
    matching: MatchingRules = "current"


class McqTask(VlmTask):
    """MMBench, MMStar, AI2D (and the base of MMMU)."""

    Options: ClassVar[type[BaseModel]] = McqOptions
    kind: ClassVar[Kind] = "mcq"
    #: MMMU turns open questions into choices (gold text vs "Other Answers")
    open_questions_as_choices: ClassVar[bool] = False

    @property
    def mcq_options(self) -> McqOptions:
        assert isinstance(self.options, McqOptions)
        return self.options

    @property
    def circular(self) -> bool:
        flag = self.mcq_options.circular
        return ("mmbench" in self.mcq_options.dataset.lower()) if flag is None else flag

    def sample_cluster(self, sample: Sample) -> str | None:
        """Circular evaluation scores a question on all its rotations: the question is the unit."""
        return str(sample.meta["group"]) if self.circular else None

    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        choices = {k: str(v) for k, v in options_of(row).items()}
        answer = clean(row.get("answer"))
        target = None if answer is None else str(answer)
        if self.open_questions_as_choices and target is not None:
            if "A" not in choices:
                choices = {**choices, "A": target, "B": OPEN_ANSWER_OTHER}
                choices = dict(sorted(choices.items()))
            if target not in string.ascii_uppercase or len(target) != 1:
                target = "A"
        meta: dict[str, Any] = {"question": str(row["question"]), "choices": choices}
        for column in ("category", "l2-category", "split"):
            if column in row:
                meta[column] = clean(row[column])
        if self.circular:
            try:
                index = int(clean(row["index"]))
            except (TypeError, ValueError) as exc:
                raise DataError(
                    f"{source}: circular evaluation needs whole-number indices (a question's "
                    f"rotations are index + k*{CIRCULAR_OFFSET})",
                    hint=f"use the VLMEvalKit file, or -o {self.name}.circular=false",
                ) from exc
            group = index % CIRCULAR_OFFSET
            meta.update(group=group, main=index == group)
        return target, meta

    def scorer(self, ctx: TaskContext) -> Scorer:
        opts = self.mcq_options
        judge, prompt = self.open_judge(ctx, McqJudgePrompt.load)
        failed_groups = (
            failed_groups_by_heuristics(ctx.predictions, ctx.samples, opts.matching, opts.quirks)
            if self.circular
            else set()
        )
        # a file without any answer (MMBench v1.0 test) cannot be scored; single empty answer cells are
        # wrong answers, as in VLMEvalKit
        no_answers = bool(ctx.samples) and all(s.target is None for s in ctx.samples.values())
        return McqScorer(judge, prompt, opts.matching, failed_groups, opts.quirks, no_answers=no_answers)

    def headline(self) -> Statistic:
        # circular: a question (the cluster of its rotations) counts when every rotation is right
        return AllCorrect(group=CLUSTER, scale=100.0) if self.circular else Mean(scale=100.0)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        if self.circular:
            return aggregate_circular(self.name, samples, scores, self.mcq_options)
        return aggregate_vanilla(
            self.name,
            samples,
            scores,
            self.mcq_options,
            primary_split=None,
            overall=self.headline_metric(samples, scores),
        )


class MmmuTask(McqTask):
    """MMMU_DEV_VAL: interleaved images, open questions as two choices; ``overall`` is the validation
    split (what the leaderboard's MMMU_VAL column shows), ``dev`` and ``dev_val`` are reported beside."""

    kind: ClassVar[Kind] = "mmmu"
    open_questions_as_choices: ClassVar[bool] = True
    primary_split: ClassVar[str] = "validation"

    def headline(self) -> Statistic:
        return Mean(where={"split": self.primary_split}, scale=100.0)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        return aggregate_vanilla(
            self.name,
            samples,
            scores,
            self.mcq_options,
            primary_split=self.primary_split,
            overall=self.headline_metric(samples, scores),
        )


class McqScorer(JudgedScorer[McqJudgePrompt]):
    def __init__(
        self,
        judge: Judge,
        prompt: McqJudgePrompt | None,
        rules: MatchingRules,
        failed_groups: set[Any],
        quirks: Quirks = "vlmevalkit",
        *,
        no_answers: bool = False,
    ) -> None:
        super().__init__(judge, prompt, quirks)
        self.rules = rules
        self.failed_groups = failed_groups
        self.no_answers = no_answers

    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        gold = sample.target
        if gold is None and not self.no_answers:
            return SampleScore(
                sample.id,
                0.0,
                correct=False,
                reason="the data file's answer cell is empty: counted wrong, as VLMEvalKit counts it",
                details={"how": EMPTY_ANSWER_CELL},
            )
        if gold is None:
            return SampleScore(
                sample.id, 0.0, correct=None, status=NO_ANSWER, reason="the data file has no answer for this question"
            )
        choices: dict[str, str] = sample.meta["choices"]
        text = scored_text(pred, self.quirks)

        def verdict(letter: str, how: str, reason: str = "", **details: Any) -> SampleScore:
            ok = letter == gold
            why = reason or f"extracted {letter} ({how}), answer {gold}"
            return SampleScore(
                sample.id,
                float(ok),
                correct=ok,
                reason=why,
                details={"extracted": letter, "how": how, "answer": gold, **details},
            )

        letter, how = heuristic_answer(text, choices, self.rules, self.quirks)
        if letter:
            return verdict(letter, how, "empty output" if how == "empty" else "")
        if sample.meta.get("group") in self.failed_groups:
            return SampleScore(
                sample.id,
                0.0,
                correct=None,
                reason="not judged: another rotation of this question was already answered wrong",
                details={"how": "skipped", "answer": gold},
            )
        if self.judge.exact:
            return verdict("Z", "exact_matching", "no option matched (exact_matching: no judge)")
        client = self.judge.client
        if client is None or self.prompt is None:
            return judge_unavailable(sample, f"no option matched and {self.judge.missing}")
        prompt = self.prompt.build(sample.meta["question"], choices, text)
        replies: list[str] = []
        try:
            letter = ask_judge(
                client,
                prompt,
                lambda reply: match_option(reply, choices, self.rules)[0],
                replies,
                tries=JUDGE_TRIES,
                max_tokens=JUDGE_MAX_TOKENS,
                rising_temperature=False,
            )
        except JudgeUnavailableError as exc:
            return judge_unavailable(sample, f"no option matched and the judge failed: {exc}", judge_replies=replies)
        if letter:
            return verdict(letter, "judge", judge=client.model, judge_replies=replies)
        return verdict(
            "Z",
            "judge_unparsed",
            f"the judge named no option in {JUDGE_TRIES} replies; counted wrong",
            judge=client.model,
            judge_replies=replies,
        )


def heuristic_answer(
    text: str, choices: dict[str, str], rules: MatchingRules, quirks: Quirks = "vlmevalkit"
) -> tuple[str | None, str]:
    """What the heuristics read before any judge: :func:`match_option`, and under ``quirks: fixed``
    'Z' for an empty output."""
    if is_blank(text, quirks):
        return "Z", "empty"
    return match_option(text, choices, rules)


def failed_groups_by_heuristics(
    predictions: Mapping[str, Prediction],
    by_id: Mapping[str, Sample],
    rules: MatchingRules,
    quirks: Quirks = "vlmevalkit",
) -> set[Any]:
    """Circular groups already lost before any judge call: a rotation whose heuristic answer is wrong
    (or whose inference failed), from every prediction of the run."""
    failed: set[Any] = set()
    for sid, pred in predictions.items():
        sample = by_id.get(sid)
        if sample is None or sample.target is None:
            continue
        if not pred.ok:
            failed.add(sample.meta.get("group"))
            continue
        letter, _ = heuristic_answer(scored_text(pred, quirks), sample.meta["choices"], rules, quirks)
        if letter and letter != sample.target:
            failed.add(sample.meta.get("group"))
    return failed


def _notes_and_info(scores: Sequence[SampleScore], options: McqOptions) -> tuple[list[str], dict[str, Any]]:
    how = extraction_counts(scores)
    info: dict[str, Any] = {"judge": options.judge, "matching": options.matching, "extraction": how}
    notes = []
    empty_cells = [s.id for s in scores if s.details.get("how") == EMPTY_ANSWER_CELL]
    if empty_cells:
        shown = ", ".join(empty_cells[:10]) + (" ..." if len(empty_cells) > 10 else "")
        notes.append(
            f"{len(empty_cells)} rows of the data file have an empty answer cell and count as wrong, as in "
            f"VLMEvalKit (index {shown}); fix the file or use the card's"
        )
    if how.get("judge_unparsed"):
        notes.append(f"{how['judge_unparsed']} answers the judge could not map to an option count as wrong")
    return notes, info


def aggregate_vanilla(
    task: str,
    samples: Sequence[Sample],
    scores: Sequence[SampleScore],
    options: McqOptions,
    *,
    primary_split: str | None,
    overall: Metric,
) -> TaskResult:
    """``overall`` is the task's headline (all samples, or those of ``primary_split``)."""
    notes, info = _notes_and_info(scores, options)
    if any(s.status == NO_ANSWER for s in scores):
        return _unanswered(task, notes, info)
    values = [s.score for s in scores]
    metas = [s.meta for s in samples]
    metrics = {}
    metrics["overall"] = overall
    if primary_split is None:
        tables = breakdowns(values, metas)
    else:
        splits = [m.get("split") for m in metas]
        for split in sorted({sp for sp in splits if sp is not None and sp != primary_split}):
            metrics[str(split)] = mean_metric(
                [v for v, sp in zip(values, splits, strict=True) if sp == split], scale=100.0
            )
        metrics["dev_val"] = mean_metric(values, scale=100.0)
        in_primary = [i for i, sp in enumerate(splits) if sp == primary_split]
        tables = breakdowns(
            [values[i] for i in in_primary], [metas[i] for i in in_primary], columns=("l2-category", "category")
        )
        tables.update(breakdowns(values, metas, columns=("split",)))
        if primary_split not in splits:
            notes.append(f"no {primary_split} rows were scored: overall (the {primary_split} split) is undefined")
    return TaskResult(task=task, primary="overall", metrics=metrics, breakdowns=tables, notes=notes, info=info)


def _unanswered(task: str, notes: list[str], info: dict[str, Any]) -> TaskResult:
    notes.append(
        "the data file has no answers (MMBench v1.0 test): predictions are kept in the run folder, "
        "but no accuracy can be computed"
    )
    return TaskResult(
        task=task, primary="overall", metrics={"overall": mean_metric([], scale=100.0)}, notes=notes, info=info
    )


def aggregate_circular(
    task: str, samples: Sequence[Sample], scores: Sequence[SampleScore], options: McqOptions
) -> TaskResult:
    """One value per question (every rotation right), over questions whose main row was scored."""
    notes, info = _notes_and_info(scores, options)
    if any(s.status == NO_ANSWER for s in scores):
        return _unanswered(task, notes, info)
    rows: dict[Any, list[SampleScore]] = defaultdict(list)
    main_meta: dict[Any, dict[str, Any]] = {}
    for sample, score in zip(samples, scores, strict=True):
        group = sample.meta["group"]
        rows[group].append(score)
        if sample.meta["main"]:
            main_meta[group] = dict(sample.meta)
    hits: list[float] = []
    metas: list[dict[str, Any]] = []
    undecided = 0
    for group, meta in main_meta.items():
        outcome = _group_outcome(rows[group])
        if outcome is None:
            undecided += 1
        hits.append(1.0 if outcome else 0.0)
        metas.append(meta)
    partial = sum(1 for g in main_meta if len(rows[g]) < len(main_meta[g]["choices"]))
    info.update(questions=len(main_meta), rows=len(scores), undecided_questions=undecided)
    if undecided:
        notes.append(
            f"{undecided} questions could not be decided (judge unavailable for a rotation, none answered "
            "wrong); they count as wrong"
        )
    if partial:
        notes.append(f"{partial} questions were scored on fewer rotations than they have options (--limit?)")
    orphans = len(set(rows) - set(main_meta))
    if orphans:
        notes.append(f"{orphans} questions have rotations but no main row in this run and are not scored")
    metrics = {"overall": mean_metric(hits, scale=100.0)}
    return TaskResult(
        task=task,
        primary="overall",
        metrics=metrics,
        breakdowns=breakdowns(hits, metas),
        notes=notes,
        info=info,
        counts={"questions": len(main_meta), "undecided_questions": undecided},
    )


def _group_outcome(rows: list[SampleScore]) -> bool | None:
    """True if every rotation is right, False if one is wrong or failed, None if undecided."""
    if any(r.status in (INFERENCE_FAILED, SCORING_FAILED) or r.correct is False for r in rows):
        return False
    if all(r.correct is True for r in rows):
        return True
    return None
