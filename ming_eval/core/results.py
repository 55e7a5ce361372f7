"""What inference and scoring produce: predictions, per-sample scores, metrics with intervals."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ming_eval.core.statistic import STATISTIC, Statistic

_json_str = json.encoder.encode_basestring_ascii  # json.dumps of a str, as in its default settings


class Status(str, Enum):
    OK = "ok"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


#: each status as JSON text (in a prediction's digest)
_STATUS_JSON = {status: _json_str(status.value) for status in Status}
#: each status by its value (records hold the value)
_STATUS_OF = {status.value: status for status in Status}
_sha1 = hashlib.sha1
#: the digests of short successful answers, by their text: a multiple-choice or yes/no task's answers
#: repeat ("A", "Yes"), and the same text has the same digest; at most this many, this long
_SHORT_ANSWER_DIGESTS: dict[str, str] = {}
_SHORT_ANSWERS, _SHORT_ANSWER = 4096, 64


def status_text(status: Status) -> str:
    """``status.value``, without the enum property's cost (it is read once or twice per record)."""
    return "ok" if status is Status.OK else status.value


@dataclass(frozen=True, init=False)
class Prediction:
    """A model's answer to one sample, as the run store keeps it.

    ``output`` is the text (understanding) or the list of image paths relative to the task's image
    folder (generation, editing); ``error`` is set when ``status`` is failed.
    """

    sample_id: str
    status: Status
    output: Any
    error: str | None
    seed: int | None
    elapsed_s: float | None
    images_root: Path | None
    #: (size, mtime_ns) of each image file when the record was written: an image replaced or deleted
    #: since then makes the sample pending again, and its score stale
    files: list[list[int]] | None

    def __init__(
        self,
        sample_id: str,
        status: Status,
        output: Any = None,
        error: str | None = None,
        seed: int | None = None,
        elapsed_s: float | None = None,
        images_root: Path | None = None,
        files: list[list[int]] | None = None,
    ) -> None:
        # one per sample: the fields go straight into the instance's dict (a frozen dataclass's own
        # __init__ sets each through object.__setattr__, three times slower); it stays frozen after
        d = self.__dict__
        d["sample_id"] = sample_id
        d["status"] = status
        d["output"] = output
        d["error"] = error
        d["seed"] = seed
        d["elapsed_s"] = elapsed_s
        d["images_root"] = images_root
        d["files"] = files

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def files_unchanged(self) -> bool:
        if self.files is None:
            return True
        return self.files == file_stats(self.image_paths())

    def image_paths(self) -> list[Path]:
        if self.images_root is None or not isinstance(self.output, list):
            return []
        return [self.images_root / str(rel) for rel in self.output]

    @property
    def digest(self) -> str:
        """A short hash of what was predicted; a stored score is valid only for the same digest
        (computed once per prediction: kept in the instance, as ``cached_property`` would, without the
        lock Python 3.11's takes on every access)."""
        known: str | None = self.__dict__.get("_digest")
        if known is None:
            known = self.__dict__["_digest"] = self._digest()
        return known

    def _digest(self) -> str:
        output, error, status = self.output, self.error, self.status
        short = status is Status.OK and error is None and type(output) is str and self.files is None
        if short:
            known = _SHORT_ANSWER_DIGESTS.get(output)
            if known is not None:
                return known
        if (
            type(output) is str
            and self.files is None
            and (error is None or type(error) is str)
            and type(status) is Status
        ):
            # the common case, spelled out: the same text as the json.dumps below, five times faster
            payload = (
                f"[{_STATUS_JSON[status]}, {_json_str(output)}, {'null' if error is None else _json_str(error)}, null]"
            )
        else:
            payload = json.dumps([status.value, output, error, self.files], sort_keys=True, default=str)
        digest = _sha1(payload.encode()).hexdigest()[:16]
        if short and len(output) <= _SHORT_ANSWER and len(_SHORT_ANSWER_DIGESTS) < _SHORT_ANSWERS:
            _SHORT_ANSWER_DIGESTS[output] = digest
        return digest

    def to_record(self) -> dict[str, Any]:
        rec = {
            "id": self.sample_id,
            "status": self.status.value,
            "output": self.output,
            "error": self.error,
            "seed": self.seed,
            "elapsed_s": self.elapsed_s,
        }
        if self.files is not None:
            rec["files"] = self.files
        return rec

    @classmethod
    def from_record(cls, rec: Mapping[str, Any], images_root: Path | None = None) -> Prediction:
        get = rec.get
        return cls(
            str(rec["id"]),
            _status_of(get("status", "ok")),
            get("output"),
            get("error"),
            get("seed"),
            get("elapsed_s"),
            images_root,
            get("files"),
        )


