"""What the OpenCompass understanding tasks share: VLMEvalKit TSV data, prompts, judge settings.

Each benchmark is a card (``tasks/<name>.yaml``) naming one of the task classes in this package and
the VLMEvalKit dataset it reads (``options.dataset``; the data file is ``<dataset>.tsv``, pinned by
MD5 in the card). A user's VLMEvalKit data folder (``$LMUData``, default ``~/LMUData``) is searched
first, so nothing is downloaded twice.
"""

from __future__ import annotations

import logging
import os
import shutil
from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ming_eval.cards.schema import DataFile, UnderstandProtocol
from ming_eval.core.results import JUDGE_UNAVAILABLE, Prediction, SampleScore, Status
from ming_eval.core.sample import Capability, Sample, TextPart, UnderstandRequest
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.errors import DataError
from ming_eval.judge import JudgeClient, JudgeConfig
from ming_eval.store.imports import IMPORT_STATE, read_import_state
from ming_eval.store.jsonl import write_json_atomic
from ming_eval.tasks.vlm.imported import (
    MATCHING_CHANGED,
    PREDICTION,
    PredictionFile,
    dataset_in_name,
    read_prediction_file,
    run_date,
    sha256_of,
)
from ming_eval.tasks.vlm.kit_verdicts import (
    IMPORTED_VERDICTS,
    KitVerdicts,
    imported_scores,
    kit_notes,
    read_kit_verdicts,
)
from ming_eval.tasks.vlm.kit_verdicts import comparability as kit_comparability
from ming_eval.tasks.vlm.lmms import MATCHERS, lmms_task_of, match_log, read_lmms_log
from ming_eval.tasks.vlm.prompts import PROMPT_STYLES, Kind, build_content
from ming_eval.tasks.vlm.tsv import TsvTable, clean, na_strings

_REIMPORT = "import the file again into a new --out directory"

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles
    from ming_eval.store.run_store import TaskStore

log = logging.getLogger(__name__)

LMUDATA_ENV = "LMUData"

IMPORTED_PREFIX = "imported_predictions"
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


#: ``"vlmevalkit"`` scores every sample as VLMEvalKit does at the pinned commit, accidents included;
#: ``"fixed"`` corrects them (see :func:`scored_text` and each task's module docstring), which makes the
#: numbers incomparable with published ones
Quirks = Literal["vlmevalkit", "fixed"]
VLMEVALKIT_TEXT_OF_MISSING = "nan"


