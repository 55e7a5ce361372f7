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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.errors import CardError

ENDPOINT_PREFIX = "endpoint:"


class ZooSpec(BaseModel):
    """A model card of the zoo with the ``understand`` capability, run locally on the rank's device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card: str
    checkpoint: str | None = None
    batch_size: int | None = Field(None, ge=1)


class EndpointSpec(BaseModel):
    """Any OpenAI-compatible multimodal chat endpoint (vLLM, SGLang, LMDeploy, OpenAI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the served model name, e.g. ``gpt-4o-2024-05-13``
    model: str
    #: the API root ending in /v1; default ``$OPENAI_BASE_URL``, else the OpenAI API
    base_url: str | None = None
    #: the environment variable holding the key (never the key itself)
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = Field(16, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    #: how images go into the requests: ``png``, or ``jpeg`` at ``jpeg_quality`` (Pillow's scale)
    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = Field(95, ge=1, le=100)
    #: the system message's content: a string (``text``), or a one-item list of one text part
    #: (``parts``), as some upstream judge scripts send it
    system_content: Literal["text", "parts"] = "text"

    def reply_scope(self) -> str:
        """What, besides the model and the request, a reply depends on: the non-default request
        encodings (empty for the defaults, so caches made before these options stay valid)."""
        parts = []
        if self.image_format == "jpeg":
            parts.append(f"jpeg:q{self.jpeg_quality}")
        if self.system_content != "text":
            parts.append(f"system:{self.system_content}")
        return "|".join(parts)


GraderSpec = ZooSpec | EndpointSpec


def parse_spec(value: str | Mapping[str, Any] | GraderSpec, where: str = "grader") -> GraderSpec:
    """A spec from a card name (``qwen2.5-vl-7b``), ``endpoint:<model>``, or a mapping with ``card``
    (zoo) or ``model`` (endpoint) keys. ``where`` names the option in error messages."""
    if isinstance(value, (ZooSpec, EndpointSpec)):
        return value
    try:
        if isinstance(value, str):
            if value.startswith(ENDPOINT_PREFIX):
                return EndpointSpec(model=value[len(ENDPOINT_PREFIX) :])
            return ZooSpec(card=value)
        if "card" in value:
            return ZooSpec(**value)
        if "model" in value:
            return EndpointSpec(**value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        shown = dict(value) if isinstance(value, Mapping) else value
        raise CardError(f"{where}: invalid grader {shown!r}: {problems}") from None
    raise CardError(
        f"{where}: a grader is a zoo card name, 'endpoint:<model>', or a mapping with 'card' or 'model'; got {value!r}"
    )


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
    digests: dict[int, str] | None = None,
) -> str:
    """sha256 of everything a reply depends on. ``digests`` memoises image digests by object across
    the keys of one batch (an image asked about several times is decoded and hashed once)."""
    payload = {
        "grader": identity,
        "request": request_fingerprint(request, digests),
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


class ReplyStore(Protocol):
    """Where replies are kept between runs (see :mod:`ming_eval.graders.cache`)."""

    def get(self, key: str) -> GraderReply | None: ...

    def put(self, key: str, reply: GraderReply, record: Mapping[str, Any]) -> None: ...


class Grader(ABC):
    """One grader, shared by every scorer of a rank that names it.

    ``identity`` names the grader without any secret (``zoo:<card>@<checkpoint>`` or
    ``endpoint:<model>@<redacted base URL>``) and is what results record as the judge. Subclasses
    implement :meth:`_answer`; :meth:`grade` adds the reply cache around it.
    """

    identity: str
    cache: ReplyStore | None = None

    def __init__(self) -> None:
        self.stats = GraderStats()

    @property
    def cache_scope(self) -> str:
        """What, besides the request and the decoding settings, a reply depends on; part of every
        cache key. The identity, unless a subclass knows more (a zoo card's protocol)."""
        return self.identity

    def grade(
        self, requests: Sequence[UnderstandRequest], settings: DecodeSettings = DecodeSettings(), *, attempt: int = 0
    ) -> list[GraderReply]:
        """One reply per request, in order; cached replies are not asked again, failures never kept,
        and requests with the same key in one call are asked once."""
        digests: dict[int, str] = {}  # by image object: the requests (and so the ids) live through the call
        keys = [cache_key(self.cache_scope, r, settings, attempt=attempt, digests=digests) for r in requests]
        out: list[GraderReply | None] = [self.cache.get(k) if self.cache is not None else None for k in keys]
        todo = [i for i, r in enumerate(out) if r is None]
        self.stats.cached += len(requests) - len(todo)
        first: dict[str, int] = {}
        unique = [i for i in todo if first.setdefault(keys[i], i) == i]  # the same question is asked once
        if unique:
            answers = self._answer([requests[i] for i in unique], settings)
            if len(answers) != len(unique):
                raise RuntimeError(f"grader {self.identity} gave {len(answers)} replies for {len(unique)} requests")
            self.stats.asked += len(unique)
            for i, reply in zip(unique, answers, strict=True):
                if not reply.ok:
                    self.stats.failed += 1
                elif self.cache is not None:
                    record = {"grader": self.identity, "settings": settings.as_dict(), "attempt": attempt}
                    self.cache.put(keys[i], reply, record)
                out[i] = reply
            for i in todo:
                out[i] = out[first[keys[i]]]
        return [r if r is not None else GraderReply(error="no reply") for r in out]

    @abstractmethod
    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        """Ask the grader (no cache); one reply per request, failures as ``GraderReply(error=...)``."""

    def option_scores(self, requests: Sequence[UnderstandRequest], options: Sequence[str]) -> list[GraderReply]:
        """Per-option scores (e.g. log-probabilities of "yes" / "no") where the grader can give them."""
        from ming_eval.errors import CapabilityError

        raise CapabilityError(f"grader {self.identity} cannot score options; ask for text replies instead")

    def release(self) -> None:  # noqa: B027 - optional hook
        """Free the device memory the grader holds (a local model's weights); it loads again when
        asked. The runner calls it between tasks when memory is short."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the grader holds (weights, connections, cache files)."""
