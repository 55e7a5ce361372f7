"""GEdit-Bench (Step1X-Edit, arXiv 2504.17761): instruction editing judged by VIEScore.

Each sample is one row of the dataset in the task's language (``en``: ``gedit_bench``, ``cn``:
``gedit_bench_cn``): its source image and instruction go to the model's ``edit``. The edited image is
written where upstream's scripts read it, ``fullset/<task_type>/<language>/<key>.png`` under the
task's image folder, with the source beside it as ``<key>_SRCIMG.png``, so the folder is a method
folder of upstream's ``test_gedit_score.py``; ``ming-eval score gedit_bench --images DIR`` scores such
a folder made by any tool.

Scoring (upstream's ``test_gedit_score.py`` + ``viescore``): the edited image, resized to its source's
size, is shown to the judge twice: with the source for semantic consistency (SC, the lower of the
editing-success and over-editing scores) and alone for perceptual quality (PQ, the lower of naturalness
and artifacts); O = sqrt(SC x PQ). A reply upstream cannot read is asked again (both questions, as
upstream does); where upstream would then draw a random score, the sample is recorded as
``judge_unparsed`` with the replies (scores 0, counted). Aggregation (``calculate_statistics.py``):
per task type the mean of SC, PQ and O; overall the unweighted mean of the eleven task-type means; the
same over the ``intersection`` subset (rows with ``Intersection_exist``). The judge is part of the
protocol: it is named in the results and in every note.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ming_eval.core.results import JUDGE_UNAVAILABLE, Metric, Prediction, SampleScore, Status, TaskResult
from ming_eval.core.sample import Capability, EditRequest, ImagePart, ImageRef, Sample, TextPart, UnderstandRequest
from ming_eval.core.statistic import MeanOfMeans, Statistic
from ming_eval.core.task import BaseTask, Prerequisite, Scorer, TaskContext
from ming_eval.errors import DataError, MingEvalError
from ming_eval.graders.base import DecodeSettings, EndpointSpec, Grader, GraderReply, GraderSpec, parse_spec
from ming_eval.tasks.gedit.data import GROUPS, local_snapshot, read_rows, snapshot, snapshot_commit
from ming_eval.tasks.gedit.viescore import PROMPTS_SOURCE, Verdict, VieScorePrompts, judge_pair, read_reply
from ming_eval.tasks.vlm.protocol_source import PythonSource

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles
    from ming_eval.store.run_store import TaskStore

JUDGE_UNPARSED = "judge_unparsed"
SOURCE_SUFFIX = "_SRCIMG.png"


@dataclass(frozen=True)
class JudgePreset:
    """How one of upstream's VIEScore backbones asks: the served model, the order of prompt and
    images, the image encoding and the decoding."""

    model: str
    image_order: Literal["text_first", "images_first"]
    image_format: Literal["png", "jpeg"]
    jpeg_quality: int
    max_tokens: int
    temperature: float


#: upstream's two backbones. ``gpt-4.1`` (its ``gpt4o`` backbone, mllm_tools/openai.py): the prompt
#: then the images, each an RGB JPEG as Pillow writes it by default (quality 75, no resize),
#: max_tokens 1400 at the API's default temperature (1.0). ``qwen2.5-vl-72b`` (qwen25vl_eval.py, the
#: AWQ checkpoint): the images (PNG) then the prompt, 512 new tokens, greedy (do_sample False, so
#: its temperature 0.1 is not used): temperature 0 on an endpoint.
JUDGE_PRESETS: dict[str, JudgePreset] = {
    "gpt-4.1": JudgePreset("gpt-4.1", "text_first", "jpeg", 75, 1400, 1.0),
    "qwen2.5-vl-72b": JudgePreset("Qwen2.5-VL-72B-Instruct-AWQ", "images_first", "png", 95, 512, 0.0),
}


class GEditOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ``en`` (gedit_bench) or ``cn`` (gedit_bench_cn): the rows whose instruction_language it is
    language: Literal["en", "cn"] = "en"
    dataset: str = "stepfun-ai/GEdit-Bench"
    #: the dataset's revision on the Hugging Face hub: a branch (``main``) or a commit sha to pin; the
    #: commit it resolved to is recorded in the results (info ``dataset_commit``) and the notes
    revision: str = "main"
    #: a folder holding the dataset's parquet files, instead of the hub download
    parquet_dir: Path | None = None
    #: which of upstream's backbones the judge follows (see :data:`JUDGE_PRESETS`): it gives the
    #: defaults of ``judge``, ``image_order``, ``max_tokens``, ``temperature`` and the judge's image
    #: encoding; an option set explicitly wins
    judge_preset: Literal["gpt-4.1", "qwen2.5-vl-72b"] = "gpt-4.1"
    #: the judge (a grader spec); default the preset's served model behind ``$OPENAI_BASE_URL``, e.g.
    #: ``{"model": "Qwen2.5-VL-72B-Instruct-AWQ", "base_url": "http://host:8000/v1"}``
    judge: str | dict[str, Any] | None = None
    image_order: Literal["text_first", "images_first"] = "text_first"
    max_tokens: int = Field(1400, ge=1)
    temperature: float = Field(1.0, ge=0)
    #: how many times both questions are asked before a sample is recorded as unparsed (upstream
    #: guesses on its second ask and asks without end while the JSON it finds cannot be read)
    max_asks: int = Field(3, ge=2)

    @model_validator(mode="after")
    def _apply_preset(self) -> GEditOptions:
        preset = self.preset
        if self.judge is None:
            self.judge = {"model": preset.model}
        for name in ("image_order", "max_tokens", "temperature"):
            if name not in self.model_fields_set:
                setattr(self, name, getattr(preset, name))
        return self

    @property
    def preset(self) -> JudgePreset:
        return JUDGE_PRESETS[self.judge_preset]

    def judge_spec(self, where: str) -> GraderSpec:
        """The judge's spec; an endpoint that sets no image encoding gets the preset's."""
        assert self.judge is not None
        spec = parse_spec(self.judge, where)
        if isinstance(spec, EndpointSpec) and "image_format" not in spec.model_fields_set:
            p = self.preset
            spec = spec.model_copy(update={"image_format": p.image_format, "jpeg_quality": p.jpeg_quality})
        return spec


class GEditTask(BaseTask):
    capability = Capability.EDIT
    Options = GEditOptions
    scoring_version = "1"

    @property
    def opts(self) -> GEditOptions:
        assert isinstance(self.options, GEditOptions)
        return self.options

    # -- samples ------------------------------------------------------------------------------
    def samples(self, ctx: TaskContext) -> list[Sample]:
        o = self.opts
        folder = o.parquet_dir or snapshot(o.dataset, o.revision, ctx.data.cache_dir, self.name)
        commit = snapshot_commit(folder) if o.parquet_dir is None else None
        out: list[Sample] = []
        seen: dict[str, str] = {}
        for row in read_rows(folder, self.name):
            if row.language != o.language:
                continue
            if row.task_type not in GROUPS:
                raise DataError(
                    f"task {self.name}: {row.source} has the task type {row.task_type!r}, not one of GEdit-Bench's "
                    f"eleven ({', '.join(GROUPS)})"
                )
            if row.key in seen:
                raise DataError(f"task {self.name}: key {row.key} appears twice ({seen[row.key]}, {row.source})")
            seen[row.key] = row.source
            image = ImageRef.from_bytes(row.image, f"{row.source} (key {row.key}) input_image")
            meta = {
                "task_type": row.task_type,
                "intersection": row.intersection,
                "language": row.language,
                "dataset_commit": commit,
            }
            out.append(Sample(row.key, EditRequest(image, row.instruction), meta=meta))
        if not out:
            raise DataError(f"task {self.name}: no row of {folder} has instruction_language {o.language!r}")
        return out

    def sample_sources(self, data: DataFiles) -> list[Path]:
        """The parquet files the samples are read from: ``parquet_dir``'s, or those of the card's
        revision in the cache (a download that moves it to another commit is another folder)."""
        o = self.opts
        if o.parquet_dir is not None:
            folder: Path | None = Path(o.parquet_dir)
        else:
            folder = local_snapshot(o.dataset, o.revision, data.cache_dir)
        return sorted(folder.rglob("*.parquet")) if folder is not None and folder.is_dir() else []

    def prefetch(self, data: DataFiles) -> list[str]:
        """Download the dataset's parquet files at the card's revision into the cache."""
        o = self.opts
        if o.parquet_dir is not None:
            return []
        folder = snapshot(o.dataset, o.revision, data.cache_dir, self.name)
        return [f"{o.dataset}@{o.revision} (commit {snapshot_commit(folder) or 'unknown'}) -> {folder}"]

    def prerequisites(self) -> list[Prerequisite]:
        from ming_eval.data.files import cache_root

        o = self.opts
        if o.parquet_dir is not None:
            where = str(o.parquet_dir) if Path(o.parquet_dir).is_dir() else None
            dataset = Prerequisite(f"dataset {o.parquet_dir}", where, f"-o {self.name}.parquet_dir=DIR")
        else:
            folder = local_snapshot(o.dataset, o.revision, cache_root() / "data" / self.name)
            where = None if folder is None else str(folder)
            dataset = Prerequisite(f"dataset {o.dataset}@{o.revision}", where, f"ming-eval data download {self.name}")
        return [dataset, *super().prerequisites()]

    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        return {"task_type": str(sample.meta["task_type"])}

    def sample_groups(self, sample: Sample) -> dict[str, str]:
        return {"intersection": "yes" if sample.meta["intersection"] else "no"}

    def headline(self) -> Statistic:
        return MeanOfMeans(by="task_type")

    # -- outputs: upstream's layout -----------------------------------------------------------
    def _folder(self, sample: Sample) -> str:
        return f"fullset/{sample.meta['task_type']}/{sample.meta['language']}"

    def image_relpath(self, sample: Sample, index: int) -> str:
        if index != 0:
            raise MingEvalError(f"task {self.name} takes one edited image per sample (sample {sample.id})")
        return f"{self._folder(sample)}/{sample.id}.png"

    def prepare_outputs(self, sample: Sample, images_root: Path) -> None:
        """Write the source image beside the edit, as ``<key>_SRCIMG.png`` (upstream's layout)."""
        assert isinstance(sample.request, EditRequest)
        path = images_root / self._folder(sample) / f"{sample.id}{SOURCE_SUFFIX}"
        if path.is_file():
            return
        try:
            source = sample.request.image.load()
        except DataError:
            return  # the edit fails on the same image and is recorded (and counted) with this message
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        source.save(tmp, format="PNG")
        tmp.replace(path)

    def import_outputs(
        self, source: Path, samples: Sequence[Sample], store: TaskStore, *, allow_incomplete: bool = False
    ) -> int:
        """Record the edits of a folder in upstream's layout (``fullset/<type>/<lang>/<key>.png``)."""
        root = source / "fullset"
        if not root.is_dir():
            raise DataError(
                f"{source} has no fullset/ folder: not a GEdit-Bench method folder",
                hint="pass the folder that holds fullset/<task_type>/<language>/<key>.png",
            )
        present: list[tuple[Sample, Path]] = []
        missing: list[str] = []
        for sample in samples:
            rel = self.image_relpath(sample, 0)
            if (source / rel).is_file():
                present.append((sample, source / rel))
            else:
                missing.append(rel)
        if missing and not allow_incomplete:
            raise DataError(
                f"{source}: {len(missing)} of {len(samples)} edited images are missing (e.g. {missing[0]})",
                hint="edit them first, or pass --allow-incomplete to score what is there (not comparable)",
            )
        writer = store.record_writer(0)
        try:
            for sample, path in present:
                writer.write(Prediction(sample.id, Status.OK, output=[str(path)]).to_record())
        finally:
            writer.close()
        return len(present)

    # -- scoring ------------------------------------------------------------------------------
    def prompts(self, ctx: TaskContext) -> VieScorePrompts:
        spec = ctx.data.spec(PROMPTS_SOURCE)
        try:
            path = ctx.data.path(PROMPTS_SOURCE)
        except DataError as exc:
            raise DataError(
                f"task {self.name} reads its judge prompts from Step1X-Edit's {PROMPTS_SOURCE}, which is not "
                f"available: {exc.message}",
                hint=f"run `ming-eval data download {self.name}` on a machine with internet and copy the cache "
                f"({ctx.data.cache_dir}) here, or pass --data {PROMPTS_SOURCE}=PATH",
            ) from exc
        return VieScorePrompts.read(PythonSource(path, spec.url or str(path)))

    def grader_specs(self) -> list[Any]:
        return [] if self.opts.judge is None else [self.opts.judge]

    def scorer(self, ctx: TaskContext) -> Scorer:
        o = self.opts
        where = f"task {self.name} option judge"
        grader = ctx.graders.get(o.judge_spec(where), where=where)
        settings = DecodeSettings(max_tokens=o.max_tokens, temperature=o.temperature)
        return GEditScorer(self.prompts(ctx), grader, settings, o.image_order, o.max_asks)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        judge = _judge_name(scores) or str(self.opts.judge)
        metrics: dict[str, Metric] = {"overall": self.headline_metric(samples, scores)}
        keys = {"task_type": np.asarray([s.meta["task_type"] for s in samples], dtype=object)}
        mean_of_means = MeanOfMeans(by="task_type")
        from ming_eval.stats.headline import headline_metric

        def column(name: str, subset: Sequence[int]) -> list[float]:
            return [float(scores[i].details.get(name, 0.0)) if scores[i].status == "ok" else 0.0 for i in subset]

        every = list(range(len(samples)))
        inter = [i for i, s in enumerate(samples) if s.meta["intersection"]]
        for name in ("sc", "pq"):
            metrics[name] = headline_metric(mean_of_means, column(name, every), keys)
        if inter:
            sub_keys = {"task_type": keys["task_type"][inter]}
            for name in ("o", "sc", "pq"):
                label = "intersection_overall" if name == "o" else f"intersection_{name}"
                metrics[label] = headline_metric(mean_of_means, column(name, inter), sub_keys)
        breakdowns: dict[str, dict[str, Metric]] = {}
        for name, label in (("o", "task_type"), ("sc", "task_type_sc"), ("pq", "task_type_pq")):
            table = {}
            for group in GROUPS:
                idx = [i for i in every if samples[i].meta["task_type"] == group]
                if idx:
                    table[group] = Metric(float(np.mean(column(name, idx))), n=len(idx))
            breakdowns[label] = table
        counts: dict[str, int] = {"n": len(scores), "ok": sum(s.status == "ok" for s in scores)}
        for s in scores:
            if s.status != "ok":
                counts[s.status] = counts.get(s.status, 0) + 1
        resized = sum(1 for s in scores if s.details.get("resized_from"))
        notes = [f"VIEScore judge: {judge}", self._data_note(samples)]
        if counts.get(JUDGE_UNPARSED):
            notes.append(
                f"{counts[JUDGE_UNPARSED]} edits got no readable score from the judge ({judge}) and count 0 "
                "(upstream would draw a random score)"
            )
        if resized:
            notes.append(f"{resized} edited images had another size than their source and were resized to it")
        present = {s.meta["task_type"] for s in samples}
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics=metrics,
            breakdowns=breakdowns,
            counts=counts,
            notes=notes,
            judge=judge,
            info={
                "language": self.opts.language,
                "task_types": len(present),
                "dataset": self.opts.dataset if self.opts.parquet_dir is None else str(self.opts.parquet_dir),
                "dataset_revision": self.opts.revision if self.opts.parquet_dir is None else None,
                "dataset_commit": _dataset_commit(samples),
            },
            comparable=present == set(GROUPS),
            headline=self.headline(),
        )

    def _data_note(self, samples: Sequence[Sample]) -> str:
        o = self.opts
        if o.parquet_dir is not None:
            return f"data: the parquet files of {o.parquet_dir} (no hub commit recorded)"
        commit = _dataset_commit(samples) or "unknown"
        pin = (
            "" if commit == o.revision else f" (option revision {o.revision}; pin it with -o {self.name}.revision=SHA)"
        )
        return f"data: {o.dataset} at commit {commit}{pin}"


