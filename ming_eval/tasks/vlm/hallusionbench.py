"""HallusionBench: yes/no questions; aAcc, fAcc, qAcc and their mean, as the leaderboard reports it.

The answer is read from the words of the output (VLMEvalKit ``YOrN_Extraction``); an answer that is
neither goes to the judge (VLMEvalKit's yes/no matching prompt, up to five tries at temperature
0, 0.5, 1.0, ... as VLMEvalKit asks), and stays wrong if the judge cannot tell either. An empty
output goes to the judge as the text "nan", as VLMEvalKit reads it back; under ``quirks: fixed`` it
is wrong without a judge call.

* aAcc: accuracy over all questions;
* fAcc: share of figures (``l2-category``, set, figure) whose questions are all right;
* qAcc: share of questions (``l2-category``, set, question) right on every figure;
* ``overall`` = (aAcc + fAcc + qAcc) / 3, the number on the OpenCompass leaderboard.

Set, figure and question ids are fields 3, 4 and 5 of the ``_``-separated index. As in VLMEvalKit,
the figure and question keys do not include the VD/VS category, so equal keys of the two categories
are one group in the overall numbers. Intervals resample (``l2-category``, set) clusters, which
contain whole figure and question groups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.statistic import AllCorrect, Average, Mean, Statistic
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import DataError, JudgeUnavailableError
from ming_eval.stats.bootstrap import DEFAULT, BootstrapConfig, cluster_bootstrap, mean_metric
from ming_eval.stats.headline import cluster_table
from ming_eval.tasks.vlm.base import (
    JudgedOptions,
    JudgedScorer,
    VlmTask,
    ask_judge,
    is_blank,
    judge_unavailable,
    require,
    scored_text,
)
from ming_eval.tasks.vlm.extraction import yes_no
from ming_eval.tasks.vlm.judge_prompts import YesNoJudgePrompt
from ming_eval.tasks.vlm.prompts import Kind
from ming_eval.tasks.vlm.report import extraction_counts
from ming_eval.tasks.vlm.tsv import clean

JUDGE_TRIES = 5
JUDGE_MAX_TOKENS = 2048


class HallusionOptions(JudgedOptions):
    pass


class HallusionBenchTask(VlmTask):
    Options: ClassVar[type[BaseModel]] = HallusionOptions
    kind: ClassVar[Kind] = "yes_no"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question", "answer")

    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        index = str(clean(row["index"]))
        parts = index.split("_")
        if len(parts) < 6:
            raise DataError(f"{source}: HallusionBench indices have six '_'-separated fields, got {index!r}")
        meta = {
            "question": str(row["question"]),
            "category": clean(row.get("category")),
            "l2-category": clean(row.get("l2-category")),
            "set": parts[3],
            "figure": parts[4],
            "qid": parts[5],
        }
        return require(row, "answer", source, str), meta

    def headline(self) -> Statistic:
        return HEADLINE

    def sample_cluster(self, sample: Sample) -> str | None:
        return cluster_of(sample.meta)

    def sample_groups(self, sample: Sample) -> dict[str, str]:
        return {"figure": str(sample.meta["figure"]), "question": str(sample.meta["qid"])}

    def scorer(self, ctx: TaskContext) -> Scorer:
        return YesNoScorer(*self.open_judge(ctx, YesNoJudgePrompt.load), self.opts.quirks)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = np.asarray([s.score for s in scores], dtype=np.float64)
        metas = [s.meta for s in samples]
        metrics = hallusion_metrics(values, metas)
        tables: dict[str, dict[str, Metric]] = {}
        for column in ("category", "l2-category"):
            labels = [m.get(column) for m in metas]
            table: dict[str, Metric] = {}
            for label in sorted({str(x) for x in labels if x is not None}):
                mask = np.asarray([str(x) == label for x in labels])
                sub = hallusion_metrics(values[mask], [m for m, keep in zip(metas, mask, strict=True) if keep])
                for name in ("aAcc", "fAcc", "qAcc", "overall"):
                    table[f"{label} {name}"] = sub[name]
            tables[column] = table
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics=metrics,
            breakdowns=tables,
            info={"judge": getattr(self.options, "judge", None), "extraction": extraction_counts(scores)},
        )


#: aAcc, fAcc and qAcc, and the headline: their mean
PARTS = {"aAcc": Mean(), "fAcc": AllCorrect(group="figure"), "qAcc": AllCorrect(group="question")}
HEADLINE = Average(parts=list(PARTS.values()), scale=100.0)


def cluster_of(meta: Mapping[str, Any]) -> str:
    """The resampling unit: an (``l2-category``, set) pair, which holds whole figure and question groups."""
    return f"{meta.get('l2-category')}_{meta['set']}"


def hallusion_metrics(
    values: np.ndarray, metas: Sequence[Mapping[str, Any]], cfg: BootstrapConfig = DEFAULT
) -> dict[str, Metric]:
    """``overall`` (the declared headline) and its parts, with joint cluster-bootstrap intervals."""
    if values.size == 0:
        empty = mean_metric([], scale=100.0)
        return {"overall": empty, "aAcc": empty, "fAcc": empty, "qAcc": empty}
    keys = {
        "figure": np.asarray([str(m["figure"]) for m in metas], dtype=object),
        "question": np.asarray([str(m["qid"]) for m in metas], dtype=object),
    }
    table = cluster_table(HEADLINE, values, keys, [cluster_of(m) for m in metas])
    statistics: dict[str, Callable[[np.ndarray], np.ndarray]] = {"overall": HEADLINE.value_of}
    start = 0
    for name, part in PARTS.items():
        stop = start + (part.width() or 0)
        statistics[name] = lambda s, part=part, a=start, b=stop: part.value_of(s[..., a:b])  # type: ignore[misc]
        start = stop
    total = table.sum(axis=0)
    out: dict[str, Metric] = {}
    n = int(values.size)
    for name, statistic in statistics.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            value = float(statistic(total))
        lo, hi = cluster_bootstrap(table, statistic, cfg)
        out[name] = Metric(value * 100.0, lo * 100.0, hi * 100.0, n=n, confidence=cfg.confidence, scale=100.0)
    return out


def _said(reply: str) -> str | None:
    said = yes_no(reply)
    return None if said == "Unknown" else said


class YesNoScorer(JudgedScorer[YesNoJudgePrompt]):
    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        gold = str(sample.target)
        text = scored_text(pred, self.quirks)

        def verdict(said: str, how: str, **details: Any) -> SampleScore:
            ok = said == gold
            return SampleScore(
                sample.id,
                float(ok),
                correct=ok,
                reason=f"read {said} ({how}), answer {gold}",
                details={"extracted": said, "how": how, "answer": gold, **details},
            )

        said = yes_no(text)
        if said != "Unknown":
            return verdict(said, "words")
        if is_blank(text, self.quirks):
            return verdict("Unknown", "empty")
        if self.judge.exact:
            return verdict("Unknown", "exact_matching")
        client = self.judge.client
        if client is None or self.prompt is None:
            return judge_unavailable(sample, f"neither yes nor no in the answer and {self.judge.missing}")
        prompt = self.prompt.build(sample.meta["question"], text)
        replies: list[str] = []
        try:
            judged = ask_judge(
                client, prompt, _said, replies, tries=JUDGE_TRIES, max_tokens=JUDGE_MAX_TOKENS, rising_temperature=True
            )
        except JudgeUnavailableError as exc:
            return judge_unavailable(sample, f"neither yes nor no and the judge failed: {exc}", judge_replies=replies)
        if judged is not None:
            return verdict(judged, "judge", judge=client.model, judge_replies=replies)
        return verdict("Unknown", "judge_unparsed", judge=client.model, judge_replies=replies)
