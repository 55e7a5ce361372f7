"""GenEval's summary, keyed by tag name: per-tag image accuracy, overall = mean of the tag means.

``summary_scores.py`` upstream prints, from one row per image: the share of correct images, the share
of prompts with at least one correct image, each tag's image accuracy (tags in order of first
appearance, which follows ``os.listdir``; wrappers that print a fixed column order mislabel them)
and the overall score, the unweighted mean of the tag accuracies. Here every number is keyed by its
tag and carries a bootstrap interval (prompts are the resampling unit: images of a prompt are not
independent; the overall score resamples within each tag).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ming_eval.core.results import Metric, SampleScore, TaskResult
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.stats.bootstrap import mean_metric, mean_of_means_metric
from ming_eval.tasks.geneval.constants import TABLE_COLUMNS, TAGS


@dataclass(frozen=True)
class ImageRow:
    """One scored image (or one image counted as wrong because its prompt failed)."""

    prompt: str
    tag: str
    correct: bool


def image_rows(samples: Sequence[Sample], scores: Sequence[SampleScore]) -> list[ImageRow]:
    """Per-image verdicts; a prompt whose inference or scoring failed counts all its images wrong."""
    rows: list[ImageRow] = []
    for sample, score in zip(samples, scores, strict=True):
        tag = str(sample.meta.get("tag", score.details.get("tag", "")))
        images = score.details.get("images") if score.status == "ok" else None
        if images:
            rows.extend(ImageRow(sample.id, tag, bool(img["correct"])) for img in images)
        else:
            n = sample.request.num_images if isinstance(sample.request, GenerateRequest) else 1
            rows.extend(ImageRow(sample.id, tag, False) for _ in range(n))
    return rows


@dataclass(frozen=True)
class Summary:
    """The point estimates of ``summary_scores.py``, keyed by tag."""

    n_images: int
    n_prompts: int
    image_accuracy: float
    prompt_accuracy: float
    tags: dict[str, float]
    tag_counts: dict[str, tuple[int, int]]  # tag -> (correct images, images)
    overall: float
    #: prompt -> whether at least one of its images is correct
    prompt_correct: dict[str, bool] = field(default_factory=dict)


def summarize(rows: Sequence[ImageRow]) -> Summary:
    """Summary numbers from per-image rows (prompts grouped by ``prompt``)."""
    if not rows:
        nan = float("nan")
        return Summary(0, 0, nan, nan, {}, {}, nan)
    per_prompt: dict[str, bool] = {}
    counts: dict[str, list[int]] = {}
    for row in rows:
        per_prompt[row.prompt] = per_prompt.get(row.prompt, False) or row.correct
        c = counts.setdefault(row.tag, [0, 0])
        c[0] += row.correct
        c[1] += 1
    ordered = [t for t in TAGS if t in counts] + sorted(t for t in counts if t not in TAGS)
    tags = {t: counts[t][0] / counts[t][1] for t in ordered}
    return Summary(
        n_images=len(rows),
        n_prompts=len(per_prompt),
        image_accuracy=sum(r.correct for r in rows) / len(rows),
        prompt_accuracy=sum(per_prompt.values()) / len(per_prompt),
        tags=tags,
        tag_counts={t: (counts[t][0], counts[t][1]) for t in ordered},
        overall=float(np.mean(list(tags.values()))),
        prompt_correct=per_prompt,
    )


def _nan_metric() -> Metric:
    return Metric(value=float("nan"), n=0)


def build_result(
    task: str,
    samples: Sequence[Sample],
    scores: Sequence[SampleScore],
    *,
    label: str,
    prompt_set: str,
) -> TaskResult:
    """The GenEval TaskResult: ``overall`` (primary, 0-1), one metric per tag, image and prompt accuracy."""
    rows = image_rows(samples, scores)
    summary = summarize(rows)
    values = np.array([r.correct for r in rows], dtype=np.float64)
    prompts = np.array([r.prompt for r in rows], dtype=object)
    tags = np.array([r.tag for r in rows], dtype=object)
    metrics: dict[str, Metric] = {}
    metrics["overall"] = mean_of_means_metric(values, tags, clusters=prompts) if rows else _nan_metric()
    per_tag: dict[str, Metric] = {}
    for tag in TAGS:
        mask = tags == tag
        per_tag[tag] = mean_metric(values[mask], clusters=prompts[mask]) if mask.any() else _nan_metric()
    metrics.update(per_tag)
    metrics["image_accuracy"] = mean_metric(values, clusters=prompts) if rows else _nan_metric()
    metrics["prompt_accuracy"] = (
        mean_metric(np.array(list(summary.prompt_correct.values()), dtype=np.float64)) if rows else _nan_metric()
    )

    notes: list[str] = []
    missing_tags = [t for t in TAGS if t not in summary.tags]
    if rows and missing_tags:
        notes.append(f"overall averages {len(summary.tags)} of 6 tags (none scored for: {', '.join(missing_tags)})")
    missing_images = sum(int(s.details.get("missing_images", 0)) for s in scores if s.status == "ok")
    if missing_images:
        notes.append(f"incomplete: {missing_images} images missing from scored prompts (--allow-incomplete)")
    if prompt_set == "rewritten":
        notes.append("† rewritten prompts: not comparable with results on GenEval's original prompts")
    elif prompt_set == "custom":
        notes.append("custom prompt set: not comparable with published GenEval numbers")

    columns = [*TAGS, "overall"]
    table = {
        "label": label,
        "columns": [TABLE_COLUMNS[c] for c in columns],
        "keys": columns,
        "values": [None if math.isnan(metrics[c].value) else metrics[c].value for c in columns],
        "scale": 1.0,
        # the engine adds counts["missing"] (prompts with no score) after aggregation
        "missing_images": missing_images,
    }
    counts = {
        "n": len(samples),
        "images": summary.n_images,
        "correct_images": int(values.sum()),
        "missing_images": missing_images,
    }
    info = {
        "label": label,
        "prompt_set": prompt_set,
        "table": table,
        "tag_counts": {t: {"correct": c, "images": n} for t, (c, n) in summary.tag_counts.items()},
    }
    return TaskResult(
        task=task,
        primary="overall",
        metrics=metrics,
        breakdowns={"tag": dict(per_tag)},
        counts=counts,
        notes=notes,
        info=info,
        comparable=prompt_set != "custom",
        not_comparable_because=["a custom prompt set"] if prompt_set == "custom" else [],
    )
