"""How a task's headline (primary) number is computed from its per-sample scores, as data.

A task declares its headline statistic (:meth:`~ming_eval.core.task.BaseTask.headline`); the engine
stores the declaration in the task's ``results.json``, and ``ming-eval compare`` recomputes exactly
that number from two runs' per-sample scores, so its paired interval and test are of the headline.

Every statistic is evaluated from per-sample scores (0-1) and, per sample, the keys it names: a
breakdown key (``details["breakdown"]``, e.g. GenEval's ``tag`` or MMMU's ``split``), a group key
(``details["groups"]``, e.g. HallusionBench's ``figure``), or ``cluster`` (the resampling unit,
``details["cluster"]``; the sample itself where a task gives none).

For resampling, a statistic is reduced to one row of additive quantities per cluster (sums and
counts: :meth:`table`) and a function of the summed rows (:meth:`value_of`). Groups that a statistic
counts as units (:class:`AllCorrect`) are therefore groups within a cluster: a group is a (cluster,
key) pair, as HallusionBench's figure ids are numbered within each set.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

if TYPE_CHECKING:  # numpy is imported where a statistic is computed, not to read a results file
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]

#: the key that names a sample's resampling unit
CLUSTER = "cluster"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the headline is this statistic times ``scale`` (100 for percentages)
    scale: float = Field(1.0, gt=0)

    def key_names(self) -> set[str]:
        """The per-sample keys the statistic reads (besides the score)."""
        return set()

    def width(self) -> int | None:
        """Columns of :meth:`table`; None where it depends on the data (one pair per category)."""
        return None

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        """One row of additive quantities per cluster (``clusters`` holds codes ``0..n-1``)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def value_of(self, sums: FloatArray) -> FloatArray:
        """The statistic (not times ``scale``) of summed rows; rows may be stacked (shape ``(..., k)``)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def describe(self) -> str:
        raise NotImplementedError  # pragma: no cover - abstract


def _where_mask(where: Mapping[str, str], keys: Mapping[str, NDArray[np.object_]], size: int) -> NDArray[np.bool_]:
    import numpy as np

    mask = np.ones(size, dtype=bool)
    for name, wanted in where.items():
        mask &= np.asarray(keys[name], dtype=object).astype(str) == wanted
    return mask


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(num / den, dtype=np.float64)


class Mean(_Base):
    """The mean of the per-sample scores; with ``where``, of the samples whose keys have those values
    (MMMU's headline is its validation split: ``where={"split": "validation"}``)."""

    kind: Literal["mean"] = "mean"
    where: dict[str, str] = Field(default_factory=dict)

    def key_names(self) -> set[str]:
        return set(self.where)

    def width(self) -> int | None:
        return 2

    def mask(self, keys: Mapping[str, NDArray[np.object_]], size: int) -> NDArray[np.bool_]:
        return _where_mask(self.where, keys, size)

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        m = self.mask(keys, values.size).astype(np.float64)
        return np.stack(
            [np.bincount(clusters, weights=values * m, minlength=n), np.bincount(clusters, weights=m, minlength=n)],
            axis=1,
        ).astype(np.float64)

    def value_of(self, sums: FloatArray) -> FloatArray:
        return _ratio(sums[..., 0], sums[..., 1])

    def describe(self) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in self.where.items())
        return f"mean where {where}" if where else "mean"


class Sum(_Base):
    """The sum of the per-sample scores (OCRBench's final score is the count of right answers; its
    headline is that count / 10: ``Sum(scale=0.1)``)."""

    kind: Literal["sum"] = "sum"

    def width(self) -> int | None:
        return 1

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        return np.bincount(clusters, weights=values, minlength=n).astype(np.float64)[:, None]

    def value_of(self, sums: FloatArray) -> FloatArray:
        import numpy as np

        return np.asarray(sums[..., 0], dtype=np.float64)

    def describe(self) -> str:
        return "sum"


class MeanOfMeans(_Base):
    """The unweighted mean over the values of key ``by`` of each one's mean score (GenEval's overall:
    the mean of its six tag accuracies). Categories with no sample are left out."""

    kind: Literal["mean_of_means"] = "mean_of_means"
    by: str

    def key_names(self) -> set[str]:
        return {self.by}

    def labels(self, keys: Mapping[str, NDArray[np.object_]]) -> list[str]:
        import numpy as np

        return sorted(set(np.asarray(keys[self.by], dtype=object).astype(str).tolist()))

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        s = np.asarray(keys[self.by], dtype=object).astype(str)
        cols = []
        for label in self.labels(keys):
            m = (s == label).astype(np.float64)
            cols += [
                np.bincount(clusters, weights=values * m, minlength=n),
                np.bincount(clusters, weights=m, minlength=n),
            ]
        return np.stack(cols, axis=1).astype(np.float64) if cols else np.zeros((n, 0), dtype=np.float64)

    def value_of(self, sums: FloatArray) -> FloatArray:
        import numpy as np

        means = _ratio(sums[..., 0::2], sums[..., 1::2])
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a replicate without any category
            return np.asarray(np.nanmean(means, axis=-1), dtype=np.float64)

    def describe(self) -> str:
        return f"mean of {self.by} means"


