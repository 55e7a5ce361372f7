"""What the OpenCompass understanding tasks share: VLMEvalKit TSV data, prompts, judge settings.

Each benchmark is a card (``tasks/<name>.yaml``) naming one of the task classes in this package and
the VLMEvalKit dataset it reads (``options.dataset``; the data file is ``<dataset>.tsv``, pinned by
MD5 in the card). A user's VLMEvalKit data folder (``$LMUData``, default ``~/LMUData``) is searched
first, so nothing is downloaded twice.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ming_eval.cards.schema import DataFile, UnderstandProtocol
from ming_eval.core.results import JUDGE_UNAVAILABLE, Prediction, SampleScore
from ming_eval.core.sample import Capability, Sample, UnderstandRequest
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.errors import DataError
from ming_eval.judge import JudgeClient, JudgeConfig
from ming_eval.tasks.vlm.prompts import PROMPT_STYLES, Kind, build_content
from ming_eval.tasks.vlm.tsv import TsvTable, clean

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles

LMUDATA_ENV = "LMUData"
EXACT_MATCHING = "exact_matching"
# options that change how the judge is reached, not what it answers: kept out of the scoring fingerprint
_TRANSPORT_OPTIONS = (
    "judge_base_url",
    "judge_api_key_env",
    "judge_timeout_s",
    "judge_retries",
    "judge_workers",
    "judge_cache_dir",
)


def lmudata_dirs() -> list[Path]:
    """VLMEvalKit's data folder: ``$LMUData`` if it exists, else ``~/LMUData`` if it exists."""
    env = os.environ.get(LMUDATA_ENV)
    if env and Path(env).expanduser().is_dir():
        return [Path(env).expanduser()]
    home = Path("~/LMUData").expanduser()
    return [home] if home.is_dir() else []


def image_folder_name(dataset: str) -> str:
    """VLMEvalKit's image folder under ``LMUData/images`` (MMBench variants share one)."""
    if dataset.startswith("MMBench_") and dataset.endswith("_V11"):
        return "MMBench_V11"
    if dataset.startswith("MMBench"):
        return "MMBench"
    return dataset


