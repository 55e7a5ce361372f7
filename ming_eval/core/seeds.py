"""Per-sample seeds that depend only on the run seed and the sample's identity.

Because a seed is a hash of (run seed, task, sample id[, image index]), a sample gets the same seed
whatever the world size, batch size, shard or resume: results are reproducible sample by sample.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31  # below 2**31: accepted by numpy, torch, random and most C libraries


def derive_seed(run_seed: int, task: str, sample_id: str, index: int | None = None) -> int:
    key = f"{run_seed}\x1f{task}\x1f{sample_id}"
    if index is not None:
        key += f"\x1f{index}"
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (1 << SEED_BITS)