def _status_of(value: Any) -> Status:
    """``Status(value)``, looked up directly for the statuses' own strings (once per record read)."""
    found = _STATUS_OF.get(value) if type(value) is str else None
    return found if found is not None else Status(value)


def file_stats(paths: list[Path]) -> list[list[int]] | None:
    """(size, mtime_ns) per file; None if any is missing."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            return None
        out.append([st.st_size, st.st_mtime_ns])
    return out


@dataclass
class SampleScore:
    """The scorer's verdict on one sample.

    ``score`` is the sample's value for the task's primary metric (1/0 for accuracy, a 0-1 grade for
    MM-Vet, the share of correct images for a GenEval prompt). ``status`` is ``ok`` when scoring
    succeeded; a sample whose inference failed, or whose judge was unavailable, carries that status,
    scores 0, and is counted in every table.
    """

    id: str
    score: float
    correct: bool | None = None
    reason: str = ""
    status: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "correct": self.correct,
            "reason": self.reason,
            "status": self.status,
            "details": self.details,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> SampleScore:
        get = rec.get  # (arguments by position: once per stored score read)
        return cls(
            str(rec["id"]),
            float(rec["score"]),
            get("correct"),
            str(get("reason", "")),
            str(get("status", "ok")),
            dict(get("details") or ()),
        )


# Optional keys of ``SampleScore.details`` that reports and ``ming-eval compare`` read. The engine sets
# them from the task's hooks (``sample_cluster``, ``sample_breakdown``, ``sample_prompt``); nothing
# else depends on them.
#: the sample's resampling unit when samples are not independent (e.g. the question index shared
#: by an MMBench circular group's rotations); paired comparisons resample and test whole clusters
DETAIL_CLUSTER = "cluster"
#: the sample's key in each of the task's breakdowns, named as in ``TaskResult.breakdowns`` (e.g.
#: ``{"tag": "counting"}`` for GenEval), so that two runs can be compared per category
DETAIL_BREAKDOWN = "breakdown"
#: the text a reader sees next to the sample's outputs in reports (a generation prompt, an edit
#: instruction), so that reports show it without knowing the task
DETAIL_PROMPT = "prompt"
#: the sample's key in each grouping the task's headline statistic counts that is not a breakdown
#: (e.g. HallusionBench's ``{"figure": ..., "question": ...}``), so that ``compare`` can recompute it
DETAIL_GROUPS = "groups"

# Statuses a scorer may give besides "ok"; each is counted separately in tables.
INFERENCE_FAILED = "inference_failed"
SCORING_FAILED = "scoring_failed"
JUDGE_UNAVAILABLE = "judge_unavailable"
# Statuses whose cause may be gone by the next scoring pass (a judge that is back): such scores are
# scored again by every later ``run`` / ``score``, and a later verdict replaces them.
RETRY_STATUSES: frozenset[str] = frozenset({JUDGE_UNAVAILABLE})
#: statuses that count as wrong answers and are reported as failures
FAILED_STATUSES: tuple[str, ...] = (INFERENCE_FAILED, SCORING_FAILED, JUDGE_UNAVAILABLE)


@dataclass(frozen=True)
class Metric:
    """A number with its confidence interval (``ci_low``/``ci_high`` at ``confidence``) and size."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    confidence: float = 0.95
    scale: float = 1.0  # 100 for percentages: the value is already multiplied

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metric:
        fields = {k: d[k] for k in ("value", "ci_low", "ci_high", "n", "confidence", "scale") if k in d}
        if fields.get("value") is None:  # NaN is stored as null (strict JSON)
            fields["value"] = float("nan")
        return cls(**fields)

    def format(self, digits: int = 2, with_ci: bool = False) -> str:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "-"
        text = f"{self.value:.{digits}f}"
        if with_ci and self.ci_low is not None and self.ci_high is not None:
            text += f" [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"
        return text


