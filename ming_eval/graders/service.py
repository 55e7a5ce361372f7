"""The graders of one rank: one object per grader spec, shared by every scorer that names it.

The runner makes one :class:`GraderService` per rank and puts it in every task's context
(``ctx.graders``); a scorer asks ``ctx.graders.get("qwen2.5-vl-7b")`` or ``get("endpoint:gpt-4o")``
and gets a :class:`~ming_eval.graders.base.Grader` whose replies are cached on disk under
``cache_dir`` (default ``$MING_EVAL_CACHE/graders``).

Memory: a local grader keeps its weights from its first request until :meth:`release_all` or
:meth:`close`. Between tasks the runner asks :meth:`memory_short`: on a CUDA device it is true when
the free memory is below the footprint of the largest grader loaded (so another grader of that size
would not fit next to it); on other accelerators it is true whenever a local grader is loaded; on the
CPU it is never true. Released graders load again on their next request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ming_eval.graders.base import EndpointSpec, Grader, GraderSpec, ZooSpec, parse_spec
from ming_eval.graders.cache import DiskReplyStore, default_cache_dir


class GraderService:
    """Graders by spec for one rank. ``device`` is where local graders load (None or ``auto``: this
    rank's accelerator, else the CPU; resolved on the first local grader). ``cache_dir=None`` is the
    default cache folder; ``use_cache=False`` keeps no replies at all."""

    def __init__(self, device: str | None = None, cache_dir: Path | None = None, *, use_cache: bool = True) -> None:
        self.requested_device = device
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self._device: str | None = None
        self._graders: dict[GraderSpec, Grader] = {}
        self._stores: list[DiskReplyStore] = []

    @property
    def device(self) -> str:
        """The device local graders load on (importing torch the first time, to look for one)."""
        if self._device is None:
            from ming_eval.runner.distributed import Dist

            self._device = Dist.from_env().device(self.requested_device)
        return self._device

    def get(self, spec: str | Mapping[str, Any] | GraderSpec, where: str = "grader") -> Grader:
        """The grader for ``spec`` (a zoo card name, ``endpoint:<model>``, a mapping or a spec); the
        same spec gives the same object. ``where`` names the option in error messages."""
        parsed = parse_spec(spec, where)
        grader = self._graders.get(parsed)
        if grader is None:
            grader = self._make(parsed, where)
            self._graders[parsed] = grader
        return grader

    def _make(self, spec: GraderSpec, where: str) -> Grader:
        grader: Grader
        if isinstance(spec, ZooSpec):
            from ming_eval.graders.local import ZooGrader

            grader = ZooGrader(spec, self.device, where=where)
        else:
            grader = _endpoint_grader(spec, where)
        if self.use_cache:
            store = DiskReplyStore.for_grader(grader.identity, self.cache_dir or default_cache_dir())
            self._stores.append(store)
            grader.cache = store
        return grader

    @property
    def graders(self) -> list[Grader]:
        return list(self._graders.values())

    def memory_short(self) -> bool:
        """Whether local graders should be released before the next task (see the module's doc)."""
        from ming_eval.graders.local import ZooGrader

        loaded = [g for g in self._graders.values() if isinstance(g, ZooGrader) and g.loaded]
        if not loaded or self.device == "cpu":
            return False
        if not self.device.startswith("cuda"):
            return True
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(self.device))
        return free < max(g.footprint for g in loaded)

    def release_all(self) -> None:
        """Free the device memory every grader holds; each loads again on its next request."""
        for grader in self._graders.values():
            grader.release()

    def close(self) -> None:
        """Release every grader and close the reply caches; the service can be used again after."""
        for grader in self._graders.values():
            grader.close()
        for store in self._stores:
            store.close()
        self._graders.clear()
        self._stores.clear()


def _endpoint_grader(spec: EndpointSpec, where: str) -> Grader:
    from ming_eval.graders.endpoint import EndpointGrader

    return EndpointGrader(spec, None)
