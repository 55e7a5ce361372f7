"""The order GenEval's evaluator puts equal scores in, independent of the installed numpy.

GenEval orders a class's detections with ``np.argsort(scores)[::-1]``. Among equal scores the
result depends on numpy's sorting algorithm, which has changed: GenEval's environment pins numpy
1.23, whose default ``argsort`` is an introsort (median-of-three quicksort, insertion sort for runs of
at most 16 elements, heapsort past a depth limit); numpy >= 1.25 dispatches to SIMD sorts on x86
CPUs that order ties differently (we measured different detections kept on 61 of 435 test cases).
:func:`legacy_argsort` reproduces numpy 1.23's order so that our decisions match the scores GenEval's
pinned environment gives, on any numpy and any CPU. Without ties every correct sort agrees, so the
Python loop only runs when a class has equal scores.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_SMALL = 16  # partitions of at most this many elements are insertion-sorted


def _less(a: float, b: float) -> bool:
    # numpy's float order: NaN sorts last
    return a < b or (b != b and a == a)


def _sift_down(values: list[float], order: list[int], start: int, end: int, item: int) -> None:
    """Heap sift with 1-based positions over ``order[start - 1 : end]``, as numpy's heapsort."""
    i, j = start, start * 2
    base = -1
    while j <= end:
        if j < end and _less(values[order[base + j]], values[order[base + j + 1]]):
            j += 1
        if _less(values[item], values[order[base + j]]):
            order[base + i] = order[base + j]
            i = j
            j += j
        else:
            break
    order[base + i] = item


def _heapsort(values: list[float], order: list[int], lo: int, hi: int) -> None:
    """Sort ``order[lo..hi]`` in place by ``values`` (numpy's indirect heapsort)."""
    part = order[lo : hi + 1]
    n = len(part)
    for l_pos in range(n >> 1, 0, -1):
        _sift_down(values, part, l_pos, n, part[l_pos - 1])
    while n > 1:
        tmp = part[n - 1]
        part[n - 1] = part[0]
        n -= 1
        _sift_down(values, part, 1, n, tmp)
    order[lo : hi + 1] = part


def legacy_argsort(scores: NDArray[np.floating]) -> NDArray[np.int64]:
    """``np.argsort(scores)`` exactly as numpy 1.23's default (introsort) orders it, ties included."""
    values = [float(v) for v in np.asarray(scores).reshape(-1)]
    num = len(values)
    order = list(range(num))
    if num < 2:
        return np.asarray(order, dtype=np.int64)
    stack: list[tuple[int, int, int]] = []
    lo, hi = 0, num - 1
    depth = (num.bit_length() - 1) * 2
    while True:
        if depth < 0:
            _heapsort(values, order, lo, hi)
        else:
            while hi - lo > _SMALL - 1:
                mid = lo + ((hi - lo) >> 1)
                if _less(values[order[mid]], values[order[lo]]):
                    order[mid], order[lo] = order[lo], order[mid]
                if _less(values[order[hi]], values[order[mid]]):
                    order[hi], order[mid] = order[mid], order[hi]
                if _less(values[order[mid]], values[order[lo]]):
                    order[mid], order[lo] = order[lo], order[mid]
                pivot = values[order[mid]]
                i, j = lo, hi - 1
                order[mid], order[j] = order[j], order[mid]
                while True:
                    i += 1
                    while _less(values[order[i]], pivot):
                        i += 1
                    j -= 1
                    while _less(pivot, values[order[j]]):
                        j -= 1
                    if i >= j:
                        break
                    order[i], order[j] = order[j], order[i]
                order[i], order[hi - 1] = order[hi - 1], order[i]
                depth -= 1
                # the larger side waits on the stack, the smaller is sorted next
                if i - lo < hi - i:
                    stack.append((i + 1, hi, depth))
                    hi = i - 1
                else:
                    stack.append((lo, i - 1, depth))
                    lo = i + 1
            for p in range(lo + 1, hi + 1):
                item = order[p]
                v = values[item]
                q = p
                while q > lo and _less(v, values[order[q - 1]]):
                    order[q] = order[q - 1]
                    q -= 1
                order[q] = item
        if not stack:
            break
        lo, hi, depth = stack.pop()
    return np.asarray(order, dtype=np.int64)


def descending_order(scores: NDArray[np.floating]) -> NDArray[np.int64]:
    """GenEval's ``np.argsort(scores)[::-1]`` with numpy 1.23's tie order (see module doc)."""
    s = np.asarray(scores)
    if np.unique(s).size == s.size:
        return np.argsort(s, kind="stable")[::-1].astype(np.int64)
    return legacy_argsort(s)[::-1]
