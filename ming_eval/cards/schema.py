"""The schema of task cards (``tasks/*.yaml``) and model cards (``model_zoo/*.yaml``).

Every model forbids unknown keys, so a typo in a card is an error that names the card and the key.
Task- and adapter-specific ``options`` are validated by the Options model of the class the card
names, when that class is loaded.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ming_eval.core.sample import Capability


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoOptions(StrictModel):
    """For tasks and adapters that take no options."""


class DataFile(StrictModel):
    """A file a task needs: where to get it, and the checksum that proves it is the right one.

    ``url`` is an http(s) URL or ``hf://<repo_id>/<path>[@revision]`` (a dataset repo unless the
    repo id starts with ``models/``). At least one of ``sha256``, ``md5`` and ``git_blob_sha1`` should
    be given; the project refuses a file whose checksum differs.
    """

    name: str
    url: str | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    md5: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    #: the file's git blob id (``git ls-tree``; sha1 of ``b"blob <size>\0" + content``): pins a file
    #: of a repository at a commit without downloading it first
    git_blob_sha1: str | None = Field(None, pattern=r"^[0-9a-f]{40}$")
    size: int | None = Field(None, ge=0)
    description: str = ""
    #: False for files only some runs read (e.g. judge prompt sources): they are not fetched when a
    #: run starts, but when first used; `ming-eval data download` fetches them all the same
    required: bool = True

    @model_serializer(mode="wrap")
    def _without_unset_blob_id(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a card without a git blob id dumps as before the key existed, so run directories made
        # then (their manifests hold the dumped card) still resume
        out: dict[str, Any] = handler(self)
        if out.get("git_blob_sha1") is None:
            out.pop("git_blob_sha1", None)
        return out


class TaskCard(StrictModel):
    """A benchmark: which Python class implements it, its data, and its options."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    class_: str = Field(alias="class", description="'package.module:Class' or an entry-point alias")
    capability: Capability
    description: str = ""
    version: str = "1"
    paper: str = ""
    data: list[DataFile] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _no_suites(cls, data: Any) -> Any:
        if isinstance(data, dict) and "suites" in data:
            raise ValueError(
                "'suites' is no longer a task card key: a suite's tasks are listed on its suite card only "
                "(tasks/suites/*.yaml); remove the key and add the task to those suite cards"
            )
        return data

    @property
    def source(self) -> Path | None:
        return self._source


class SummaryMember(StrictModel):
    """How one entry of the suite's ``tasks`` enters a summary.

    A task enters with one of its metrics (its primary metric unless ``metric`` names another),
    multiplied by ``scale`` (OCRBench's final score enters the leaderboard average / 10). A suite
    enters with its own first summary, or with its task when it has exactly one.
    """

    name: str
    metric: str | None = None
    scale: float = Field(1.0, gt=0)


class Rounding(StrictModel):
    """How a combined value is rounded.

    ``decimal`` is ``float(f"{value:.{digits}f}")`` (correctly rounded); ``numpy`` is
    ``round(np.mean(values), digits)``, numpy's rounding, as the OpenCompass leaderboard's table code
    computes its average. The two differ on values close to a half.
    """

    digits: int = Field(ge=0, le=6)
    method: Literal["decimal", "numpy"] = "decimal"


