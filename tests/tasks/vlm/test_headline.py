"""Each understanding task's declared headline statistic, evaluated on its per-sample scores, is the
primary metric its aggregate reports (what ``ming-eval compare`` recomputes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ming_eval.core.sample import Sample
from ming_eval.core.statistic import AllCorrect, Average, Mean, Sum
from ming_eval.stats.headline import headline_value
from ming_eval.tasks.vlm.base import VlmTask
from ming_eval.testing.fixtures.vlm import make_hallusionbench, make_mcq, make_mmbench, make_mmmu, make_ocrbench
from tests.tasks.vlm.helpers import load, score


def _wrong(sample: Sample) -> str:
    target = str(sample.target)
    if target in ("Yes", "No"):
        return "No" if target == "Yes" else "Yes"
    if len(target) == 1 and target.isalpha():
        return "D" if target != "D" else "A"
    return "zzz"


def _recomputed(task: VlmTask, samples: list[Sample], values: list[float]) -> float:
    statistic = task.headline()
    keys = {}
    for name in statistic.key_names():
        keys[name] = np.asarray(
            [{**task.sample_breakdown(s), **task.sample_groups(s)}[name] for s in samples], dtype=object
        )
    clusters = [task.sample_cluster(s) for s in samples]
    named = None if all(c is None for c in clusters) else [c or s.id for c, s in zip(clusters, samples, strict=True)]
    return headline_value(statistic, values, keys, clusters=named)


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("mmstar", make_mcq, Mean),
        ("mmbench_dev_en", make_mmbench, AllCorrect),
        ("mmmu_dev_val", make_mmmu, Mean),
        ("hallusionbench", make_hallusionbench, Average),
        ("ocrbench", make_ocrbench, Sum),
    ],
)
def test_declared_headline_is_the_primary_metric(
    tmp_path: Path, name: str, make: Callable[[Path], Path], kind: type
) -> None:
    task, samples, ctx = (
        load(name, tmp_path, make, judge="exact_matching") if name != "ocrbench" else load(name, tmp_path, make)
    )
    assert isinstance(task.headline(), kind)
    # every third answer wrong: a mix that tells a mean, a circular and a figure/question accuracy apart
    outputs = {
        s.id: (_wrong(s) if i % 3 == 0 else (s.target[0] if isinstance(s.target, list) else str(s.target)))
        for i, s in enumerate(samples)
    }
    scores, result = score(task, ctx, samples, outputs)
    values = [s.score for s in scores]
    assert 0.0 < float(np.mean(values)) < 1.0
    assert _recomputed(task, samples, values) == pytest.approx(result.primary_metric.value)
    if kind is not Mean:  # the plain mean would be another number: the declaration matters
        assert float(np.mean(values)) * 100.0 != pytest.approx(result.primary_metric.value)


def test_mmmu_headline_is_its_validation_split(tmp_path: Path) -> None:
    task, samples, ctx = load("mmmu_dev_val", tmp_path, make_mmmu, judge="exact_matching")
    # right on the validation split only: the headline is 100 whatever the dev split scores
    outputs = {s.id: str(s.target) if s.meta.get("split") == "validation" else _wrong(s) for s in samples}
    _, result = score(task, ctx, samples, outputs)
    assert result.primary_metric.value == pytest.approx(100.0)
    assert result.metrics["dev_val"].value < 100.0
