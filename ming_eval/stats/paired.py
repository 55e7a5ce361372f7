"""Paired comparisons of two runs over the same samples: a delta, its interval and a test.

Two runs of the same benchmark score the same samples, so their difference is estimated from
per-sample differences ``d_i = new_i - base_i``: this removes the between-sample variance that an
unpaired comparison of two intervals would carry, and detects much smaller changes.

* The interval is a percentile bootstrap of the mean difference, resampling clusters (an MMBench
  circular group, a GenEval prompt) when the samples are not independent, and within strata when
  the metric averages per-category means (GenEval's overall). It reuses
  :mod:`ming_eval.stats.bootstrap`, so a delta's interval is built exactly like a metric's.
* The test is McNemar's when every outcome is binary and samples are independent (exact binomial
  below 25 discordant pairs, chi-square with continuity correction above), and otherwise a paired
  sign-flip permutation test on cluster-level differences (exact up to 16 non-zero clusters,
  Monte Carlo with a fixed seed beyond).

Everything is deterministic: the same data give the same interval and p-value on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ming_eval.stats.bootstrap import DEFAULT, BootstrapConfig, cluster_sums, mean_metric, mean_of_means_metric

#: below this many discordant pairs McNemar's test uses the exact binomial distribution
MCNEMAR_EXACT_BELOW = 25
#: up to this many clusters with a non-zero difference the sign-flip test enumerates every sign
SIGN_FLIP_EXACT_MAX = 16
SIGN_FLIP_RESAMPLES = 20_000

MCNEMAR_EXACT = "mcnemar-exact"
MCNEMAR_CHI2 = "mcnemar-chi2"
SIGN_FLIP_EXACT = "sign-flip-exact"
SIGN_FLIP_MC = "sign-flip-monte-carlo"


@dataclass(frozen=True)
class PairedComparison:
    """The comparison of two runs on ``n`` shared samples (``n_clusters`` resampling units).

    ``base``, ``new``, ``delta`` and the interval are on the metric's scale (times ``scale``).
    ``discordant`` is ``(base right and new wrong, base wrong and new right)`` for McNemar's test.
    """

    n: int
    n_clusters: int
    base: float
    new: float
    delta: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    test: str
    scale: float = 1.0
    estimator: str = "mean"
    discordant: tuple[int, int] | None = None

    @property
    def delta_points(self) -> float:
        """The delta in percentage points (a 0-1 metric times 100), whatever the metric's scale."""
        return self.delta / self.scale * 100.0


def is_binary(values: ArrayLike) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all((v == 0.0) | (v == 1.0)))


# -- McNemar ------------------------------------------------------------------------------------
def _binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), in exact rational arithmetic (no underflow at any n)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    total = sum(math.comb(n, i) for i in range(k + 1))
    return float(Fraction(total, 2**n))