class SummarySpec(StrictModel):
    """A number computed from several results of a suite (a leaderboard average), stored by the runner
    in the run's ``results.json`` under ``key``.

    The value is the mean of the members' values, rounded as ``round`` says (not rounded without it).
    With ``round_members``, every task value that enters, also through a member suite's summary, is
    first rounded to that many decimals (``decimal`` rounding), and so is the mean of a member
    summary (whose own ``round`` applies only where it is shown by itself). None when any member has
    no finite result: a mean over fewer members is another number.
    """

    key: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    label: str
    #: entries of the suite's ``tasks`` (a name, or a mapping with metric and scale); all of them,
    #: in their order, when not given
    members: list[SummaryMember] | None = None
    round_members: int | None = Field(None, ge=0, le=6)
    round: Rounding | None = None
    #: what the value is a fraction of (100: the members are percentages), as ``Metric.scale``:
    #: tables convert it to their own scale like any metric
    scale: float = Field(1.0, gt=0)

    @field_validator("members", mode="before")
    @classmethod
    def _names_are_members(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": m} if isinstance(m, str) else m for m in value]
        return value


class SuiteCard(StrictModel):
    """A named list of tasks (or other suites): ``ming-eval run opencompass`` runs them all.

    ``summaries`` are the suite's cross-task numbers (e.g. the leaderboard average); their members
    are entries of ``tasks``, the one place where the suite's membership is declared.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    tasks: list[str] = Field(min_length=1)
    summaries: list[SummarySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _members_of_the_suite(self) -> SuiteCard:
        keys = [s.key for s in self.summaries]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"summary key {key!r} is declared twice")
        for summary in self.summaries:
            for member in summary.members or []:
                if member.name not in self.tasks:
                    raise ValueError(
                        f"summary {summary.key!r}: member {member.name!r} is not in the suite's tasks "
                        f"({', '.join(self.tasks)}); add it there first"
                    )
        return self

    def members_of(self, summary: SummarySpec) -> list[SummaryMember]:
        """The summary's members: as declared, or every entry of ``tasks``."""
        if summary.members is not None:
            return list(summary.members)
        return [SummaryMember(name=name) for name in self.tasks]

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source


class UnderstandExtras(StrictModel):
    """The ``understand.extra`` keys every model takes: the task's prompt builder reads them.

    An adapter whose understanding takes more settings declares a subclass (its ``ProtocolExtras``);
    a key no model declares is a card error at plan time.
    """

    #: put before / after the text of every prompt, for a model whose prompt is the dataset's plus a
    #: fixed instruction
    prompt_prefix: str = ""
    prompt_suffix: str = ""


class GenerateExtras(StrictModel):
    """The ``generate.extra`` / ``edit.extra`` keys every model takes: none."""


class UnderstandProtocol(StrictModel):
    """How a model answers understanding tasks; part of every comparison's fingerprint."""

    max_new_tokens: int = Field(512, gt=0)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    do_sample: bool = False
    system_prompt: str | None = None
    # The prompt builder to use ("default" = the dataset's own prompt, as VLMEvalKit); tasks define
    # which styles they know and reject others.
    prompt_style: str = "default"
    # Adapter-specific settings, checked against the adapter's ``ProtocolExtras`` at plan time; kept
    # as a mapping here because the card is read before its adapter class is known.
    extra: dict[str, Any] = Field(default_factory=dict)

    def common_extras(self) -> UnderstandExtras:
        """The ``extra`` keys every model takes (what tasks read); the rest are the adapter's."""
        return UnderstandExtras.model_validate(
            {k: v for k, v in self.extra.items() if k in UnderstandExtras.model_fields}
        )


class GenerateProtocol(StrictModel):
    """How a model makes images (generation and editing)."""

    images_per_prompt: int | None = Field(None, gt=0, description="None: the task's default")
    seed: int = Field(42, ge=0)
    steps: int | None = Field(None, gt=0)
    cfg: float | None = Field(None, ge=0.0)
    image_cfg: float | None = Field(None, ge=0.0)
    height: int | None = Field(None, gt=0)
    width: int | None = Field(None, gt=0)
    negative_prompt: str | None = None
    temperature: float | None = Field(None, ge=0.0)
    top_k: int | None = Field(None, gt=0)
    # as UnderstandProtocol.extra
    extra: dict[str, Any] = Field(default_factory=dict)


PROTOCOL_OF: dict[Capability, type[UnderstandProtocol] | type[GenerateProtocol]] = {
    Capability.UNDERSTAND: UnderstandProtocol,
    Capability.GENERATE: GenerateProtocol,
    Capability.EDIT: GenerateProtocol,
}


DEFAULT_EXTRAS: dict[Capability, type[StrictModel]] = {
    Capability.UNDERSTAND: UnderstandExtras,
    Capability.GENERATE: GenerateExtras,
    Capability.EDIT: GenerateExtras,
}


class ProtocolBlock(StrictModel):
    understand: UnderstandProtocol | None = None
    generate: GenerateProtocol | None = None
    edit: GenerateProtocol | None = None


Dtype = Literal["bfloat16", "float16", "float32", "auto"]


class ModelCard(StrictModel):
    """A model: the adapter class, the checkpoint, and the protocol for every benchmark."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    class_: str = Field(alias="class", description="'package.module:Class' or an entry-point alias")
    description: str = ""
    family: str = ""
    checkpoint: str | None = None
    revision: str | None = None
    dtype: Dtype = "bfloat16"
    capabilities: list[Capability]
    options: dict[str, Any] = Field(default_factory=dict)
    batch_size: dict[Capability, int] = Field(default_factory=dict)
    protocol: ProtocolBlock = Field(default_factory=ProtocolBlock)
    # Per-task overrides of the protocol, keyed by task name or glob ("mmbench*").
    tasks: dict[str, ProtocolBlock] = Field(default_factory=dict)
    paper_name: str | None = None

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, v: dict[Capability, int]) -> dict[Capability, int]:
        for cap, size in v.items():
            if size < 1:
                raise ValueError(f"batch_size.{cap.value} must be >= 1, got {size}")
        return v

    def protocol_for(self, task: str, capability: Capability) -> UnderstandProtocol | GenerateProtocol:
        """The protocol for ``task``: the card's defaults, then matching globs, then the exact name.

        Only keys a block sets explicitly override earlier ones.
        """
        key = capability.value
        merged: dict[str, Any] = {}
        base = getattr(self.protocol, key)
        if base is not None:
            merged.update(base.model_dump(exclude_unset=True))
        globs = [p for p in self.tasks if any(c in p for c in "*?[") and fnmatch.fnmatchcase(task, p)]
        exact = [task] if task in self.tasks else []
        for pattern in sorted(globs, key=len) + exact:
            block = getattr(self.tasks[pattern], key)
            if block is not None:
                for name, value in block.model_dump(exclude_unset=True).items():
                    if name == "extra" and isinstance(merged.get("extra"), dict):
                        merged["extra"] = {**merged["extra"], **value}
                    else:
                        merged[name] = value
        return PROTOCOL_OF[capability].model_validate(merged)

    def default_batch_size(self, capability: Capability) -> int:
        return self.batch_size.get(capability, 1)
