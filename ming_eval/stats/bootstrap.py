"""Bootstrap confidence intervals, deterministic (fixed seed) and vectorised.

The resampling unit is the cluster: a sample by default, an MMBench circular group or a GenEval
prompt (whose images are not independent) where the task says so. Stratified resampling keeps each
stratum's size, for metrics that average per-category means (GenEval's overall score).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ming_eval.core.results import Metric

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20250502


@dataclass(frozen=True)
class BootstrapConfig:
    n_resamples: int = DEFAULT_RESAMPLES
    confidence: float = 0.95
    seed: int = DEFAULT_SEED

    def interval(self, replicates: NDArray[np.float64]) -> tuple[float, float]:
        finite = replicates[np.isfinite(replicates)]
        if finite.size == 0:
            return float("nan"), float("nan")
        alpha = (1.0 - self.confidence) / 2.0
        lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
        return float(lo), float(hi)


DEFAULT = BootstrapConfig()


def _encode(labels: ArrayLike) -> tuple[NDArray[np.int64], int]:
    arr = np.asarray(labels, dtype=object)
    _, inverse = np.unique(arr.astype(str), return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse.astype(np.int64), int(inverse.max()) + 1 if inverse.size else 0


def cluster_sums(
    values: ArrayLike, clusters: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-cluster (sum, count) and each cluster's position in the original order."""
    v = np.asarray(values, dtype=np.float64)
    if clusters is None:
        return v, np.ones_like(v), np.arange(v.size, dtype=np.int64)
    codes, n = _encode(clusters)
    sums = np.bincount(codes, weights=v, minlength=n).astype(np.float64)
    counts = np.bincount(codes, minlength=n).astype(np.float64)
    first = np.full(n, v.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(v.size))
    return sums, counts, first


def _resampled_ratio(
    sums: NDArray[np.float64], counts: NDArray[np.float64], cfg: BootstrapConfig, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Replicates of sum(sums)/sum(counts) over clusters drawn with replacement."""
    n = sums.size
    out = np.empty(cfg.n_resamples, dtype=np.float64)
    block = max(1, min(cfg.n_resamples, 4_000_000 // max(n, 1)))
    for start in range(0, cfg.n_resamples, block):
        stop = min(cfg.n_resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return out


def mean_metric(
    values: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    scale: float = 1.0,
    cfg: BootstrapConfig = DEFAULT,
) -> Metric:
    """The mean of ``values`` (times ``scale``) with a cluster-bootstrap percentile interval."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return Metric(value=float("nan"), n=0, confidence=cfg.confidence, scale=scale)
    sums, counts, _ = cluster_sums(v, clusters)
    rng = np.random.default_rng(cfg.seed)
    reps = _resampled_ratio(sums, counts, cfg, rng) if sums.size > 1 else np.full(1, v.mean())
    lo, hi = cfg.interval(reps)
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
    v = np.asarray(values, dtype=np.float64)
    s = np.asarray(strata, dtype=object).astype(str)
    if v.size == 0:
        return Metric(value=float("nan"), n=0, confidence=cfg.confidence, scale=scale)
    c = np.asarray(clusters, dtype=object).astype(str) if clusters is not None else np.arange(v.size).astype(str)
    labels = sorted(set(s.tolist()))
    rng = np.random.default_rng(cfg.seed)
    point = []
    reps = np.zeros(cfg.n_resamples, dtype=np.float64)
    for label in labels:
        mask = s == label
        sums, counts, _ = cluster_sums(v[mask], c[mask])
        point.append(v[mask].mean())
        reps += _resampled_ratio(sums, counts, cfg, rng) if sums.size > 1 else v[mask].mean()
    reps /= len(labels)
    lo, hi = cfg.interval(reps)
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