def _dataset_commit(samples: Sequence[Sample]) -> str | None:
    commits = sorted({str(c) for s in samples if (c := s.meta.get("dataset_commit"))})
    return ", ".join(commits) if commits else None


def _judge_name(scores: Sequence[SampleScore]) -> str | None:
    names = {str(s.details["judge"]) for s in scores if s.details.get("judge")}
    return ", ".join(sorted(names)) if names else None


class GEditScorer(Scorer):
    """Asks the judge SC and PQ for each edit, re-asking both as upstream does."""

    batch_size = 64

    def __init__(
        self, prompts: VieScorePrompts, grader: Grader, settings: DecodeSettings, order: str, max_asks: int
    ) -> None:
        self.prompts = prompts
        self.grader = grader
        self.settings = settings
        self.order = order
        self.max_asks = max_asks

    def _request(self, text: str, images: Sequence[ImageRef]) -> UnderstandRequest:
        parts: list[TextPart | ImagePart] = [ImagePart(i) for i in images]
        content = [TextPart(text), *parts] if self.order == "text_first" else [*parts, TextPart(text)]
        return UnderstandRequest(tuple(content))

    def _pair(self, sample: Sample, pred: Prediction) -> tuple[list[UnderstandRequest], dict[str, Any]]:
        assert isinstance(sample.request, EditRequest)
        source = sample.request.image.load()
        paths = pred.image_paths()
        if len(paths) != 1:
            raise DataError(f"sample {sample.id}: expected one edited image, found {len(paths)}")
        try:
            with Image.open(paths[0]) as img:
                edited = img.convert("RGB")
        except (OSError, ValueError) as exc:
            raise DataError(f"sample {sample.id}: cannot decode the edited image {paths[0]}: {exc}") from exc
        details: dict[str, Any] = {}
        if edited.size != source.size:
            details["resized_from"] = list(edited.size)
            edited = edited.resize(source.size)  # upstream: .convert("RGB").resize(source size)
        buf = io.BytesIO()
        edited.save(buf, format="PNG")
        edited_ref = ImageRef.from_bytes(buf.getvalue(), f"{paths[0]} (resized to its source)")
        src_ref = ImageRef.from_pil(source, sample.request.image.source)
        requests = [
            self._request(self.prompts.sc(sample.request.instruction), [src_ref, edited_ref]),
            self._request(self.prompts.pq, [edited_ref]),
        ]
        return requests, details

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        out: dict[str, SampleScore] = {}
        pending: dict[str, tuple[list[UnderstandRequest], dict[str, Any]]] = {}
        for sample, pred in batch:
            try:
                pending[sample.id] = self._pair(sample, pred)
            except DataError as exc:
                out[sample.id] = SampleScore(sample.id, 0.0, correct=False, reason=exc.message, status="scoring_failed")
        replies: dict[str, list[list[str]]] = {k: [] for k in pending}
        for attempt in range(self.max_asks):
            if not pending:
                break
            ids = list(pending)
            answers = self.grader.grade([r for i in ids for r in pending[i][0]], self.settings, attempt=attempt)
            for n, sid in enumerate(ids):
                sc_reply, pq_reply = answers[2 * n], answers[2 * n + 1]
                if not (sc_reply.ok and pq_reply.ok):
                    out[sid] = _unavailable(sid, sc_reply, pq_reply, self.grader.identity)
                    del pending[sid]
                    continue
                texts = [sc_reply.text or "", pq_reply.text or ""]
                replies[sid].append(texts)
                give_up = attempt >= 1
                verdict = judge_pair(read_reply(texts[0], give_up), read_reply(texts[1], give_up))
                if verdict is None and attempt == self.max_asks - 1:
                    verdict = Verdict(problem=f"no readable reply in {self.max_asks} asks")
                if verdict is not None:
                    out[sid] = _scored(sid, verdict, replies[sid], pending[sid][1], self.grader.identity)
                    del pending[sid]
        return [out[s.id] for s, _ in batch]


def _unavailable(sid: str, sc: GraderReply, pq: GraderReply, judge: str) -> SampleScore:
    reason = "; ".join(r.error or "" for r in (sc, pq) if not r.ok)
    return SampleScore(sid, 0.0, correct=False, reason=reason, status=JUDGE_UNAVAILABLE, details={"judge": judge})


def _scored(sid: str, verdict: Verdict, replies: list[list[str]], extra: dict[str, Any], judge: str) -> SampleScore:
    details: dict[str, Any] = {"judge": judge, "replies": replies, **extra}
    if verdict.problem is not None or verdict.overall is None:
        return SampleScore(
            sid, 0.0, correct=False, reason=verdict.problem or "", status=JUDGE_UNPARSED, details=details
        )
    o = verdict.overall
    details.update({"sc": verdict.sc, "pq": verdict.pq, "o": o})
    return SampleScore(sid, o, correct=None, reason=f"SC {verdict.sc:g}, PQ {verdict.pq:g}, O {o:.3f}", details=details)


__all__ = ["JUDGE_UNPARSED", "GEditScorer", "GEditTask"]
