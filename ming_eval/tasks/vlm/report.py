"""Accuracy tables as VLMEvalKit reports them: overall, per split, per ``l2-category`` (MMBench's
abilities, abbreviated) and per ``category``, each with a bootstrap interval."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ming_eval.core.results import Metric, SampleScore
from ming_eval.stats.bootstrap import mean_metric

MMBENCH_ABILITIES = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C",
    "logic_reasoning": "LR",
    "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}
BREAKDOWN_COLUMNS = ("split", "l2-category", "category")

# a sample with no answer in the data (MMBench v1.0 test): inference runs, scoring cannot
NO_ANSWER = "no_answer"


def grouped(
    values: Sequence[float], labels: Sequence[Any], *, scale: float = 100.0, rename: Mapping[str, str] | None = None
) -> dict[str, Metric]:
    """Mean per label, labels sorted (VLMEvalKit sorts its ability names); missing labels skipped."""
    v = np.asarray(values, dtype=np.float64)
    out: dict[str, Metric] = {}
    names = sorted({str(lab) for lab in labels if lab is not None})
    lab_arr = np.asarray([None if lab is None else str(lab) for lab in labels], dtype=object)
    for name in names:
        mask = lab_arr == name
        out[(rename or {}).get(name, name)] = mean_metric(v[mask], scale=scale)
    return out


def breakdowns(
    values: Sequence[float], metas: Sequence[Mapping[str, Any]], columns: Sequence[str] = BREAKDOWN_COLUMNS
) -> dict[str, dict[str, Metric]]:
    """One table per column present in the metadata."""
    out: dict[str, dict[str, Metric]] = {}
    for column in columns:
        labels = [m.get(column) for m in metas]
        if all(lab is None for lab in labels):
            continue
        rename = MMBENCH_ABILITIES if column == "l2-category" else None
        out[column] = grouped(values, labels, rename=rename)
    return out


def extraction_counts(scores: Sequence[SampleScore]) -> dict[str, int]:
    """How many answers were read each way (``details["how"]``; the status where a score has none)."""
    return dict(Counter(str(s.details.get("how", s.status)) for s in scores))
