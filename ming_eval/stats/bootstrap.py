"""Bootstrap confidence intervals, deterministic (fixed seed) and vectorised.

The resampling unit is the cluster: a sample by default, an MMBench circular group or a GenEval
prompt (whose images are not independent) where the task says so. Stratified resampling keeps each
stratum's size, for metrics that average per-category means (GenEval's overall score).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ming_eval.core.results import Metric

if TYPE_CHECKING:  # numpy is imported when an interval is computed, not when a task module loads
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20250502


@dataclass(frozen=True)
class BootstrapConfig:
    n_resamples: int = DEFAULT_RESAMPLES
    confidence: float = 0.95
    seed: int = DEFAULT_SEED

    def interval(self, replicates: NDArray[np.float64]) -> tuple[float, float]:
        import numpy as np

        finite = replicates[np.isfinite(replicates)]
        if finite.size == 0:
            return float("nan"), float("nan")
        alpha = (1.0 - self.confidence) / 2.0
        lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
        return float(lo), float(hi)


DEFAULT = BootstrapConfig()


def _entry_check(key: str, bounds: object) -> str:
    """What binds a stored interval to its key: an entry whose bounds were edited or damaged (or that
    an older version wrote, without it) is computed again."""
    text = json.dumps([key, bounds])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _stored_bounds(key: str, entry: object) -> tuple[float, float] | None:
    if not isinstance(entry, list) or len(entry) != 3 or entry[2] != _entry_check(key, entry[:2]):
        return None
    lo, hi = (float("nan") if x is None else float(x) for x in entry[:2])
    return lo, hi


class IntervalCache:
    """Intervals already computed, keyed by a digest of everything they depend on (the resampled
    values, clusters, strata and the bootstrap settings): a changed score changes the key. Kept in a
    JSON file; only the entries used in this pass are written back, so it never grows stale. An entry
    carries a check of its key and bounds: one that is damaged or edited is computed again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stored: dict[str, tuple[float, float]] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            for key, entry in data.items():
                bounds = _stored_bounds(key, entry)
                if bounds is not None:
                    self.stored[key] = bounds
        self.used: dict[str, tuple[float, float]] = {}
        self.hits = 0

    def interval(
        self,
        kind: str,
        cfg: BootstrapConfig,
        arrays: Sequence[NDArray[np.generic]],
        compute: Callable[[], tuple[float, float]],
    ) -> tuple[float, float]:
        import numpy as np

        h = hashlib.blake2b(
            f"{kind}|{RESAMPLING_METHOD}|{cfg.n_resamples}|{cfg.confidence!r}|{cfg.seed}".encode(), digest_size=16
        )
        for arr in arrays:
            h.update(b"|%d|%s|" % (arr.size, arr.dtype.str.encode()))
            h.update(np.ascontiguousarray(arr).tobytes())
        key = h.hexdigest()
        hit = self.stored.get(key)
        if hit is not None:
            self.hits += 1
            lo, hi = hit
        else:
            lo, hi = compute()
        self.used[key] = (lo, hi)
        return lo, hi

    @contextmanager
    def active(self) -> Iterator[IntervalCache]:
        """Within the block, :func:`mean_metric` and :func:`mean_of_means_metric` reuse the stored
        intervals whose inputs are unchanged (call :meth:`save` afterwards to keep the new ones)."""
        token = _CACHE.set(self)
        try:
            yield self
        finally:
            _CACHE.reset(token)

    def save(self) -> None:
        from ming_eval.store.jsonl import write_json_atomic  # stats does not depend on the store otherwise

        entries: dict[str, list[float | str | None]] = {}
        for key, (lo, hi) in sorted(self.used.items()):
            bounds = [x if math.isfinite(x) else None for x in (lo, hi)]  # as JSON holds them: NaN is null
            entries[key] = [*bounds, _entry_check(key, bounds)]
        write_json_atomic(self.path, entries)


_CACHE: ContextVar[IntervalCache | None] = ContextVar("ming_eval_interval_cache", default=None)


