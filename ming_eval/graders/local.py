"""Graders that are model cards of the zoo with the ``understand`` capability, run on the rank's device.

The card is resolved and checked when the grader is asked for (an unknown card, a card that cannot
``understand``, an incomplete protocol are card errors before any weight is loaded); the weights load
on the first request that the cache cannot answer, once per rank. Requests are answered in batches of
the spec's ``batch_size`` (default: the card's ``batch_size.understand``) with the card's understand
protocol (its defaults, then a ``tasks: {grader: ...}`` block if the card has one), the scorer's
decoding settings on top. A batch that fails is split in halves until the failing request is alone,
which gets ``GraderReply(error=...)``; an out-of-memory error also shrinks the batch size for every
later call. If the first 16 requests all fail, the grader is given up for the rest of the run: every
later request gets the first error without being asked.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from typing import Any

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, UnderstandRequest
from ming_eval.errors import CapabilityError, CardError, CheckpointError, ProtocolError, UnknownNameError
from ming_eval.graders.base import DecodeSettings, Grader, GraderReply, ReplyStore, ZooSpec
from ming_eval.runner.batching import FATAL_ERRORS, BatchRunner, describe, free_accelerator_memory

#: the name under which a model card may set a grader-specific protocol (``tasks: {grader: ...}``)
GRADER_PROTOCOL_KEY = "grader"
#: decoding settings (``DecodeSettings.extra``) that a local model understands
LOCAL_EXTRA_SETTINGS = ("top_p",)
#: give the grader up when this many requests failed before any succeeded
FAIL_FAST_AFTER = 16

Item = tuple[int, UnderstandRequest]


class ZooGrader(Grader):
    """A zoo model card answering graders' questions; loads lazily, once, on ``device``."""

    def __init__(self, spec: ZooSpec, device: str, cache: ReplyStore | None = None, *, where: str = "grader") -> None:
        """``where`` names the option that asked for the grader in error messages."""
        super().__init__()
        from ming_eval.registry import get_model_card
        from ming_eval.runner.plan import load_model_class

        try:
            card = get_model_card(spec.card)
        except UnknownNameError as exc:
            raise CardError(f"{where}: {exc.message}", hint=exc.hint) from None
        where = f"{where} {spec.card!r} (model card {card.source or card.name})"
        cls = load_model_class(card)
        cap = Capability.UNDERSTAND
        if cap not in card.capabilities or cap not in cls.capabilities:
            can = sorted(c.value for c in set(card.capabilities) & set(cls.capabilities))
            raise CardError(
                f"{where} cannot grade: it lacks the 'understand' capability (it can: {', '.join(can) or 'nothing'})",
                hint="a grader answers questions about images; pick a card whose capabilities include understand",
            )
        protocol = card.protocol_for(GRADER_PROTOCOL_KEY, cap)
        assert isinstance(protocol, UnderstandProtocol)
        problems = cls.check_protocol(cap, protocol)
        if problems:
            raise ProtocolError(
                f"{where} has an incomplete protocol: " + "; ".join(problems),
                hint=f"set these under protocol.understand or tasks.{GRADER_PROTOCOL_KEY}.understand in the card",
            )
        self.spec = spec
        self.card = card
        self.model_cls: type[BaseModelAdapter] = cls
        self.protocol = protocol
        self.device = device
        self.checkpoint = spec.checkpoint or card.checkpoint
        self.identity = f"zoo:{card.name}@{self.checkpoint}"
        self.cache = cache
        self.batch_size = spec.batch_size or card.default_batch_size(cap)
        self.model: BaseModelAdapter | None = None
        #: how many times the weights were loaded (once per rank, again only after :meth:`release`)
        self.loads = 0
        #: accelerator memory the weights took when they were last loaded (bytes; 0 on the CPU)
        self.footprint = 0
        self._dead: str | None = None
        self._succeeded = 0
        self._failed_before_success = 0
        self._first_error: str | None = None
        self._lock = threading.Lock()  # one batch at a time on the device, whatever threads a scorer runs

    @property
    def cache_scope(self) -> str:
        """The identity plus a digest of the card's understand protocol and options: a reply made
        under another system prompt or another prompt style is not reused."""
        setup = {
            "protocol": self.protocol.model_dump(mode="json"),
            "options": self.card.options,
            "dtype": self.card.dtype,
        }
        digest = hashlib.sha256(json.dumps(setup, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return f"{self.identity}#{digest}"

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def _load(self) -> BaseModelAdapter:
        if self.model is None:
            before = _allocated(self.device)
            try:
                self.model = self.model_cls.from_card(self.card, checkpoint=self.spec.checkpoint, device=self.device)
            except FATAL_ERRORS:
                raise
            except Exception as exc:  # a grader that cannot load stops the phase; no sample is marked
                raise CheckpointError(
                    f"grader {self.identity} could not be loaded on {self.device}: {describe(exc)}",
                    hint="check the grader's model card and checkpoint (`ming-eval doctor`)",
                ) from exc
            self.loads += 1
            self.footprint = max(0, _allocated(self.device) - before)
        return self.model

    def _protocol(self, settings: DecodeSettings) -> UnderstandProtocol:
        extra = dict(settings.extra)
        unknown = sorted(set(extra) - set(LOCAL_EXTRA_SETTINGS))
        if unknown:
            raise CapabilityError(
                f"grader {self.identity} runs locally and cannot use the decoding setting(s) {', '.join(unknown)}",
                hint=f"a local grader takes max_tokens, temperature and {', '.join(LOCAL_EXTRA_SETTINGS)}",
            )
        update: dict[str, Any] = {
            "max_new_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "do_sample": settings.temperature > 0,
        }
        if "top_p" in extra:
            update["top_p"] = extra["top_p"]
        return UnderstandProtocol.model_validate({**self.protocol.model_dump(), **update})

    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        with self._lock:
            return self._answer_locked(requests, settings)

    def _answer_locked(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        protocol = self._protocol(settings)
        if self._dead is not None:
            return [GraderReply(error=self._dead) for _ in requests]
        model = self._load()
        replies: list[GraderReply | None] = [None] * len(requests)

        def call(batch: Sequence[Item]) -> list[str]:
            return model.understand([r for _, r in batch], protocol)

        def on_done(item: Item, text: str) -> None:
            replies[item[0]] = GraderReply(text=text)
            self._succeeded += 1

        def on_fail(item: Item, exc: BaseException) -> None:
            message = describe(exc)
            replies[item[0]] = GraderReply(error=f"grader {self.identity} failed: {message}")
            self._first_error = self._first_error or message
            if not self._succeeded:
                self._failed_before_success += 1

        runner: BatchRunner[Item, str] = BatchRunner(
            call, on_done, on_fail, self.batch_size, fail_fast_after=0, max_failures=0
        )
        runner.run(list(enumerate(requests)))
        self.batch_size = runner.stats.final_batch_size or self.batch_size
        if not self._succeeded and self._failed_before_success >= FAIL_FAST_AFTER:
            self._dead = (
                f"grader {self.identity} was given up: its first {self._failed_before_success} requests all "
                f"failed; first error: {self._first_error}"
            )
        return [r if r is not None else GraderReply(error="no reply") for r in replies]

    def release(self) -> None:
        with self._lock:
            if self.model is not None:
                self.model.close()
                self.model = None
                free_accelerator_memory()

    def close(self) -> None:
        self.release()


def _allocated(device: str) -> int:
    """Bytes allocated by torch on a CUDA ``device``; 0 elsewhere (no torch import on the CPU)."""
    if not device.startswith("cuda"):
        return 0
    import torch

    return int(torch.cuda.memory_allocated(torch.device(device)))
