"""A declared headline statistic (:mod:`ming_eval.core.statistic`) with its interval, and two runs'
paired comparison of it.

Means, sums and means of category means reuse :mod:`ming_eval.stats.bootstrap` and
:func:`~ming_eval.stats.paired.paired_compare`, so their numbers are those of the metrics tasks
report. Any other statistic (MMBench's circular accuracy, HallusionBench's mean of aAcc, fAcc and
qAcc) is recomputed on resampled clusters for its interval, and tested by a paired cluster-swap
permutation test: under the null hypothesis each cluster's base and new outcomes are exchangeable,
so the statistic's delta is recomputed with every cluster's runs swapped or not (every pattern up to
:data:`~ming_eval.stats.paired.SIGN_FLIP_EXACT_MAX` differing clusters, a seeded Monte Carlo sample
beyond). For a mean this is the sign-flip test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ming_eval.core.results import DETAIL_BREAKDOWN, DETAIL_CLUSTER, DETAIL_GROUPS, Metric, SampleScore
from ming_eval.core.statistic import CLUSTER, AllCorrect, Average, Mean, MeanOfMeans, Statistic, Sum
from ming_eval.errors import MingEvalError
from ming_eval.stats.bootstrap import DEFAULT, BootstrapConfig, cluster_bootstrap, mean_metric, mean_of_means_metric
from ming_eval.stats.paired import SIGN_FLIP_EXACT_MAX, SIGN_FLIP_RESAMPLES, PairedComparison, paired_compare

Keys = Mapping[str, NDArray[np.object_]]

CLUSTER_SWAP_EXACT = "cluster-swap-exact"
CLUSTER_SWAP_MC = "cluster-swap-monte-carlo"


def score_keys(statistic: Statistic, scores: Sequence[SampleScore], task: str) -> tuple[Keys, list[str] | None]:
    """The keys ``statistic`` reads, per score (from ``details["groups"]``, then
    ``details["breakdown"]``), and the scores' clusters (None when no score names one)."""
    keys: dict[str, NDArray[np.object_]] = {}
    for name in sorted(statistic.key_names()):
        column: list[str] = []
        for s in scores:
            groups, breakdown = s.details.get(DETAIL_GROUPS), s.details.get(DETAIL_BREAKDOWN)
            if isinstance(groups, dict) and name in groups:
                column.append(str(groups[name]))
            elif isinstance(breakdown, dict) and name in breakdown:
                column.append(str(breakdown[name]))
            else:
                raise MingEvalError(
                    f"task {task}: the score of sample {s.id} has no {name!r} key, which its headline "
                    f"statistic ({statistic.describe()}) needs",
                    hint="score the run again with this ming-eval (`ming-eval score RUN`), which stores the keys",
                )
        keys[name] = np.asarray(column, dtype=object)
    clusters = None
    if any(DETAIL_CLUSTER in s.details for s in scores):
        clusters = [str(s.details.get(DETAIL_CLUSTER, f"id:{s.id}")) for s in scores]
    return keys, clusters


def _codes(clusters: ArrayLike | None, size: int) -> tuple[NDArray[np.int64], int]:
    if clusters is None:
        return np.arange(size, dtype=np.int64), size
    labels = np.asarray(clusters, dtype=object).astype(str)
    _, inverse = np.unique(labels, return_inverse=True)
    codes = inverse.reshape(-1).astype(np.int64)
    return codes, int(codes.max()) + 1 if codes.size else 0


def _check_clusters(statistic: Statistic, clusters: ArrayLike | None) -> None:
    parts = statistic.parts if isinstance(statistic, Average) else [statistic]
    for part in parts:
        if isinstance(part, AllCorrect) and part.group != CLUSTER and clusters is None:
            raise ValueError(
                f"{statistic.describe()} counts {part.group}s within their resampling clusters, and the "
                "samples name no cluster"
            )


def cluster_table(
    statistic: Statistic, values: ArrayLike, keys: Keys, clusters: ArrayLike | None
) -> NDArray[np.float64]:
    """The statistic's additive quantities, one row per cluster (in sorted cluster order)."""
    v = np.asarray(values, dtype=np.float64)
    _check_clusters(statistic, clusters)
    codes, n = _codes(clusters, v.size)
    return statistic.table(v, keys, codes, n)