def _interval(
    kind: str, cfg: BootstrapConfig, arrays: Sequence[NDArray[np.generic]], compute: Callable[[], tuple[float, float]]
) -> tuple[float, float]:
    cache = _CACHE.get()
    return compute() if cache is None else cache.interval(kind, cfg, arrays, compute)


def _labels(values: NDArray[np.generic]) -> NDArray[np.generic]:
    """Labels as fixed-width bytes, so that they hash by value."""
    import numpy as np

    return np.asarray(values).astype(str).astype("U")


def _encode(labels: ArrayLike) -> tuple[NDArray[np.int64], int]:
    import numpy as np

    arr = np.asarray(labels, dtype=object)
    _, inverse = np.unique(arr.astype(str), return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse.astype(np.int64), int(inverse.max()) + 1 if inverse.size else 0


def cluster_sums(
    values: ArrayLike, clusters: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-cluster (sum, count) and each cluster's position in the original order."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if clusters is None:
        return v, np.ones_like(v), np.arange(v.size, dtype=np.int64)
    codes, n = _encode(clusters)
    sums = np.bincount(codes, weights=v, minlength=n).astype(np.float64)
    counts = np.bincount(codes, minlength=n).astype(np.float64)
    first = np.full(n, v.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(v.size))
    return sums, counts, first


#: up to this many distinct clusters (by their sum and size) a replicate is drawn as counts per
#: distinct cluster (see :func:`_resampled_ratio`); above it, as cluster indices
COUNT_DRAWS_MAX_DISTINCT = 256
#: names the resampling method in the interval cache's keys: an interval stored by another method
#: (the index draws every interval used before counts were drawn) is computed again, not reused
RESAMPLING_METHOD = "multinomial-counts"


def _resampled_ratio(
    sums: NDArray[np.float64], counts: NDArray[np.float64], cfg: BootstrapConfig, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Replicates of sum(sums)/sum(counts) over clusters drawn with replacement.

    A replicate draws ``n`` clusters out of ``n`` uniformly with replacement, and its value depends
    only on how many draws hit each *distinct* cluster (a (sum, size) pair: 0 or 1 for accuracy with
    one sample per cluster). So when there are at most :data:`COUNT_DRAWS_MAX_DISTINCT` distinct
    clusters, all finite, with multiplicities ``m_1..m_k``, the counts per distinct cluster are drawn directly,
    ``Multinomial(n, m_j / n)`` (for 0/1 scores one binomial per replicate): exactly the distribution
    of the index draws, at O(k) instead of O(n) per replicate. Above it, ``n`` indices are drawn per
    replicate. Both are deterministic for a seed; they use the generator's numbers differently, so
    intervals are not bit-identical to those of the index draws (see :data:`RESAMPLING_METHOD`).
    """
    import numpy as np

    n = sums.size
    if bool(np.all(counts == 1.0)):  # one sample per cluster (no clusters given): a replicate has n
        values, multiplicity = np.unique(sums, return_counts=True)
        sizes = None
    else:
        pairs, multiplicity = np.unique(np.stack([sums, counts], axis=1), axis=0, return_counts=True)
        values, sizes = pairs[:, 0], pairs[:, 1]
    # (a non-finite value would spread to the replicates that did not draw it: 0 * inf is nan)
    if values.size <= COUNT_DRAWS_MAX_DISTINCT and bool(np.all(np.isfinite(values))):
        hits = rng.multinomial(n, multiplicity / float(n), size=cfg.n_resamples).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: NDArray[np.float64] = (hits @ values) / (float(n) if sizes is None else hits @ sizes)
        return out
    out = np.empty(cfg.n_resamples, dtype=np.float64)
    block = max(1, min(cfg.n_resamples, 4_000_000 // max(n, 1)))
    for start in range(0, cfg.n_resamples, block):
        stop = min(cfg.n_resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = sums[idx].sum(axis=1) / (float(n) if sizes is None else counts[idx].sum(axis=1))
    return out


def mean_metric(
    values: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    scale: float = 1.0,
    cfg: BootstrapConfig = DEFAULT,
) -> Metric:
    """The mean of ``values`` (times ``scale``) with a cluster-bootstrap percentile interval."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return Metric(value=float("nan"), n=0, confidence=cfg.confidence, scale=scale)
    sums, counts, _ = cluster_sums(v, clusters)

    def compute() -> tuple[float, float]:
        import numpy as np

        rng = np.random.default_rng(cfg.seed)
        reps = _resampled_ratio(sums, counts, cfg, rng) if sums.size > 1 else np.full(1, v.mean())
        return cfg.interval(reps)

    lo, hi = _interval("mean", cfg, [sums, counts], compute)
    return Metric(
        value=float(v.mean()) * scale,
        ci_low=lo * scale,
        ci_high=hi * scale,
        n=int(v.size),
        confidence=cfg.confidence,
        scale=scale,
    )


def mean_of_means_metric(
    values: ArrayLike,
    strata: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    scale: float = 1.0,
    cfg: BootstrapConfig = DEFAULT,
) -> Metric:
    """The unweighted mean over strata of each stratum's mean, resampling clusters within strata.

    Clusters must not span strata (a GenEval prompt has one tag).
    """
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    s = np.asarray(strata, dtype=object).astype(str)
    if v.size == 0:
        return Metric(value=float("nan"), n=0, confidence=cfg.confidence, scale=scale)
    c = np.asarray(clusters, dtype=object).astype(str) if clusters is not None else np.arange(v.size).astype(str)
    labels = sorted(set(s.tolist()))
    point = [v[s == label].mean() for label in labels]

    def compute() -> tuple[float, float]:
        import numpy as np

        rng = np.random.default_rng(cfg.seed)
        reps = np.zeros(cfg.n_resamples, dtype=np.float64)
        for label in labels:
            mask = s == label
            sums, counts, _ = cluster_sums(v[mask], c[mask])
            reps += _resampled_ratio(sums, counts, cfg, rng) if sums.size > 1 else v[mask].mean()
        reps /= len(labels)
        return cfg.interval(reps)

    lo, hi = _interval("mean_of_means", cfg, [v, _labels(s), _labels(c)], compute)
    return Metric(
        value=float(np.mean(point)) * scale,
        ci_low=lo * scale,
        ci_high=hi * scale,
        n=int(v.size),
        confidence=cfg.confidence,
        scale=scale,
    )


def grouped_mean_metrics(
    values: ArrayLike,
    groups: Sequence[str] | NDArray[np.object_],
    *,
    clusters: ArrayLike | None = None,
    scale: float = 1.0,
    cfg: BootstrapConfig = DEFAULT,
) -> dict[str, Metric]:
    """``mean_metric`` per group, in order of first appearance."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups, dtype=object).astype(str)
    c = None if clusters is None else np.asarray(clusters, dtype=object).astype(str)
    out: dict[str, Metric] = {}
    for label in dict.fromkeys(g.tolist()):
        mask = g == label
        out[label] = mean_metric(v[mask], clusters=None if c is None else c[mask], scale=scale, cfg=cfg)
    return out


def cluster_bootstrap(
    cluster_stats: ArrayLike,
    statistic: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    cfg: BootstrapConfig = DEFAULT,
) -> tuple[float, float]:
    """Percentile interval of a statistic of summed per-cluster vectors, resampling clusters.

    ``cluster_stats`` has one row of additive quantities per cluster (counts, sums); ``statistic``
    maps summed rows (shape ``(..., k)``) to values (shape ``(...)``). Several ratio metrics computed
    from the same resample (HallusionBench's aAcc, fAcc, qAcc and their mean) get a joint interval.
    """
    import numpy as np

    stats = np.asarray(cluster_stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] == 0:
        return float("nan"), float("nan")
    n, k = stats.shape
    if n == 1:
        value = float(statistic(stats.sum(axis=0)))
        return value, value
    rng = np.random.default_rng(cfg.seed)
    out = np.empty(cfg.n_resamples, dtype=np.float64)
    block = max(1, min(cfg.n_resamples, 4_000_000 // max(n * k, 1)))
    for start in range(0, cfg.n_resamples, block):
        stop = min(cfg.n_resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(stats[idx].sum(axis=1))
    return cfg.interval(out)