class VlmOptions(BaseModel):
    """Options every understanding task has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="VLMEvalKit dataset name; the data file is <dataset>.tsv")
    data_md5: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="accept a TSV with this MD5 in place of the card's (a regenerated or custom file)",
    )
    predictions_file: str | None = Field(
        None,
        description="set by `ming-eval score TASK --predictions FILE`: the samples and outputs come from this "
        "copy of a VLMEvalKit prediction file in the task's folder of the run, not from the TSV",
    )
    split: str | None = Field(
        None,
        description="only the TSV rows of this split (its `split` column); set when an lmms-eval log of one "
        "split is imported (MMMU: validation)",
    )
    verdicts_file: str | None = Field(
        None,
        description="set by `ming-eval score TASK --predictions FILE --verdicts JUDGE_FILE`: the verdicts of the "
        "samples this copy of VLMEvalKit's judge file covers are the kit's, not judged again",
    )
    quirks: Quirks = Field(
        "vlmevalkit",
        description="vlmevalkit: score each sample exactly as VLMEvalKit does (comparable with published "
        "numbers); fixed: correct its accidents (empty outputs are wrong without a judge call, MathVista "
        "credits an integer answer 0 when the output says 0); results are then marked not comparable",
    )

    @model_validator(mode="after")
    def _verdicts_of_a_file(self) -> VlmOptions:
        if self.verdicts_file and not self.predictions_file:
            raise ValueError(
                "verdicts_file is set by `ming-eval score TASK --predictions FILE --verdicts JUDGE_FILE`: the "
                "verdicts go with the imported prediction file they judged"
            )
        return self


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


def scored_text(pred: Prediction, quirks: Quirks) -> str:
    """The model's output as the scorer reads it.

    VLMEvalKit scores its prediction file (``.xlsx`` by default) read back with pandas, whose missing-value
    parsing turns an output such as ``""``, ``"None"``, ``"N/A"`` or ``"null"`` into NaN, which its
    scorers then see as the text ``"nan"`` (and may send to the judge). Under ``"vlmevalkit"`` this
    returns that text; under ``"fixed"`` the output unchanged.
    """
    text = output_text(pred)
    if quirks == "vlmevalkit" and text in na_strings():
        return VLMEVALKIT_TEXT_OF_MISSING
    return text


def is_blank(text: str, quirks: Quirks) -> bool:
    """An output decided without any judge: under ``"fixed"`` an empty or whitespace-only one (wrong);
    under ``"vlmevalkit"`` never, as VLMEvalKit sends such outputs through its usual matching and judge."""
    return quirks == "fixed" and not text.strip()


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

    def __init__(self, judge: Judge, prompt: P | None, quirks: Quirks = "vlmevalkit") -> None:
        super().__init__(judge.workers)
        self.judge = judge
        self.prompt = prompt
        self.quirks = quirks

    def close(self) -> None:
        self.judge.close()


class VlmTask(BaseTask):
    """An understanding task over a VLMEvalKit TSV."""

    capability: ClassVar[Capability] = Capability.UNDERSTAND
    Options: ClassVar[type[BaseModel]] = VlmOptions
    # ``matching`` is not among them: both rule sets are VLMEvalKit's own, and published numbers
    # were computed under either
    protocol_options: ClassVar[tuple[str, ...]] = ("quirks", "judge", "circular", "text_answers")
    needs_torch: ClassVar[bool] = False  # extraction and an HTTP judge
    prompt_styles: ClassVar[tuple[str, ...]] = PROMPT_STYLES
    kind: ClassVar[Kind] = "mcq"
    required_columns: ClassVar[tuple[str, ...]] = ("index", "question")
    unscored_options: ClassVar[tuple[str, ...]] = _TRANSPORT_OPTIONS

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

    #: (path, mtime, size) and the parse of the imported prediction file (see :meth:`_imported_file`)
    _imported: tuple[tuple[Path, int, int], PredictionFile] | None = None

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

    def load_table(self, ctx: TaskContext) -> TsvTable:
        path = ctx.data.path(self.data_file)
        roots = [d / "images" / image_folder_name(self.opts.dataset) for d in lmudata_dirs()]
        return TsvTable.load(path, required=self.required_columns, image_root=roots[0] if roots else None)

    def samples(self, ctx: TaskContext) -> list[Sample]:
        if self.opts.predictions_file:
            return self._file_samples(self._imported_file(ctx))
        table = self.load_table(ctx)
        if table.dropped_no_image:
            log.warning(
                "%s: %d rows have an empty image cell and are left out, as VLMEvalKit leaves them out",
                table.name,
                table.dropped_no_image,
            )
        protocol = ctx.protocol
        style = protocol.prompt_style if isinstance(protocol, UnderstandProtocol) else "default"
        extras = protocol.common_extras() if isinstance(protocol, UnderstandProtocol) else None
        kind, name, target_and_meta = self.kind, table.name, self.target_and_meta
        split = self.opts.split
        out: list[Sample] = []
        for i, row in enumerate(table.rows):
            if split is not None and not self._in_split(row):
                continue
            images = table.image_refs(i)
            source = f"{name} index {row.get('index')}"
            content = build_content(kind, style, row, images, source, extras)
            target, meta = target_and_meta(row, source)
            out.append(Sample(str(clean(row["index"])), UnderstandRequest(content), target=target, meta=meta))
        return out

    # -- VLMEvalKit prediction files -----------------------------------------------------------
    def prediction_import_options(self, source: Path, verdicts: Path | None = None) -> dict[str, Any]:
        if source.suffix.lower() == ".jsonl":  # an lmms-eval log: the samples stay the TSV's (of its split)
            if verdicts is not None:
                raise DataError(
                    f"--verdicts {verdicts}: VLMEvalKit's judge files go with VLMEvalKit prediction files, not "
                    f"with lmms-eval's log {source.name}"
                )
            matcher = MATCHERS.get(self.opts.dataset)
            return {"split": matcher.split} if matcher is not None and matcher.split else {}
        options: dict[str, Any] = {"predictions_file": IMPORTED_PREFIX + source.suffix.lower()}
        if verdicts is not None:
            options["verdicts_file"] = IMPORTED_VERDICTS + verdicts.suffix.lower()
        return options

    def _imported_file(self, ctx: TaskContext) -> PredictionFile:
        """The imported prediction file, parsed once per task while it is unchanged: a scoring pass asks
        for it from :meth:`samples`, :meth:`imported_scores` and :meth:`benchmark_rows`."""
        name = self.opts.predictions_file
        if ctx.work_dir is None or name is None:
            raise DataError(f"task {self.name}: option predictions_file needs the run's task folder")
        path = ctx.work_dir / name
        try:
            st = path.stat()
        except OSError:  # read_prediction_file names the missing file
            return read_prediction_file(path, self.required_columns)
        key = (path, st.st_mtime_ns, st.st_size)
        if self._imported is None or self._imported[0] != key:
            self._imported = (key, read_prediction_file(path, self.required_columns))
        return self._imported[1]

    def _file_samples(self, pf: PredictionFile) -> list[Sample]:
        out: list[Sample] = []
        for i, row in enumerate(pf.rows):
            source = pf.where(i)
            try:
                target, meta = self.target_and_meta(row, source)
            except DataError as exc:  # the hint of a damaged TSV does not fit a prediction file
                raise DataError(
                    exc.message, hint="the file is not as VLMEvalKit wrote it; pass the original prediction file"
                ) from exc
            # the model already answered: the request only shows the question (the images are not in the file)
            request = UnderstandRequest((TextPart(str(row["question"])),))
            out.append(Sample(str(clean(row["index"])), request, target=target, meta=meta))
        return out

    def import_predictions(
        self,
        source: Path,
        ctx: TaskContext,
        store: TaskStore,
        *,
        allow_incomplete: bool = False,
        verdicts: Path | None = None,
    ) -> int:
        """Record the answers of a VLMEvalKit prediction file as this task's outputs; the file is copied
        into the task's folder (``predictions_file``), where :meth:`samples` reads it from then on. With
        ``verdicts`` (VLMEvalKit's judge file for it), that file is checked against it and copied too
        (``verdicts_file``): its verdicts become the scores of the samples it covers."""
        from ming_eval.registry import list_task_cards

        if source.suffix.lower() == ".jsonl":
            return self._import_lmms_log(source, ctx, store, allow_incomplete=allow_incomplete)
        pf = read_prediction_file(source, self.required_columns)
        datasets = {str(c.options["dataset"]): c.name for c in list_task_cards() if "dataset" in c.options}
        named = dataset_in_name(source, list(datasets))
        if named is not None and named != self.opts.dataset:
            raise DataError(
                f"{source} is VLMEvalKit's prediction file for dataset {named}, not {self.opts.dataset} "
                f"(task {self.name})",
                hint=f"score it as task {datasets[named]}: ming-eval score {datasets[named]} --predictions {source}",
            )
        samples = self._file_samples(pf)
        checked = self._crosscheck_tsv(pf, samples, ctx, allow_incomplete=allow_incomplete)
        kit = None if verdicts is None else self._read_verdicts(verdicts, pf)
        digest = sha256_of(source)
        state = {"source": str(source.resolve()), "sha256": digest, "format": "vlmevalkit", "rows": len(samples)}
        state_path = store.dir / IMPORT_STATE
        old = read_import_state(store.dir, hint=_REIMPORT)
        if old is not None and old.get("sha256") != digest:
            raise DataError(
                f"{store.dir} already holds scores of another prediction file ({old.get('source')})",
                hint="pass a new --out directory (the existing scores are left untouched)",
            )
        kept = (old or {}).get("verdicts")
        verdicts_digest = None if verdicts is None else sha256_of(verdicts)
        if kept and verdicts_digest is not None and kept.get("sha256") != verdicts_digest:
            raise DataError(
                f"{store.dir} already holds the verdicts of another VLMEvalKit file ({kept.get('source')})",
                hint="pass a new --out directory (the existing scores are left untouched)",
            )
        assert self.opts.predictions_file is not None
        store.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, store.dir / self.opts.predictions_file)
        if kit is not None and verdicts is not None:
            assert self.opts.verdicts_file is not None
            shutil.copyfile(verdicts, store.dir / self.opts.verdicts_file)
            state["verdicts"] = {
                "source": str(verdicts.resolve()),
                "sha256": verdicts_digest,
                "judge": kit.judge,
                "rows": len(kit.verdicts),
                "decided_by": kit.decided_by(),
            }
        writer = store.record_writer(0)
        try:
            for sample, text in zip(samples, pf.predictions, strict=True):
                writer.write(Prediction(sample.id, Status.OK, output=text).to_record())
        finally:
            writer.close()
        write_json_atomic(state_path, {**state, "tsv": checked, "vlmevalkit_run_date": run_date(source)})
        return len(samples)

    def _read_verdicts(self, path: Path, pf: PredictionFile, shown_as: Path | None = None) -> KitVerdicts:
        from ming_eval.tasks.vlm.vlmevalkit_check import family_of

        return read_kit_verdicts(
            path,
            family_of(self),
            self.opts.dataset,
            pf,
            circular=bool(getattr(self, "circular", False)),
            rules=getattr(self.options, "matching", "current"),
            shown_as=shown_as,
        )

    def imported_scores(self, ctx: TaskContext) -> dict[str, SampleScore]:
        """The verdicts of VLMEvalKit's judge file (``verdicts_file``) for the samples it covers."""
        name = self.opts.verdicts_file
        if not name or ctx.work_dir is None:
            return {}
        state = read_import_state(ctx.work_dir, hint=_REIMPORT) or {}
        source = (state.get("verdicts") or {}).get("source")
        kit = self._read_verdicts(ctx.work_dir / name, self._imported_file(ctx), Path(source) if source else None)
        return imported_scores(kit, ctx.samples)

    def comparability(self, ctx: TaskContext | None = None) -> list[str]:
        reasons = super().comparability(ctx)
        state = read_import_state(ctx.work_dir, hint=_REIMPORT) if ctx is not None else None
        if (state or {}).get("format") == "lmms-eval":
            # the answers were made with lmms-eval's prompts and generation settings, not VLMEvalKit's
            reasons.append(
                f"answers from lmms-eval's task {(state or {}).get('lmms_task')} (its prompts, not VLMEvalKit's)"
            )
        kit = (state or {}).get("verdicts") if self.opts.verdicts_file else None
        if kit:
            from ming_eval.registry import validate_options

            card = validate_options(type(self), dict(self.card.options), f"task card {self.card.source or self.name}")
            reasons += kit_comparability(
                kit.get("judge"),
                kit.get("decided_by") or {},
                Path(str(kit.get("source"))).name,
                getattr(card, "judge", None),
            )
        return reasons

    def _import_lmms_log(self, source: Path, ctx: TaskContext, store: TaskStore, *, allow_incomplete: bool) -> int:
        """Record the answers of an lmms-eval ``--log_samples`` file; each line is matched with its row
        of the benchmark TSV (see :mod:`ming_eval.tasks.vlm.lmms`), which is therefore needed."""
        from ming_eval.registry import list_task_cards

        matcher = MATCHERS.get(self.opts.dataset)
        if matcher is None:
            raise DataError(
                f"{source}: lmms-eval logs can be imported for {', '.join(sorted(MATCHERS))}, not for "
                f"task {self.name} (dataset {self.opts.dataset})"
            )
        logged_task = lmms_task_of(source)
        if logged_task is not None and logged_task not in matcher.tasks:
            ours = {
                str(c.options["dataset"]): c.name for c in list_task_cards() if c.options.get("dataset") in MATCHERS
            }
            other = next((d for d, m in MATCHERS.items() if logged_task in m.tasks), None)
            raise DataError(
                f"{source} is lmms-eval's log of task {logged_task}, not of {' or '.join(matcher.tasks)} "
                f"(task {self.name})",
                hint=f"score it as task {ours[other]}" if other in ours else None,
            )
        path = ctx.data.locate(self.data_file)
        if path is None or not path.is_file():
            raise DataError(
                f"{source}: an lmms-eval log names no VLMEvalKit row, so importing it needs {self.data_file}, "
                "which is not here",
                hint=f"put it in $LMUData, pass --data {self.data_file}=PATH, or run `ming-eval data download "
                f"{self.name}`",
            )
        logged = read_lmms_log(source)
        rows = self.benchmark_rows(ctx)
        indices = match_log(matcher, logged, rows, self.data_file)
        absent = sorted({str(clean(r["index"])) for r in rows} - set(indices))
        if absent and not allow_incomplete:
            raise DataError(
                f"{source}: {len(absent)} of the {len(rows)} samples of {self.data_file} are not in the log "
                f"(e.g. {', '.join(absent[:5])})",
                hint="pass the whole log, or --allow-incomplete to score what it has (then not comparable)",
            )
        state_path = store.dir / IMPORT_STATE
        digest = sha256_of(source)
        old = read_import_state(store.dir, hint=_REIMPORT)
        if old is not None and old.get("sha256") != digest:
            what = (
                f"{source} as it was before (it changed since)"
                if old.get("source") == str(source.resolve())
                else f"another imported file ({old.get('source')})"
            )
            raise DataError(
                f"{store.dir} already holds scores of {what}",
                hint="pass a new --out directory (the existing scores are left untouched)",
            )
        store.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, store.dir / "imported_lmms_samples.jsonl")
        writer = store.record_writer(0)
        try:
            for index, item in zip(indices, logged, strict=True):
                writer.write(Prediction(index, Status.OK, output=item.text).to_record())
        finally:
            writer.close()
        state = {"source": str(source.resolve()), "sha256": digest, "format": "lmms-eval", "rows": len(logged)}
        write_json_atomic(state_path, {**state, "lmms_task": logged_task, "tsv": str(path)})
        return len(logged)

    def _crosscheck_tsv(
        self, pf: PredictionFile, samples: list[Sample], ctx: TaskContext, *, allow_incomplete: bool
    ) -> str | None:
        """Compare the file with the benchmark TSV when one is at hand (ids and answers); the TSV's
        path, or None when there is none."""
        path = ctx.data.locate(self.data_file)
        if path is None or not path.is_file():
            return None
        expected = {s.id: s for s in VlmTask.samples(self.with_options(predictions_file=None), ctx)}
        for i, sample in enumerate(samples):
            ref = expected.get(sample.id)
            if ref is None:
                raise DataError(
                    f"{pf.where(i)}: no row of {path} has this index",
                    hint=f"the file was made for another dataset or version than {self.opts.dataset}",
                )
            if ref.target != sample.target:
                raise DataError(
                    f"{pf.where(i)}: the answer {sample.target!r} differs from {ref.target!r} in {path}",
                    hint=f"the file was made from another version of {self.opts.dataset}; pass that TSV with "
                    f"--data {self.data_file}=PATH",
                )
        absent = sorted(set(expected) - {s.id for s in samples})
        if absent and not allow_incomplete:
            shown = ", ".join(absent[:10]) + (" ..." if len(absent) > 10 else "")
            raise DataError(
                f"{pf.path}: {len(absent)} of the {len(expected)} rows of {path} have no prediction: {shown}",
                hint="pass the whole prediction file, or --allow-incomplete to score the rows it has "
                "(the result is then marked not comparable)",
            )
        return str(path)

    def benchmark_rows(self, ctx: TaskContext) -> list[dict[str, Any]]:
        """The benchmark's rows without images, as VLMEvalKit reads them: from the imported prediction
        file, else from the TSV."""
        if self.opts.predictions_file:
            pf = self._imported_file(ctx)
            return [{k: v for k, v in row.items() if k != PREDICTION} for row in pf.rows]
        return [row for row in self.load_table(ctx).rows if self._in_split(row)]

    def _in_split(self, row: dict[str, Any]) -> bool:
        return self.opts.split is None or clean(row.get("split")) == self.opts.split

    def with_options(self, **changes: Any) -> VlmTask:
        return type(self)(self.card, self.options.model_copy(update=changes))

    def source_notes(self, ctx: TaskContext) -> list[str]:
        state = read_import_state(ctx.work_dir, hint=_REIMPORT)
        if state is None:
            return []
        if state.get("format") == "lmms-eval":
            notes = [f"predictions imported from lmms-eval's log {state.get('source')} ({state.get('rows')} samples)"]
            if self.opts.split:
                notes.append(f"only the {self.opts.split} rows of {self.data_file}: the lmms-eval task holds no others")
            return notes
        if not self.opts.predictions_file:
            return []
        notes = [f"predictions imported from VLMEvalKit's file {state.get('source')} ({state.get('rows')} rows)"]
        kit = state.get("verdicts") if self.opts.verdicts_file else None
        if kit:
            notes.append(kit_notes(kit, int(state.get("rows") or 0)))
        if not state.get("tsv"):
            notes.append(
                f"not cross-checked with {self.data_file} (not found locally): the questions and answers are "
                "the prediction file's"
            )
        date = state.get("vlmevalkit_run_date")
        matching = getattr(self.options, "matching", None)
        if isinstance(date, str) and date < MATCHING_CHANGED and matching == "current":
            notes.append(
                f"the file comes from a VLMEvalKit run of {date}, before its answer extraction changed "
                f"(2025-08-04); -o {self.name}.matching=v0.2 reproduces the scores of that version"
            )
        return notes

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