def mcnemar_test(b: int, c: int, *, exact: bool | None = None) -> tuple[float, float, str]:
    """McNemar's test on the discordant counts ``b`` and ``c``: ``(statistic, p_value, test)``.

    Exact: ``min(b, c)`` against Binomial(b + c, 1/2), two-sided (twice the smaller tail, at most
    1). Asymptotic: ``(|b - c| - 1)^2 / (b + c)`` against chi-square with one degree of freedom.
    ``exact=None`` picks the exact test below :data:`MCNEMAR_EXACT_BELOW` discordant pairs.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b}, {c}")
    n = b + c
    if exact is None:
        exact = n < MCNEMAR_EXACT_BELOW
    if exact:
        stat = float(min(b, c))
        return stat, min(1.0, 2.0 * _binom_cdf_half(min(b, c), n)), MCNEMAR_EXACT
    if n == 0:
        return 0.0, 1.0, MCNEMAR_CHI2
    stat = (abs(b - c) - 1.0) ** 2 / n
    # The survival function of chi-square with 1 degree of freedom is erfc(sqrt(x / 2)).
    return stat, math.erfc(math.sqrt(stat / 2.0)), MCNEMAR_CHI2


def discordant_counts(base: ArrayLike, new: ArrayLike) -> tuple[int, int]:
    """``(base 1 and new 0, base 0 and new 1)`` for binary outcomes."""
    b_arr = np.asarray(base, dtype=np.float64)
    n_arr = np.asarray(new, dtype=np.float64)
    return int(np.sum((b_arr == 1.0) & (n_arr == 0.0))), int(np.sum((b_arr == 0.0) & (n_arr == 1.0)))


# -- sign-flip permutation test -----------------------------------------------------------------
def sign_flip_test(
    differences: ArrayLike,
    *,
    n_resamples: int = SIGN_FLIP_RESAMPLES,
    seed: int = DEFAULT.seed,
    exact_max: int = SIGN_FLIP_EXACT_MAX,
) -> tuple[float, str]:
    """Two-sided paired permutation test of ``sum(differences) == 0``: ``(p_value, test)``.

    Under the null hypothesis each (cluster-level) difference is as likely to have either sign.
    With at most ``exact_max`` non-zero differences every sign pattern is enumerated; otherwise
    ``n_resamples`` random patterns are drawn and ``p = (1 + hits) / (1 + n_resamples)``.
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[d != 0.0]
    if d.size == 0:
        return 1.0, SIGN_FLIP_EXACT
    observed = abs(float(d.sum()))
    # Sums equal in exact arithmetic can differ in the last bits; count them as equal.
    tol = 1e-9 * max(1.0, float(np.abs(d).sum()))
    if d.size <= exact_max:
        patterns = ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1).astype(np.float64)
        sums = (1.0 - 2.0 * patterns) @ d
        return float(np.mean(np.abs(sums) >= observed - tol)), SIGN_FLIP_EXACT
    rng = np.random.default_rng(seed)
    hits = 0
    block = max(1, min(n_resamples, 2_000_000 // d.size))
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        signs = rng.integers(0, 2, size=(size, d.size)).astype(np.float64) * 2.0 - 1.0
        hits += int(np.sum(np.abs(signs @ d) >= observed - tol))
    return (1.0 + hits) / (1.0 + n_resamples), SIGN_FLIP_MC


# -- the comparison -----------------------------------------------------------------------------
def paired_compare(
    base: ArrayLike,
    new: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    scale: float = 1.0,
    cfg: BootstrapConfig = DEFAULT,
) -> PairedComparison:
    """Compare paired per-sample scores ``base[i]`` and ``new[i]`` (same sample ``i``).

    ``clusters`` names each sample's resampling unit (None: each sample is its own); ``strata``
    makes the estimate the unweighted mean of per-stratum means (GenEval's overall), resampled
    within strata. Values are multiplied by ``scale`` (100 for percentages).
    """
    b = np.asarray(base, dtype=np.float64)
    n = np.asarray(new, dtype=np.float64)
    if b.shape != n.shape or b.ndim != 1:
        raise ValueError(f"base and new must be 1-d and of equal length, got {b.shape} and {n.shape}")
    if b.size == 0:
        raise ValueError("no shared samples to compare")
    d = n - b
    if strata is not None:
        metric = mean_of_means_metric(d, strata, clusters=clusters, scale=scale, cfg=cfg)
        s = np.asarray(strata, dtype=object).astype(str)
        labels = sorted(set(s.tolist()))
        base_est = float(np.mean([b[s == x].mean() for x in labels])) * scale
        new_est = float(np.mean([n[s == x].mean() for x in labels])) * scale
        estimator = "mean of stratum means"
    else:
        metric = mean_metric(d, clusters=clusters, scale=scale, cfg=cfg)
        base_est, new_est = float(b.mean()) * scale, float(n.mean()) * scale
        estimator = "mean"
    sums, _, _ = cluster_sums(d, clusters)
    n_clusters = int(sums.size)
    discordant: tuple[int, int] | None = None
    if clusters is None and strata is None and is_binary(b) and is_binary(n):
        discordant = discordant_counts(b, n)
        _, p_value, test = mcnemar_test(*discordant)
    else:
        # With strata the estimate weights strata equally: test the same weighting, by giving
        # each sample the weight its stratum has in the estimate.
        weights = _stratum_weights(strata, d.size) if strata is not None else np.ones_like(d)
        weighted, _, _ = cluster_sums(d * weights, clusters)
        p_value, test = sign_flip_test(weighted, seed=cfg.seed)
    return PairedComparison(
        n=int(d.size),
        n_clusters=n_clusters,
        base=base_est,
        new=new_est,
        delta=new_est - base_est,
        ci_low=float(metric.ci_low) if metric.ci_low is not None else float("nan"),
        ci_high=float(metric.ci_high) if metric.ci_high is not None else float("nan"),
        confidence=cfg.confidence,
        p_value=float(p_value),
        test=test,
        scale=scale,
        estimator=estimator,
        discordant=discordant,
    )


def _stratum_weights(strata: ArrayLike, size: int) -> NDArray[np.float64]:
    s = np.asarray(strata, dtype=object).astype(str)
    labels, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    return (1.0 / (counts[inverse.reshape(-1)] * len(labels))).astype(np.float64) * size


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
