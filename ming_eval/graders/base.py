"""The grader contract: a model that scorers ask about predictions (a VQA model, a VLM judge).

A scorer gets a :class:`Grader` from its context (``ctx.graders.get(spec)``) and calls
:meth:`Grader.grade` with a batch of :class:`~ming_eval.core.sample.UnderstandRequest` (interleaved
text and images). Each request gets one :class:`GraderReply`: the grader's text, or per-option scores
where the grader can give them, or the reason it could not answer (an outage, a refused request).

Replies are cached on disk by (grader identity, text parts, image digests, decoding settings,
attempt): a reply already paid for is reused on every later run; a failure is never cached, so the
sample is asked again on the next run. Two kinds of graders exist: a model card of the zoo with the
``understand`` capability, loaded on the rank's device (:mod:`ming_eval.graders.local`), and any
OpenAI-compatible multimodal endpoint (:mod:`ming_eval.graders.endpoint`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest


@dataclass(frozen=True)
class DecodeSettings:
    """How the grader decodes; part of every cache key. ``extra`` holds server-specific fields
    (e.g. ``{"top_p": 1.0}``) and must be JSON-able."""

    max_tokens: int = 1024
    temperature: float = 0.0
    extra: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, **dict(self.extra)}


@dataclass(frozen=True)
class GraderReply:
    """One request's outcome. Exactly one of ``text`` / ``option_scores`` is set when ``error`` is None.

    ``error`` says why there is no reply (endpoint down, request refused, grader failed); the engine
    records such samples as ``judge_unavailable`` and asks again on the next run.
    """

    text: str | None = None
    option_scores: dict[str, float] | None = None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def image_digest(ref: ImageRef) -> str:
    """sha256 over the decoded RGB pixels and size, so the same picture re-encoded is the same key."""
    img = ref.load()
    h = hashlib.sha256()
    h.update(f"{img.mode}:{img.width}x{img.height}:".encode())
    h.update(img.tobytes())
    return h.hexdigest()


def request_fingerprint(request: UnderstandRequest, digests: dict[int, str] | None = None) -> list[Any]:
    """The request as JSON-able parts: system prompt and text verbatim, images by :func:`image_digest`."""
    parts: list[Any] = [{"system": request.system}] if request.system is not None else []
    for part in request.content:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            key = id(part.image)
            digest = digests.get(key) if digests is not None else None
            if digest is None:
                digest = image_digest(part.image)
                if digests is not None:
                    digests[key] = digest
            parts.append({"image": digest})
    return parts


def cache_key(
    identity: str,
    request: UnderstandRequest,
    settings: DecodeSettings,
    *,
    attempt: int = 0,
    kind: str = "text",
    options: Sequence[str] = (),
) -> str:
    """sha256 of everything a reply depends on."""
    payload = {
        "grader": identity,
        "request": request_fingerprint(request),
        "settings": settings.as_dict(),
        "attempt": attempt,
        "kind": kind,
        "options": list(options),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class GraderStats:
    """Counters a scorer can show: how many replies came from the cache, were asked, failed."""

    cached: int = 0
    asked: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Grader(ABC):
    """One grader, shared by every scorer of a rank that names it.

    ``identity`` names the grader without any secret (``zoo:<card>@<checkpoint>`` or
    ``endpoint:<model>@<redacted base URL>``) and is what results record as the judge.
    """

    identity: str

    @abstractmethod
    def grade(
        self, requests: Sequence[UnderstandRequest], settings: DecodeSettings = DecodeSettings(), *, attempt: int = 0
    ) -> list[GraderReply]:
        """One reply per request, in order; cached replies are not asked again."""

    def option_scores(self, requests: Sequence[UnderstandRequest], options: Sequence[str]) -> list[GraderReply]:
        """Per-option scores (e.g. log-probabilities of "yes" / "no") where the grader can give them."""
        from ming_eval.errors import CapabilityError

        raise CapabilityError(f"grader {self.identity} cannot score options; ask for text replies instead")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the grader holds (weights, connections, cache files)."""
