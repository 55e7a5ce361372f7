"""The Task contract: samples in, per-sample scores with reasons, metrics with intervals out.

A task is a card (``tasks/<name>.yaml``) plus a class implementing :class:`Task`. The engine calls,
in order: :meth:`Task.samples`, the model, :meth:`Task.scorer` (only when something is left to
score), :meth:`Task.aggregate`, and on rank 0, once the results are written, :meth:`BaseTask.finalize`.
Inference and scoring are separate phases, so a finished run can be re-scored without the model.

Tasks are stateless: everything a phase needs comes through its :class:`TaskContext`, never from
attributes an earlier phase set, so any phase can run alone (``ming-eval score`` builds a fresh task).
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from ming_eval.cards.schema import DataFile, GenerateProtocol, NoOptions, TaskCard, UnderstandProtocol
from ming_eval.core.results import Metric, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Capability, EditRequest, GenerateRequest, Sample
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.errors import MingEvalError

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles
    from ming_eval.graders.service import GraderService
    from ming_eval.store.run_store import TaskStore


def _grader_service() -> GraderService:
    from ming_eval.graders.service import GraderService

    return GraderService()


@dataclass(frozen=True)
class TaskContext:
    """What a task may know about the run it is part of.

    ``protocol`` is the model card's resolved protocol for this task; ``data`` finds (and if needed
    downloads and verifies) the task's data files; ``work_dir`` is the task's folder in the run and
    ``model_name`` the model card's name. When a scorer is built, and when results are aggregated and
    finalized, ``samples`` holds the run's samples of the task by id and ``predictions`` every
    prediction of the task (a scorer may need more than its batch: MMBench's circular groups span
    samples). When a scorer is built, ``device`` is the device of this rank (``cuda:LOCAL_RANK``
    where there is a GPU, else ``cpu``), for scorers that load models (GenEval's detector and CLIP).
    ``graders`` gives scorers the models that grade predictions (``ctx.graders.get("<card>")``), one
    service per rank, made by the runner (a context made elsewhere gets its own, on this process's
    accelerator or the CPU).
    """

    protocol: UnderstandProtocol | GenerateProtocol
    data: DataFiles
    model_name: str = ""
    run_seed: int = 0
    work_dir: Path | None = None
    predictions: Mapping[str, Prediction] = field(default_factory=dict)
    graders: GraderService = field(default_factory=_grader_service)
    samples: Mapping[str, Sample] = field(default_factory=dict)
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)
    #: protocol fields set on the command line for this run only (``--protocol``): not comparable
    protocol_overrides: Mapping[str, Any] = field(default_factory=dict)

    def for_scoring(
        self, samples: Sequence[Sample], predictions: Mapping[str, Prediction], device: str | None = None
    ) -> TaskContext:
        """This context with the task's samples and predictions (and this rank's device) filled in."""
        return dataclasses.replace(
            self,
            samples={s.id: s for s in samples},
            predictions=predictions,
            device=self.device if device is None else device,
        )


class Scorer(ABC):
    """Turns predictions into per-sample scores. Heavy resources (detectors, judges) load in
    ``__init__`` and are freed in :meth:`close`; the engine builds a scorer only when some sample
    still needs scoring."""

    #: how many samples the engine hands to :meth:`score` at once
    batch_size: int = 64

    @abstractmethod
    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        """Score successful predictions; one :class:`SampleScore` per item, in order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the scorer holds."""


@runtime_checkable
class Task(Protocol):
    """Structural contract every task class meets (see :class:`BaseTask` for the usual base)."""

    capability: ClassVar[Capability]
    card: TaskCard

    @property
    def name(self) -> str: ...

    def data_files(self) -> list[DataFile]: ...

    def samples(self, ctx: TaskContext) -> Sequence[Sample]: ...

    def scorer(self, ctx: TaskContext) -> Scorer: ...

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult: ...

    def headline(self) -> Statistic: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


@dataclass(frozen=True)
class Prerequisite:
    """One thing a task reads besides its card's data files: ``where`` it is on this machine (None:
    missing) and the command that ``fetch``es it."""

    what: str
    where: str | None
    fetch: str


class BaseTask(ABC):
    """Common plumbing: options validated against ``Options``, data files from the card, a
    scoring fingerprint, and the image layout of generation tasks."""

    capability: ClassVar[Capability]
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: prompt styles this task can build (see ``UnderstandProtocol.prompt_style``)
    prompt_styles: ClassVar[tuple[str, ...]] = ("default",)
    #: False for tasks whose scoring runs no torch code: scorers then get the CPU as their device
    #: and torch is not imported on their behalf
    needs_torch: ClassVar[bool] = True
    #: bump when scoring changes, so stored scores are recomputed
    scoring_version: ClassVar[str] = "1"
    #: options that are part of the benchmark's protocol: a value other than the card's makes the
    #: results not comparable with published numbers (names the ``Options`` model lacks are skipped)
    protocol_options: ClassVar[tuple[str, ...]] = ()
    #: options that change speed or output files but no score: left out of the scoring fingerprint
    unscored_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, card: TaskCard, options: BaseModel) -> None:
        self.card = card
        self.options = options

    @classmethod
    def from_card(cls, card: TaskCard, overrides: dict[str, Any] | None = None) -> BaseTask:
        """The task of ``card`` with ``overrides`` (the command line's ``-o TASK.KEY=VALUE``) on top of
        its options; an error names the card for its own options and the ``-o`` value for an override."""
        from ming_eval.registry import validate_options

        card_options = validate_options(cls, dict(card.options), f"task card {card.source or card.name}")
        if not overrides:
            return cls(card, card_options)
        given = ", ".join(f"-o {card.name}.{k}={v}" for k, v in overrides.items())
        return cls(card, validate_options(cls, {**card.options, **overrides}, given))

    @property
    def name(self) -> str:
        return self.card.name

    def data_files(self) -> list[DataFile]:
        return list(self.card.data)

    def prefetch(self, data: DataFiles) -> list[str]:
        """Fetch what the task reads besides its card's data files (a Hugging Face dataset snapshot),
        for ``ming-eval data download``; returns what was fetched, one line each."""
        return []

    def grader_specs(self) -> list[Any]:
        """The graders (specs for :meth:`GraderService.get`) this task's options name, for ``ming-eval
        doctor``; empty when the task grades by itself."""
        return []

    def prerequisites(self) -> list[Prerequisite]:
        """What the task reads besides its card's data files (weights, its graders' checkpoints), and
        whether each is on this machine: ``ming-eval doctor``'s view, found without loading anything."""
        from ming_eval.graders.presence import grader_prerequisite

        found = (grader_prerequisite(spec, f"task {self.name}") for spec in self.grader_specs())
        return [p for p in found if p is not None]

    def sample_sources(self, data: DataFiles) -> list[Path]:
        """Files the samples are read from besides the card's data files (a dataset snapshot's parquet
        files), found without downloading: a finished task's stamp names their sizes and times, so a
        changed one makes ``run`` and ``score RUN`` build the samples again."""
        return []

    def data_search_dirs(self) -> list[Path]:
        """Folders to look in for data files before ming-eval's cache (e.g. VLMEvalKit's LMUData)."""
        return []

    def check_protocol(self, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        """Problems with the model's protocol for this task (empty when it fits)."""
        if isinstance(protocol, UnderstandProtocol) and protocol.prompt_style not in self.prompt_styles:
            return [
                f"prompt_style {protocol.prompt_style!r} is not known to task {self.name}; "
                f"known: {', '.join(self.prompt_styles)}"
            ]
        return []

    @abstractmethod
    def samples(self, ctx: TaskContext) -> Sequence[Sample]: ...

    @abstractmethod
    def scorer(self, ctx: TaskContext) -> Scorer: ...

    @abstractmethod
    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        """The task's metrics from the scores of ``samples`` (in order); the primary metric is the
        declared :meth:`headline` of the scores."""

    def headline(self) -> Statistic:
        """How the primary metric is computed from per-sample scores (stored in ``results.json`` for
        ``ming-eval compare``, which tests exactly that number). The default: their plain mean."""
        return Mean()

    def headline_metric(self, samples: Sequence[Sample], scores: Sequence[SampleScore]) -> Metric:
        """The declared :meth:`headline` of ``scores`` (of ``samples``, in order) with its interval,
        keys and clusters taken from the samples: what ``aggregate`` reports as the primary metric."""
        import numpy as np

        from ming_eval.stats.headline import headline_metric

        statistic = self.headline()
        keys: dict[str, Any] = {}
        for name in statistic.key_names():
            column = []
            for sample in samples:
                known = {**self.sample_breakdown(sample), **self.sample_groups(sample)}
                if name not in known:
                    raise MingEvalError(f"task {self.name}: sample {sample.id} has no {name!r} key for its headline")
                column.append(known[name])
            keys[name] = np.asarray(column, dtype=object)
        clusters = [self.sample_cluster(s) for s in samples]
        named = (
            None
            if all(c is None for c in clusters)
            else [c or f"id:{s.id}" for c, s in zip(clusters, samples, strict=True)]
        )
        return headline_metric(statistic, [s.score for s in scores], keys, clusters=named)

    def comparability(self, ctx: TaskContext | None = None) -> list[str]:
        """Why this task's results are not comparable with published numbers (empty when they are): a
        data file with another checksum than the card's, or a :attr:`protocol_options` value other
        than the card's; tasks add what ``ctx`` (the run's task folder) tells, e.g. imported verdicts."""
        reasons = []
        declared = {f.name: f for f in self.card.data}
        for used in self.data_files():
            card_file = declared.get(used.name)
            if card_file is None:
                continue
            same = [
                getattr(used, algo) == getattr(card_file, algo)
                for algo in ("md5", "sha256", "git_blob_sha1")
                if getattr(used, algo) and getattr(card_file, algo)
            ]
            if not same or not all(same):
                reasons.append(f"data file {used.name} is not the card's (another checksum)")
        from ming_eval.registry import validate_options

        card_options = validate_options(
            type(self), dict(self.card.options), f"task card {self.card.source or self.name}"
        )
        for name in self.protocol_options:
            if name not in type(self.options).model_fields:
                continue
            used_value, card_value = getattr(self.options, name), getattr(card_options, name)
            if used_value != card_value:
                reasons.append(f"option {name}={used_value!r}, not the protocol's {card_value!r}")
        return reasons

    def finalize(  # noqa: B027 - optional hook
        self, result: TaskResult, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext
    ) -> None:
        """Side effects after the results are written (rank 0 only), e.g. GenEval's HTML page."""

    def scoring_fingerprint(self) -> dict[str, Any]:
        """What scores depend on besides predictions; stored scores with another one are redone."""
        return {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "scoring_version": self.scoring_version,
            "options": self.options.model_dump(mode="json", exclude=set(self.unscored_options)),
        }

    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        """The sample's key in each of the task's breakdowns (e.g. ``{"tag": "counting"}``).

        The engine stores it in every score's ``details["breakdown"]``, so that ``ming-eval compare``
        can pair two runs per category without the task.
        """
        return {}

    def sample_prompt(self, sample: Sample) -> str | None:
        """The text reports show next to the sample's outputs; stored in ``details["prompt"]``.

        By default a generation request's prompt or an edit request's instruction; None for
        understanding samples (their question is not shown)."""
        request = sample.request
        if isinstance(request, GenerateRequest):
            return request.prompt
        if isinstance(request, EditRequest):
            return request.instruction
        return None

    def sample_groups(self, sample: Sample) -> dict[str, str]:
        """The sample's key in each grouping the :meth:`headline` counts that is not a breakdown
        (HallusionBench's figure and question); stored in ``details["groups"]``."""
        return {}

    def sample_cluster(self, sample: Sample) -> str | None:
        """The sample's resampling unit when samples are not independent (an MMBench question whose
        rotations are separate samples); stored in ``details["cluster"]``. None: the sample itself."""
        return None

    # -- generation outputs -------------------------------------------------------------------
    def image_relpath(self, sample: Sample, index: int) -> str:
        """Where image ``index`` of ``sample`` goes, relative to the task's image folder."""
        return f"{_UNSAFE.sub('_', sample.id)}/{index:04d}.png"

    def prepare_outputs(self, sample: Sample, images_root: Path) -> None:  # noqa: B027 - optional hook
        """Called before a sample's images are written (GenEval writes its metadata file here)."""

    def finish_outputs(self, sample: Sample, images_root: Path, relpaths: list[str]) -> list[str]:
        """Called once every image of ``sample`` is on disk (just made, or kept from an earlier run);
        returns the paths, relative to ``images_root``, that its record lists (and whose size and mtime
        it keeps). By default the images themselves; DPG-Bench tiles them into one grid file here."""
        return relpaths

    def import_outputs(
        self, source: Path, samples: Sequence[Sample], store: TaskStore, *, allow_incomplete: bool = False
    ) -> int:
        """Write records for outputs another tool made in ``source``; returns how many.

        Tasks whose outputs have a standard on-disk layout (GenEval) implement this, so that
        ``ming-eval score TASK --images DIR`` can score them. ``allow_incomplete`` (the user's
        ``--allow-incomplete``) lets a task import a folder with missing outputs instead of refusing it.
        """
        raise MingEvalError(f"task {self.name} cannot score outputs from a folder")

    # -- prediction files of other tools ------------------------------------------------------
    def prediction_import_options(self, source: Path, verdicts: Path | None = None) -> dict[str, Any]:
        """The options under which this task reads its samples from an imported prediction file
        (``ming-eval score TASK --predictions FILE``), and with ``verdicts`` (``--verdicts``) its scores
        from that tool's verdict file; tasks that cannot import one refuse here."""
        raise MingEvalError(
            f"task {self.name} cannot import a prediction file",
            hint="--predictions takes VLMEvalKit prediction files of the understanding tasks",
        )

    def import_predictions(
        self,
        source: Path,
        ctx: TaskContext,
        store: TaskStore,
        *,
        allow_incomplete: bool = False,
        verdicts: Path | None = None,
    ) -> int:
        """Write records for the answers in another tool's prediction file ``source`` (and keep the
        tool's ``verdicts`` file for them, checked against it); returns how many. Called on a task made
        with :meth:`prediction_import_options`, before :meth:`samples`."""
        raise MingEvalError(f"task {self.name} cannot import a prediction file")

    def imported_scores(self, ctx: TaskContext) -> dict[str, SampleScore]:
        """Scores another tool already gave (an imported verdict file), by sample id, for samples of
        ``ctx.samples``; the engine stores them in place of calling the scorer. None by default."""
        return {}

    def source_notes(self, ctx: TaskContext) -> list[str]:
        """Notes on where the run's outputs came from (an imported file), added to every result."""
        return []