class VlmOptions(BaseModel):
    """Options every understanding task has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="VLMEvalKit dataset name; the data file is <dataset>.tsv")
    data_md5: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="accept a TSV with this MD5 in place of the card's (a regenerated or custom file)",
    )


class JudgedOptions(VlmOptions):
    """Options of tasks that may ask an LLM judge. ``judge: null`` turns the judge off: samples that
    need it are reported as ``judge_unavailable``."""

    judge: str | None = "gpt-4o-mini"
    judge_base_url: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    judge_timeout_s: float = Field(120.0, gt=0)
    judge_retries: int = Field(6, ge=0)
    judge_workers: int = Field(8, ge=1)
    judge_cache_dir: str | None = None


class LlmJudgedOptions(JudgedOptions):
    """For tasks that cannot be scored without an LLM (VLMEvalKit refuses ``exact_matching`` there)."""

    @field_validator("judge")
    @classmethod
    def _needs_llm(cls, value: str | None) -> str | None:
        if value == EXACT_MATCHING:
            raise ValueError(
                "this task needs an LLM judge; exact_matching only applies to multiple-choice and yes/no tasks"
            )
        return value


@dataclass
class Judge:
    """The judge a scorer may use: a client (asked from ``workers`` threads), VLMEvalKit's
    ``exact_matching`` policy (no LLM; what the heuristics cannot match is wrong), or nothing, with the
    reason."""

    client: JudgeClient | None
    exact: bool = False
    missing: str = ""
    workers: int = 1

    @classmethod
    def open(cls, options: JudgedOptions, task: str) -> Judge:
        if options.judge is None:
            return cls(None, missing=f"the judge is turned off (options.judge is null for task {task})")
        if options.judge == EXACT_MATCHING:  # validated options of LlmJudgedOptions never hold it
            return cls(None, exact=True)
        config = JudgeConfig.from_env(
            options.judge,
            base_url=options.judge_base_url,
            api_key_env=options.judge_api_key_env,
            timeout_s=options.judge_timeout_s,
            max_retries=options.judge_retries,
            cache_dir=Path(options.judge_cache_dir).expanduser() if options.judge_cache_dir else None,
        )
        if config is None:
            fallback = "" if isinstance(options, LlmJudgedOptions) else f" or -o {task}.judge=exact_matching"
            return cls(
                None,
                missing=(
                    f"no judge configured: set {options.judge_api_key_env} (and OPENAI_BASE_URL for a local "
                    f"OpenAI-compatible server){fallback}"
                ),
            )
        return cls(JudgeClient(config), workers=options.judge_workers)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


P = TypeVar("P")
T = TypeVar("T")


def ask_judge(
    client: JudgeClient,
    prompt: str,
    parse: Callable[[str], T | None],
    replies: list[str],
    *,
    tries: int,
    max_tokens: int,
    rising_temperature: bool,
) -> T | None:
    """Ask until ``parse`` reads a reply; None after ``tries`` replies it cannot read.

    As VLMEvalKit asks again: at temperature 0, 0.5, 1.0, ... with ``rising_temperature``, else at 0
    with the attempt number in the cache key. Every reply is appended to ``replies``;
    :class:`JudgeUnavailableError` goes up to the caller.
    """
    for attempt in range(tries):
        if rising_temperature:
            reply = client.complete(prompt, temperature=0.5 * attempt, max_tokens=max_tokens)
        else:
            reply = client.complete(prompt, temperature=0.0, max_tokens=max_tokens, attempt=attempt)
        replies.append(reply)
        parsed = parse(reply)
        if parsed is not None:
            return parsed
    return None


def judge_unavailable(sample: Sample, reason: str, **details: Any) -> SampleScore:
    return SampleScore(sample.id, 0.0, correct=None, status=JUDGE_UNAVAILABLE, reason=reason, details=details)


def output_text(pred: Prediction) -> str:
    return "" if pred.output is None else str(pred.output)


class PooledScorer(Scorer):
    """Scores a batch with a pool of threads, so judge calls overlap."""

    batch_size = 64

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    @abstractmethod
    def score_one(self, sample: Sample, pred: Prediction) -> SampleScore: ...

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        if self.workers <= 1 or len(batch) <= 1:
            return [self.score_one(s, p) for s, p in batch]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(batch))) as pool:
            return list(pool.map(lambda item: self.score_one(*item), batch))


class JudgedScorer(PooledScorer, Generic[P]):
    """A scorer that may ask ``judge`` with ``prompt`` (None unless an LLM judge will be asked)."""

    def __init__(self, judge: Judge, prompt: P | None) -> None:
        super().__init__(judge.workers)
        self.judge = judge
        self.prompt = prompt

    def close(self) -> None:
        self.judge.close()


class VlmTask(BaseTask):
    """An understanding task over a VLMEvalKit TSV."""

    capability: ClassVar[Capability] = Capability.UNDERSTAND
    Options: ClassVar[type[BaseModel]] = VlmOptions
    needs_torch: ClassVar[bool] = False  # extraction and an HTTP judge
    prompt_styles: ClassVar[tuple[str, ...]] = PROMPT_STYLES
    kind: ClassVar[Kind] = "mcq"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question")

    def headline(self) -> Statistic:
        return Mean(scale=100.0)

    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        """The sample's labels in the breakdown tables (the same names ``report.breakdowns`` uses)."""
        from ming_eval.tasks.vlm.report import BREAKDOWN_COLUMNS, MMBENCH_ABILITIES

        out = {}
        for column in BREAKDOWN_COLUMNS:
            label = sample.meta.get(column)
            if label is not None:
                out[column] = MMBENCH_ABILITIES.get(str(label), str(label)) if column == "l2-category" else str(label)
        return out

    @property
    def opts(self) -> VlmOptions:
        assert isinstance(self.options, VlmOptions)
        return self.options

    @property
    def data_file(self) -> str:
        return f"{self.opts.dataset}.tsv"

    def data_files(self) -> list[DataFile]:
        files = list(self.card.data)
        if self.opts.data_md5:
            files = [
                f.model_copy(update={"md5": self.opts.data_md5, "sha256": None}) if f.name == self.data_file else f
                for f in files
            ]
        return files

    def data_search_dirs(self) -> list[Path]:
        return lmudata_dirs()

    def scoring_fingerprint(self) -> dict[str, Any]:
        fingerprint = super().scoring_fingerprint()
        fingerprint["options"] = {k: v for k, v in fingerprint["options"].items() if k not in _TRANSPORT_OPTIONS}
        return fingerprint

    def load_table(self, ctx: TaskContext) -> TsvTable:
        path = ctx.data.path(self.data_file)
        roots = [d / "images" / image_folder_name(self.opts.dataset) for d in lmudata_dirs()]
        return TsvTable.load(path, required=self.required_columns, image_root=roots[0] if roots else None)

    def samples(self, ctx: TaskContext) -> list[Sample]:
        table = self.load_table(ctx)
        protocol = ctx.protocol
        style = protocol.prompt_style if isinstance(protocol, UnderstandProtocol) else "default"
        extras = protocol.common_extras() if isinstance(protocol, UnderstandProtocol) else None
        out: list[Sample] = []
        for i, row in enumerate(table.rows):
            images = table.image_refs(i)
            source = f"{table.path.name} index {row.get('index')}"
            content = build_content(self.kind, style, row, images, source, extras)
            target, meta = self.target_and_meta(row, source)
            out.append(Sample(str(clean(row["index"])), UnderstandRequest(content), target=target, meta=meta))
        return out

    @abstractmethod
    def target_and_meta(self, row: dict[str, Any], source: str) -> tuple[Any, dict[str, Any]]:
        """The scorer's target and the metadata kept for scoring and breakdowns."""

    def open_judge(self, ctx: TaskContext, load_prompt: Callable[[DataFiles], P]) -> tuple[Judge, P | None]:
        """The judge the options name, and its prompt, read only when an LLM judge will be asked: runs
        without one need no prompt source. If it cannot be read, the judge is closed and the error goes
        up (the scorer is not built)."""
        assert isinstance(self.options, JudgedOptions)
        judge = Judge.open(self.options, self.name)
        if judge.client is None:
            return judge, None
        try:
            return judge, load_prompt(ctx.data)
        except BaseException:
            judge.close()
            raise


def require(row: dict[str, Any], column: str, source: str, convert: Callable[[Any], Any] = clean) -> Any:
    """A row value that must be present (a clear error naming the row otherwise)."""
    value = clean(row.get(column))
    if value is None:
        raise DataError(f"{source}: the {column!r} cell is empty", hint="the TSV is damaged; re-download it")
    return convert(value)
