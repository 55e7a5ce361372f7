"""The cyclic garbage collector during a run.

A run keeps a few objects per sample alive from phase to phase (samples, requests, predictions,
scores: ~10 per sample, 500k at 50k samples) and they contain no reference cycles. With Python's
default thresholds the collector starts a pass every 700 new containers and, as the heap grows,
scans all of it again and again: a quarter of a zero-cost model's run at 50k samples. During a run
it passes every 10,000 new containers instead; the thresholds in force before are restored after.
Cyclic garbage (a model's, say) is still collected, a little later; reference counting frees
everything else at once, as always.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: new containers between two passes of the youngest generation during a run (Python's default: 700)
RUN_THRESHOLD = 10_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within the block, the collector's first threshold is at least :data:`RUN_THRESHOLD`."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], RUN_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def no_collections() -> Iterator[None]:
    """No collection within the block: for a loop that only builds objects without cycles (records
    parsed into values), where each pass would scan everything the run holds and free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
