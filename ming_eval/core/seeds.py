"""Per-sample seeds that depend only on the run seed and the sample's identity.

Because a seed is a hash of (run seed, task, sample id[, image index]), a sample gets the same seed
whatever the world size, batch size, shard or resume: results are reproducible sample by sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

SEED_BITS = 31  # below 2**31: accepted by numpy, torch, random and most C libraries


def derive_seed(run_seed: int, task: str, sample_id: str, index: int | None = None) -> int:
    return seed_deriver(run_seed, task)([str(sample_id) if index is None else f"{sample_id}\x1f{index}"])[0]


def seed_deriver(run_seed: int, task: str) -> Callable[[Iterable[str]], list[int]]:
    """``[derive_seed(run_seed, task, key) for key in keys]`` as a function of the keys (sample ids),
    with the common prefix hashed once: it is called once per batch of samples."""
    prefixed = hashlib.blake2b(f"{run_seed}\x1f{task}\x1f".encode(), digest_size=8)
    copy, from_bytes, mask = prefixed.copy, int.from_bytes, (1 << SEED_BITS) - 1

    def seeds(keys: Iterable[str]) -> list[int]:
        out = []
        for key in keys:
            h = copy()
            h.update((key if type(key) is str else str(key)).encode())
            out.append(from_bytes(h.digest(), "big") & mask)
        return out

    return seeds