def headline_value(statistic: Statistic, values: ArrayLike, keys: Keys, *, clusters: ArrayLike | None = None) -> float:
    """The statistic of ``values`` (times its scale)."""
    table = cluster_table(statistic, values, keys, clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(statistic.value_of(table.sum(axis=0))) * statistic.scale


def headline_metric(
    statistic: Statistic,
    values: ArrayLike,
    keys: Keys,
    *,
    clusters: ArrayLike | None = None,
    cfg: BootstrapConfig = DEFAULT,
) -> Metric:
    """The statistic of ``values`` with a cluster-bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    c = None if clusters is None else np.asarray(clusters, dtype=object)
    if isinstance(statistic, Mean):
        m = statistic.mask(keys, v.size)
        return mean_metric(v[m], clusters=None if c is None else c[m], scale=statistic.scale, cfg=cfg)
    if isinstance(statistic, Sum):
        return mean_metric(v, clusters=c, scale=statistic.scale * v.size, cfg=cfg)
    if isinstance(statistic, MeanOfMeans):
        return mean_of_means_metric(v, keys[statistic.by], clusters=c, scale=statistic.scale, cfg=cfg)
    if v.size == 0:
        return Metric(value=float("nan"), n=0, confidence=cfg.confidence, scale=statistic.scale)
    table = cluster_table(statistic, v, keys, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(statistic.value_of(table.sum(axis=0)))
    lo, hi = cluster_bootstrap(table, statistic.value_of, cfg)
    scale = statistic.scale
    return Metric(value * scale, lo * scale, hi * scale, n=int(v.size), confidence=cfg.confidence, scale=scale)


def paired_headline(
    statistic: Statistic,
    base: ArrayLike,
    new: ArrayLike,
    keys: Keys,
    *,
    clusters: ArrayLike | None = None,
    cfg: BootstrapConfig = DEFAULT,
) -> PairedComparison:
    """Compare the statistic of paired per-sample scores ``base[i]`` and ``new[i]`` (same keys)."""
    b = np.asarray(base, dtype=np.float64)
    n = np.asarray(new, dtype=np.float64)
    if b.shape != n.shape or b.ndim != 1:
        raise ValueError(f"base and new must be 1-d and of equal length, got {b.shape} and {n.shape}")
    c = None if clusters is None else np.asarray(clusters, dtype=object)
    if isinstance(statistic, Mean):
        m = statistic.mask(keys, b.size)
        if not m.any():
            wanted = ", ".join(f"{k} = {v}" for k, v in statistic.where.items())
            raise ValueError(f"no shared sample has {wanted}")
        out = paired_compare(b[m], n[m], clusters=None if c is None else c[m], scale=statistic.scale, cfg=cfg)
    elif isinstance(statistic, Sum):
        out = paired_compare(b, n, clusters=c, scale=statistic.scale * b.size, cfg=cfg)
    elif isinstance(statistic, MeanOfMeans):
        out = paired_compare(b, n, clusters=c, strata=keys[statistic.by], scale=statistic.scale, cfg=cfg)
    else:
        return _paired_generic(statistic, b, n, keys, c, cfg)
    return replace(out, estimator=statistic.describe())


def _paired_generic(
    statistic: Statistic,
    b: NDArray[np.float64],
    n: NDArray[np.float64],
    keys: Keys,
    clusters: ArrayLike | None,
    cfg: BootstrapConfig,
) -> PairedComparison:
    if b.size == 0:
        raise ValueError("no shared samples to compare")
    tb = cluster_table(statistic, b, keys, clusters)
    tn = cluster_table(statistic, n, keys, clusters)
    f = statistic.value_of
    with np.errstate(invalid="ignore", divide="ignore"):
        base_v, new_v = float(f(tb.sum(axis=0))), float(f(tn.sum(axis=0)))
        rng = np.random.default_rng(cfg.seed)
        k = tb.shape[0]
        reps = np.empty(cfg.n_resamples, dtype=np.float64)
        block = max(1, min(cfg.n_resamples, 4_000_000 // max(k * tb.shape[1], 1)))
        for start in range(0, cfg.n_resamples, block):
            stop = min(cfg.n_resamples, start + block)
            idx = rng.integers(0, k, size=(stop - start, k))
            reps[start:stop] = f(tn[idx].sum(axis=1)) - f(tb[idx].sum(axis=1))
        lo, hi = cfg.interval(reps) if k > 1 else (new_v - base_v, new_v - base_v)
        p_value, test = _swap_test(f, tb, tn, new_v - base_v, cfg.seed)
    scale = statistic.scale
    return PairedComparison(
        n=int(b.size),
        n_clusters=int(k),
        base=base_v * scale,
        new=new_v * scale,
        delta=(new_v - base_v) * scale,
        ci_low=lo * scale,
        ci_high=hi * scale,
        confidence=cfg.confidence,
        p_value=p_value,
        test=test,
        scale=scale,
        estimator=statistic.describe(),
    )


def _swap_test(
    f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    tb: NDArray[np.float64],
    tn: NDArray[np.float64],
    observed: float,
    seed: int,
) -> tuple[float, str]:
    """Two-sided p-value of ``observed`` (new - base) among the deltas with clusters' runs swapped."""
    diff = tn - tb
    moved = diff[np.any(diff != 0.0, axis=1)]
    if moved.shape[0] == 0:
        return 1.0, CLUSTER_SWAP_EXACT
    total_b, total_n = tb.sum(axis=0), tn.sum(axis=0)
    tol = 1e-9 * max(1.0, abs(observed))

    def deltas(swaps: NDArray[np.float64]) -> NDArray[np.float64]:
        shift = swaps @ moved
        return np.asarray(f(total_n - shift) - f(total_b + shift), dtype=np.float64)

    m = moved.shape[0]
    if m <= SIGN_FLIP_EXACT_MAX:
        patterns = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1).astype(np.float64)
        return float(np.mean(np.abs(deltas(patterns)) >= abs(observed) - tol)), CLUSTER_SWAP_EXACT
    rng = np.random.default_rng(seed)
    hits = 0
    block = max(1, min(SIGN_FLIP_RESAMPLES, 2_000_000 // m))
    for start in range(0, SIGN_FLIP_RESAMPLES, block):
        size = min(block, SIGN_FLIP_RESAMPLES - start)
        swaps = rng.integers(0, 2, size=(size, m)).astype(np.float64)
        hits += int(np.sum(np.abs(deltas(swaps)) >= abs(observed) - tol))
    return (1.0 + hits) / (1.0 + SIGN_FLIP_RESAMPLES), CLUSTER_SWAP_MC