class WeightedMeanOfMeans(_Base):
    """A fixed weighted sum of the mean score of each value of key ``by`` (WISE's overall: 0.4 x the
    cultural mean + ... ). Every weighted category must have samples: without one the value is NaN,
    as the benchmark's own script then gives no overall. Samples of other categories are ignored."""

    kind: Literal["weighted_mean_of_means"] = "weighted_mean_of_means"
    by: str
    weights: dict[str, float] = Field(min_length=1)

    def key_names(self) -> set[str]:
        return {self.by}

    def width(self) -> int | None:
        return 2 * len(self.weights)

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        s = np.asarray(keys[self.by], dtype=object).astype(str)
        cols = []
        for label in self.weights:
            m = (s == label).astype(np.float64)
            cols += [
                np.bincount(clusters, weights=values * m, minlength=n),
                np.bincount(clusters, weights=m, minlength=n),
            ]
        return np.stack(cols, axis=1).astype(np.float64)

    def value_of(self, sums: FloatArray) -> FloatArray:
        import numpy as np

        means = _ratio(sums[..., 0::2], sums[..., 1::2])
        w = np.asarray(list(self.weights.values()), dtype=np.float64)
        return np.asarray(np.sum(means * w, axis=-1), dtype=np.float64)

    def describe(self) -> str:
        parts = " + ".join(f"{w:g} {label}" for label, w in self.weights.items())
        return f"weighted {self.by} means ({parts})"


class AllCorrect(_Base):
    """The share of groups (by key ``group``; ``cluster`` for the resampling unit) whose samples are
    all right (score 1): MMBench's circular evaluation (a question counts when every rotation is
    right), HallusionBench's figure and question accuracies."""

    kind: Literal["all_correct"] = "all_correct"
    group: str

    def key_names(self) -> set[str]:
        return {self.group} - {CLUSTER}

    def width(self) -> int | None:
        return 2

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        if self.group == CLUSTER:
            groups = clusters
        else:
            labels = np.asarray(keys[self.group], dtype=object).astype(str)
            pairs = np.char.add(np.char.add(clusters.astype(str), "\x00"), labels.astype(str))
            _, inverse = np.unique(pairs, return_inverse=True)
            groups = inverse.reshape(-1).astype(np.int64)
        n_groups = int(groups.max()) + 1 if groups.size else 0
        wrong = np.bincount(groups, weights=(values < 1.0).astype(np.float64), minlength=n_groups)
        present = np.bincount(groups, minlength=n_groups) > 0
        owner = np.zeros(n_groups, dtype=np.int64)
        owner[groups] = clusters
        owner, wrong = owner[present], wrong[present]
        return np.stack(
            [
                np.bincount(owner, minlength=n).astype(np.float64),
                np.bincount(owner, weights=(wrong == 0).astype(np.float64), minlength=n),
            ],
            axis=1,
        ).astype(np.float64)

    def value_of(self, sums: FloatArray) -> FloatArray:
        return _ratio(sums[..., 1], sums[..., 0])

    def describe(self) -> str:
        return f"share of {self.group}s all right"


class Average(_Base):
    """The unweighted mean of several statistics of the same samples (HallusionBench's overall: the
    mean of aAcc, fAcc and qAcc). The parts' own scales are ignored; the average is times ``scale``."""

    kind: Literal["average"] = "average"
    parts: list[Statistic] = Field(min_length=1)

    def key_names(self) -> set[str]:
        return set().union(*(p.key_names() for p in self.parts))

    def width(self) -> int | None:
        widths = [p.width() for p in self.parts]
        return None if None in widths else sum(w for w in widths if w is not None)

    @field_validator("parts")
    @classmethod
    def _fixed_widths(cls, parts: list[Statistic]) -> list[Statistic]:
        if any(p.width() is None for p in parts):
            raise ValueError("the parts of an average must not be means of category means")
        return parts

    def table(
        self, values: FloatArray, keys: Mapping[str, NDArray[np.object_]], clusters: NDArray[np.int64], n: int
    ) -> FloatArray:
        import numpy as np

        return np.concatenate([p.table(values, keys, clusters, n) for p in self.parts], axis=1)

    def part_values(self, sums: FloatArray) -> list[FloatArray]:
        """Each part's value from the summed rows."""
        out, start = [], 0
        for part in self.parts:
            stop = start + (part.width() or 0)
            out.append(part.value_of(sums[..., start:stop]))
            start = stop
        return out

    def value_of(self, sums: FloatArray) -> FloatArray:
        import numpy as np

        return np.asarray(np.mean(np.stack(self.part_values(sums), axis=-1), axis=-1), dtype=np.float64)

    def describe(self) -> str:
        return "mean of " + ", ".join(p.describe() for p in self.parts)


Statistic = Annotated[
    Mean | Sum | MeanOfMeans | WeightedMeanOfMeans | AllCorrect | Average, Field(discriminator="kind")
]
Average.model_rebuild()
STATISTIC: TypeAdapter[Statistic] = TypeAdapter(Statistic)
