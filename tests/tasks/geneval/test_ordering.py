"""Tie order: numpy 1.23's argsort, reproduced on any numpy (expectations from numpy 1.23.5 itself)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ming_eval.tasks.geneval.ordering import descending_order, legacy_argsort

FIXTURE = Path(__file__).parent / "fixtures" / "numpy123_argsort.json"


def test_matches_numpy_1_23_on_tie_heavy_arrays():
    data = json.loads(FIXTURE.read_text())
    assert data["numpy"] == "1.23.5"
    assert len(data["cases"]) >= 100
    for case in data["cases"]:
        scores = np.asarray(case["scores"], dtype=np.float32)
        assert legacy_argsort(scores).tolist() == case["argsort"]


def test_small_arrays_are_stable_so_later_ties_come_first():
    scores = np.asarray([0.5, 0.9, 0.5, 0.9, 0.5], dtype=np.float32)
    assert legacy_argsort(scores).tolist() == [0, 2, 4, 1, 3]
    assert descending_order(scores).tolist() == [3, 1, 4, 2, 0]


def test_without_ties_any_sort_agrees():
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 17, 100):
        scores = rng.permutation(n).astype(np.float32)
        assert descending_order(scores).tolist() == np.argsort(scores)[::-1].tolist()
        assert legacy_argsort(scores).tolist() == np.argsort(scores).tolist()


def test_heapsort_fallback_still_sorts():
    # adversarial-looking long runs exercise deep partitions; whatever the path, the result is sorted
    rng = np.random.default_rng(3)
    for _ in range(50):
        scores = rng.integers(0, 3, size=int(rng.integers(17, 300))).astype(np.float32)
        order = legacy_argsort(scores)
        assert sorted(order.tolist()) == list(range(scores.size))
        assert np.all(np.diff(scores[order]) >= 0)