def judge_of(scores: Sequence[SampleScore]) -> str | None:
    """The judge or grader models named by per-sample scores (``details["judge"]``), joined by ", "."""
    names = sorted({str(s.details["judge"]) for s in scores if s.details.get("judge")})
    return ", ".join(names) or None


@dataclass
class TaskResult:
    """Everything the task's aggregate step reports.

    ``metrics`` holds the headline numbers, ``primary`` names the one leaderboards use, and
    ``breakdowns`` holds per-category tables (e.g. ``{"tag": {"counting": Metric, ...}}``).
    ``counts`` always includes ``n`` (samples), ``ok`` and one entry per non-ok status.
    ``comparable`` is False when the numbers are not the benchmark's as published (a ``--limit``
    subset, missing samples, a custom prompt set, a data file or a judge other than the card's, a
    protocol overridden for one run, corrected quirks): reports then mark them and never rank them
    against baselines. ``not_comparable_because`` says why, one reason each (set through
    :meth:`mark_not_comparable`).
    ``headline`` is how the task computes ``primary`` from per-sample scores (the engine stores the
    task's declaration here, so that ``compare`` recomputes exactly that number).
    ``judge`` names the judge or grader model whose verdicts produced the numbers (several joined by
    ", "), None when no model judged: the one place reports read it from.
    """

    task: str
    primary: str
    metrics: dict[str, Metric]
    breakdowns: dict[str, dict[str, Metric]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    comparable: bool = True
    headline: Statistic | None = None
    not_comparable_because: list[str] = field(default_factory=list)
    judge: str | None = None

    def mark_not_comparable(self, reason: str) -> None:
        self.comparable = False
        if reason not in self.not_comparable_because:
            self.not_comparable_because.append(reason)

    @property
    def primary_metric(self) -> Metric:
        return self.metrics[self.primary]

    @property
    def failed(self) -> int:
        """Samples that failed (inference, scoring, judge) and count as wrong."""
        return sum(self.counts.get(status, 0) for status in FAILED_STATUSES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "primary": self.primary,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "breakdowns": {name: {k: m.to_dict() for k, m in table.items()} for name, table in self.breakdowns.items()},
            "counts": dict(self.counts),
            "notes": list(self.notes),
            "info": dict(self.info),
            "comparable": self.comparable,
            **({"not_comparable_because": list(self.not_comparable_because)} if self.not_comparable_because else {}),
            **({"headline": self.headline.model_dump(mode="json")} if self.headline is not None else {}),
            **({"judge": self.judge} if self.judge else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskResult:
        if d["primary"] not in d["metrics"]:
            raise ValueError(f"primary metric {d['primary']!r} of task {d['task']!r} is not among its metrics")
        return cls(
            task=d["task"],
            primary=d["primary"],
            metrics={k: Metric.from_dict(v) for k, v in d["metrics"].items()},
            breakdowns={
                name: {k: Metric.from_dict(v) for k, v in table.items()}
                for name, table in d.get("breakdowns", {}).items()
            },
            counts=dict(d.get("counts", {})),
            notes=list(d.get("notes", [])),
            info=dict(d.get("info", {})),
            comparable=bool(d.get("comparable", True)),
            not_comparable_because=[str(r) for r in d.get("not_comparable_because", [])],
            headline=STATISTIC.validate_python(d["headline"]) if d.get("headline") is not None else None,
            judge=str(d["judge"]) if d.get("judge") else None,
        )
