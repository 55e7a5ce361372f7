"""Sharding and synchronisation across torchrun ranks.

Ranks never exchange model outputs: each writes its own record and score files, the last rank merges
them and rank 0 aggregates.
Collectives are only barriers, so a CPU (gloo) group with a long timeout is used for them even when
the default group is NCCL: ranks finish their shards at different times, and NCCL's default
10-minute timeout would kill a healthy run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from ming_eval.errors import MingEvalError

T = TypeVar("T")

TIMEOUT_ENV = "MING_EVAL_DIST_TIMEOUT_MIN"


class RankLostError(MingEvalError):
    """Another rank ended (failed, or was stopped) while this one waited for it at a barrier."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    _group: Any = field(default=None, repr=False)
    _initialized_here: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls) -> Dist:
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; a plain launch is rank 0 of 1. A RANK outside
        the world size (one left in the environment, without WORLD_SIZE) is an error: such a process
        would take itself for a rank other than 0 and leave the lock, the manifest and the results to a
        rank 0 that does not exist."""
        rank, world_size = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
        if not 0 <= rank < world_size:
            raise MingEvalError(
                f"the environment says RANK={rank} with WORLD_SIZE={world_size}: a rank must be below the world size",
                hint="unset RANK for a run in one process, or start ranks with torchrun or `ming-eval run --ranks N`",
            )
        return cls(rank=rank, world_size=world_size, local_rank=_env_int("LOCAL_RANK", 0))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def init(self) -> None:
        """Join the process group (NCCL when CUDA is present, else gloo) plus a gloo barrier group."""
        if not self.distributed:
            return
        import torch
        import torch.distributed as dist

        timeout = timedelta(minutes=_env_int(TIMEOUT_ENV, 24 * 60))
        if not dist.is_initialized():
            use_cuda = torch.cuda.is_available()
            if use_cuda:
                torch.cuda.set_device(self.local_rank)
            dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timeout)
            self._initialized_here = True
        backend = dist.get_backend()
        self._group = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" else None

    def barrier(self) -> None:
        if not self.distributed:
            return
        import torch.distributed as dist

        try:
            dist.barrier(group=self._group)
        except RuntimeError as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: RuntimeError) -> RankLostError:
        """What a collective's ``exc`` means: gloo's peer connection closed (another rank exited), or
        the timeout passed."""
        cause = re.sub(r"^\[[^\]]*\]\s*", "", str(exc)).split(". ")[0]  # without gloo's source line
        return RankLostError(
            f"rank {self.rank} of {self.world_size} stopped: another rank ended before reaching the same "
            f"point ({cause})",
            hint="that rank's own error says why; fix it and run the same command again to resume",
        )

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (small picklable objects only); a barrier too."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        try:
            dist.all_gather_object(out, obj, group=self._group)
        except RuntimeError as exc:
            raise self._lost(exc) from exc
        return out

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share: every ``world_size``-th item starting at ``rank``."""
        return list(items[self.rank :: self.world_size])

    def device(self, requested: str | None = None) -> str:
        if requested and requested != "auto":
            if requested == "cuda" and self.distributed:
                return f"cuda:{self.local_rank}"
            return requested
        try:
            import torch
        except ImportError:
            return "cpu"
        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"

    def close(self) -> None:
        if self._initialized_here:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self._initialized_here = False
