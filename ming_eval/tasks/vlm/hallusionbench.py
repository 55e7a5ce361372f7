"""HallusionBench: yes/no questions; aAcc, fAcc, qAcc and their mean, as the leaderboard reports it.

The answer is read from the words of the output (VLMEvalKit ``YOrN_Extraction``); an answer that is
neither goes to the judge (VLMEvalKit's yes/no matching prompt, up to five tries at temperature
0, 0.5, 1.0, ... as VLMEvalKit asks), and stays wrong if the judge cannot tell either.

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

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.task import Scorer, TaskContext
from ming_eval.errors import DataError, JudgeUnavailableError
from ming_eval.stats.bootstrap import DEFAULT, BootstrapConfig, cluster_bootstrap, mean_metric
from ming_eval.tasks.vlm.base import (
    JudgedOptions,
    JudgedScorer,
    VlmTask,
    ask_judge,
    judge_unavailable,
    output_text,
    require,
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

    def scorer(self, ctx: TaskContext) -> Scorer:
        return YesNoScorer(*self.open_judge(ctx, YesNoJudgePrompt.load))

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore]) -> TaskResult:
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


def _group_stats(values: np.ndarray, metas: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Per (l2-category, set) cluster: [questions, right, figures, figures all right, questions asked,
    questions right on every figure]. Figure and question groups nest inside their cluster."""
    figures: dict[tuple[str, str], list[float]] = defaultdict(list)
    questions: dict[tuple[str, str], list[float]] = defaultdict(list)
    rows: dict[str, list[float]] = defaultdict(list)
    for v, m in zip(values, metas, strict=True):
        cluster = f"{m.get('l2-category')}_{m['set']}"
        figures[(cluster, str(m["figure"]))].append(float(v))
        questions[(cluster, str(m["qid"]))].append(float(v))
        rows[cluster].append(float(v))
    pos = {c: i for i, c in enumerate(sorted(rows))}
    stats = np.zeros((len(pos), 6), dtype=np.float64)
    for cluster, vals in rows.items():
        stats[pos[cluster], 0:2] += (len(vals), sum(vals))
    for (cluster, _), vals in figures.items():
        stats[pos[cluster], 2:4] += (1.0, float(all(vals)))
    for (cluster, _), vals in questions.items():
        stats[pos[cluster], 4:6] += (1.0, float(all(vals)))
    return stats


def _ratios(sums: np.ndarray) -> np.ndarray:
    """(aAcc, fAcc, qAcc) from summed cluster stats; rows are replicates."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack(
            [sums[..., 1] / sums[..., 0], sums[..., 3] / sums[..., 2], sums[..., 5] / sums[..., 4]], axis=-1
        )


def hallusion_metrics(
    values: np.ndarray, metas: Sequence[Mapping[str, Any]], cfg: BootstrapConfig = DEFAULT
) -> dict[str, Metric]:
    if values.size == 0:
        empty = mean_metric([], scale=100.0)
        return {"overall": empty, "aAcc": empty, "fAcc": empty, "qAcc": empty}
    stats = _group_stats(values, metas)
    point = _ratios(stats.sum(axis=0)) * 100.0
    out: dict[str, Metric] = {}
    statistics = {
        "aAcc": lambda s: _ratios(s)[..., 0],
        "fAcc": lambda s: _ratios(s)[..., 1],
        "qAcc": lambda s: _ratios(s)[..., 2],
        "overall": lambda s: _ratios(s).mean(axis=-1),
    }
    values_of = {"aAcc": point[0], "fAcc": point[1], "qAcc": point[2], "overall": float(point.mean())}
    n = int(values.size)
    for name, statistic in statistics.items():
        lo, hi = cluster_bootstrap(stats, statistic, cfg)
        out[name] = Metric(float(values_of[name]), lo * 100.0, hi * 100.0, n=n, confidence=cfg.confidence, scale=100.0)
    return {k: out[k] for k in ("overall", "aAcc", "fAcc", "qAcc")}


def _said(reply: str) -> str | None:
    said = yes_no(reply)
    return None if said == "Unknown" else said


class YesNoScorer(JudgedScorer[YesNoJudgePrompt]):
    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore:
        gold = str(sample.target)
        text = output_text(pred)

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
        if not text.strip():
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
