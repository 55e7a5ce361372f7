"""The GenEval task: 553 prompts x N images, GenEval's folder layout, GenEval's rules and summary.

Cards: ``tasks/geneval.yaml`` (the original prompts, downloaded from a pinned upstream commit and
checked by sha256) and ``tasks/geneval_rewritten.yaml`` (the user's rewritten-prompt file, checked
line by line against the original; its results are a separate task, labelled "GenEval†").
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ming_eval.cards.schema import DataFile, TaskCard
from ming_eval.core.results import Prediction, SampleScore, Status, TaskResult
from ming_eval.core.sample import Capability, GenerateRequest, Sample
from ming_eval.core.statistic import MeanOfMeans, Statistic
from ming_eval.core.task import BaseTask, Prerequisite, Scorer, TaskContext
from ming_eval.data.files import DataFiles, file_digest
from ming_eval.errors import CardError, DataError
from ming_eval.store.imports import IMPORT_STATE, check_earlier_import, read_import_state
from ming_eval.store.jsonl import write_json_atomic
from ming_eval.store.run_store import TaskStore
from ming_eval.tasks.geneval.constants import DEFAULT_IMAGES_PER_PROMPT, METADATA_FILE
from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.html import REPORT_NAME, write_report
from ming_eval.tasks.geneval.layout import raise_for_problems, sample_relpath, scan_folder, write_prompt_metadata
from ming_eval.tasks.geneval.metadata import PromptMeta, check_rewritten, load_metadata, parse_line
from ming_eval.tasks.geneval.rules import RuleOptions
from ming_eval.tasks.geneval.scorer import GenEvalScorer, ScorerSettings
from ming_eval.tasks.geneval.summary import build_result

log = logging.getLogger(__name__)

PromptSet = Literal["original", "rewritten", "custom"]
LABELS: dict[str, str] = {"original": "GenEval", "rewritten": "GenEval†", "custom": "GenEval (custom prompts)"}


class GenEvalOptions(BaseModel):
    """Options of the GenEval task card (``-o geneval.KEY=VALUE`` on the command line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: original: GenEval's pinned prompts; rewritten: ``prompts_file`` = the original with only
    #: ``prompt`` changed (results marked †); custom: any prompt file in GenEval's format
    prompt_set: PromptSet = "original"
    prompts_file: str | None = None
    #: images per prompt when the model card's protocol does not set ``images_per_prompt``
    images_per_prompt: int | None = Field(None, ge=1)
    threshold: float = Field(0.3, ge=0.0, le=1.0)
    counting_threshold: float = Field(0.9, ge=0.0, le=1.0)
    max_objects: int = Field(16, ge=1)
    max_overlap: float = Field(1.0, gt=0.0)
    position_threshold: float = Field(0.1, ge=0.0)
    clip_model: str = "ViT-L-14"
    clip_pretrained: str | None = "openai"
    #: amp: fp16 autocast on CUDA, as upstream (clip_benchmark's default); fp32 everywhere else
    clip_precision: Literal["amp", "fp32"] = "amp"
    clip_batch_size: int = Field(64, ge=1)
    #: background behind the object's mask in the colour crop ("original" keeps the image)
    bgcolor: str = "#999"
    crop: bool = True
    detector: DetectorOptions = Field(default_factory=DetectorOptions)
    #: prompts per scorer call (each has images_per_prompt images)
    prompts_per_batch: int = Field(8, ge=1)
    html_report: bool = True

    @field_validator("prompts_file")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else str(Path(value).expanduser().resolve())

    @model_validator(mode="after")
    def _prompt_file_fits_set(self) -> GenEvalOptions:
        if self.prompt_set == "original" and self.prompts_file is not None:
            raise ValueError(
                "prompts_file is only for prompt_set 'rewritten' or 'custom' (rewritten prompts: "
                "use the task geneval_rewritten)"
            )
        return self

    def rules(self) -> RuleOptions:
        return RuleOptions(
            self.threshold, self.counting_threshold, self.max_objects, self.max_overlap, self.position_threshold
        )

    def scorer_settings(self) -> ScorerSettings:
        return ScorerSettings(
            rules=self.rules(),
            detector=self.detector,
            clip_model=self.clip_model,
            clip_pretrained=self.clip_pretrained,
            clip_precision=self.clip_precision,
            clip_batch_size=self.clip_batch_size,
            bgcolor=self.bgcolor,
            crop=self.crop,
            prompts_per_batch=self.prompts_per_batch,
        )


class GenEvalTask(BaseTask):
    capability = Capability.GENERATE
    Options = GenEvalOptions
    scoring_version = "1"
    unscored_options = ("clip_batch_size", "prompts_per_batch", "html_report")

    def __init__(self, card: TaskCard, options: BaseModel) -> None:
        super().__init__(card, options)
        assert isinstance(options, GenEvalOptions)
        self.opts: GenEvalOptions = options
        card_set = card.options.get("prompt_set", "original")
        if {card_set, options.prompt_set} == {"original", "rewritten"}:
            raise CardError(
                f"task {card.name} is for {card_set} prompts; results on {options.prompt_set} prompts must not be "
                "mixed with them",
                hint="use the task geneval_rewritten for rewritten prompts (its results are marked †)",
            )

    # -- data --------------------------------------------------------------------------------
    def data_files(self) -> list[DataFile]:
        # a custom prompt set needs nothing downloaded; a rewritten one is checked against the original
        return [] if self.opts.prompt_set == "custom" else list(self.card.data)

    def prefetch(self, data: DataFiles) -> list[str]:
        """The detector's and CLIP's weights, into the cache the scorer reads them from."""
        from ming_eval.tasks.geneval.clip_weights import clip_weights_file

        lines = []
        detector = self.opts.detector
        if detector.weights is None:
            from ming_eval.tasks.geneval.detectors.weights import (
                GENEVAL_MMDET3,
                default_converted_weights,
                fetch_checkpoint,
            )

            if detector.backend == "mmdet":
                lines.append(f"detector checkpoint (mmdet 3.x) -> {fetch_checkpoint(GENEVAL_MMDET3)}")
            else:
                lines.append(f"detector weights (converted from GenEval's checkpoint) -> {default_converted_weights()}")
        clip = clip_weights_file(self.opts.clip_model, self.opts.clip_pretrained)
        if clip is not None:
            lines.append(f"CLIP {self.opts.clip_model} ({self.opts.clip_pretrained}) -> {clip}")
        return lines

    def prerequisites(self) -> list[Prerequisite]:
        from ming_eval.tasks.geneval.clip_weights import find_clip_weights
        from ming_eval.tasks.geneval.detectors.weights import CONVERTED_NAME, GENEVAL_MMDET3, detector_cache

        fetch = f"ming-eval data download {self.name}"
        detector = self.opts.detector
        if detector.weights is not None:  # the user's own file: nothing to download
            path = Path(detector.weights).expanduser()
            what, fetch_detector = f"detector weights {path}", f"-o {self.name}.detector.weights=PATH"
        else:
            path = detector_cache() / (GENEVAL_MMDET3.filename if detector.backend == "mmdet" else CONVERTED_NAME)
            what, fetch_detector = f"detector weights ({detector.backend})", fetch
        found = path.is_file()
        clip_what, clip = find_clip_weights(self.opts.clip_model, self.opts.clip_pretrained)
        return [
            Prerequisite(what, str(path) if found else None, fetch_detector),
            Prerequisite(clip_what, clip, fetch),
            *super().prerequisites(),
        ]

    def data_search_dirs(self) -> list[Path]:
        from ming_eval.data.files import cache_root

        # the rewritten task reads the original from where `ming-eval data download geneval` put it
        own = cache_root() / "data" / self.name
        shared = cache_root() / "data" / "geneval"
        return [shared] if shared != own else []

    def load_prompts(self, ctx: TaskContext) -> list[PromptMeta]:
        opts = self.opts
        if opts.prompt_set == "original":
            return load_metadata(ctx.data.path(METADATA_FILE))
        if opts.prompts_file is None:
            raise DataError(
                f"task {self.name} (prompt_set {opts.prompt_set}) needs a prompt file",
                hint=f"pass -o {self.name}.prompts_file=PATH: a metadata file in GenEval's format"
                + (" that equals the original except for 'prompt'" if opts.prompt_set == "rewritten" else ""),
            )
        path = Path(opts.prompts_file)
        if not path.is_file():
            raise DataError(f"prompts_file {path} does not exist", hint="pass -o <task>.prompts_file=PATH")
        prompts = load_metadata(path)
        if opts.prompt_set == "rewritten":
            check_rewritten(load_metadata(ctx.data.path(METADATA_FILE)), prompts, path)
        return prompts

    def images_per_prompt(self, ctx: TaskContext) -> int:
        from_card = getattr(ctx.protocol, "images_per_prompt", None)
        return int(from_card or self.opts.images_per_prompt or DEFAULT_IMAGES_PER_PROMPT)

    def prompts_sha256(self) -> str | None:
        """The sha256 of the user's prompt file (rewritten or custom prompt sets); None for the
        original prompts, which the card pins, or while the file does not exist."""
        path = self.opts.prompts_file
        return file_digest(Path(path), "sha256") if path is not None and Path(path).is_file() else None

    def samples(self, ctx: TaskContext) -> list[Sample]:
        n = self.images_per_prompt(ctx)
        return [
            Sample(
                meta.sample_id,
                GenerateRequest(meta.prompt, num_images=n),
                target=dict(meta.raw),
                meta={"tag": meta.tag, "index": meta.index},
            )
            for meta in self.load_prompts(ctx)
        ]

    # -- generation outputs in GenEval's layout ----------------------------------------------
    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        return {"tag": str(sample.meta["tag"])}

    def image_relpath(self, sample: Sample, index: int) -> str:
        return sample_relpath(sample.id, index)

    def prepare_outputs(self, sample: Sample, images_root: Path) -> None:
        meta_path = images_root / sample.id / "metadata.jsonl"
        if (
            meta_path.is_file()
            and any((images_root / sample.id / "samples").glob("*.png"))
            and meta_path.read_bytes() != json.dumps(sample.target).encode()
        ):
            raise DataError(
                f"{meta_path} was written for another prompt than line {sample.id} of this prompt set, and its "
                "folder already holds images",
                hint="the prompt file changed since these images were made; use another --out directory",
            )
        write_prompt_metadata(images_root, sample.id, dict(sample.target))

    def import_outputs(
        self, source: Path, samples: Sequence[Sample], store: TaskStore, *, allow_incomplete: bool = False
    ) -> int:
        """Record the images of a folder in GenEval's layout (made by any tool) as this task's outputs."""
        prompts = [parse_line(s.target, int(s.meta["index"]), f"sample {s.id}") for s in samples]
        if [p.index for p in prompts] != list(range(len(prompts))):
            raise DataError("GenEval can only import a folder against its whole prompt set, in order")
        n = samples[0].request.num_images if samples and isinstance(samples[0].request, GenerateRequest) else 0
        scan = scan_folder(source, prompts, n, ignore_prompt_text=self.opts.prompt_set == "rewritten")
        raise_for_problems(scan, len(prompts), allow_incomplete=allow_incomplete)
        files = {
            str(p.relative_to(scan.source)): [p.stat().st_size, p.stat().st_mtime_ns]
            for paths in scan.images.values()
            for p in paths
        }
        state = {"source": str(scan.source), "images_per_prompt": n, "files": files}
        state_path = store.dir / IMPORT_STATE
        check_earlier_import(store.dir, state, source)
        writer = store.record_writer(0)
        try:
            for index, paths in sorted(scan.images.items()):
                sample = samples[index]
                writer.write(Prediction(sample.id, Status.OK, output=[str(p) for p in paths]).to_record())
        finally:
            writer.close()
        write_json_atomic(
            state_path,
            {
                **state,
                "warnings": scan.warnings,
                "incomplete": scan.incomplete,
                "missing_prompts": scan.missing_prompts,
            },
        )
        for line in scan.warnings:
            log.warning("%s: %s", source, line)
        return len(scan.images)

    @staticmethod
    def import_notes(work_dir: Path | None) -> list[str]:
        """Notes on the folder this task's outputs were imported from (``import.json``), if any."""
        state = read_import_state(work_dir, hint="score the folder again into a new --out directory")
        if state is None or work_dir is None:
            return []
        state_path = work_dir / IMPORT_STATE
        notes = []
        warnings, incomplete, missing = (
            list(state.get(k) or []) for k in ("warnings", "incomplete", "missing_prompts")
        )
        if warnings:
            notes.append(
                f"{len(warnings)} files in {state.get('source')} were ignored or converted (listed in {state_path})"
            )
        if incomplete or missing:  # an import with either was allowed with --allow-incomplete
            notes.append(
                f"scored an incomplete folder: {len(missing)} prompt folders missing; "
                f"{len(incomplete)} problems with samples (listed in {state_path})"
            )
        return notes

    # -- scoring -----------------------------------------------------------------------------
    def scoring_fingerprint(self) -> dict[str, Any]:
        fp = super().scoring_fingerprint()
        options = dict(fp["options"])
        detector = dict(options.get("detector") or {})
        detector.pop("batch_size", None)
        options["detector"] = detector
        fp["options"] = options
        digest = self.prompts_sha256()
        if digest:
            fp["prompts_sha256"] = digest
        return fp

    def headline(self) -> Statistic:
        # one score per prompt, the share of its images found correct: with the same number of images
        # per prompt, the mean of a tag's prompt scores is the tag's image accuracy
        return MeanOfMeans(by="tag")

    def scorer(self, ctx: TaskContext) -> Scorer:
        return GenEvalScorer(self.opts.scorer_settings(), ctx.device)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        label = LABELS[self.opts.prompt_set]
        result = build_result(self.name, samples, scores, label=label, prompt_set=self.opts.prompt_set)
        result.notes.extend(self.import_notes(ctx.work_dir))
        n = samples[0].request.num_images if samples and isinstance(samples[0].request, GenerateRequest) else 0
        result.info["images_per_prompt"] = n
        result.info["thresholds"] = dataclasses.asdict(self.opts.rules())
        digest = self.prompts_sha256()
        if digest:
            result.info["prompts_sha256"] = digest
        if self.opts.html_report and ctx.work_dir is not None:
            result.info["html_report"] = str(ctx.work_dir / REPORT_NAME)
        return result

    def finalize(
        self, result: TaskResult, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext
    ) -> None:
        """Write the HTML page of every prompt's images and verdicts (option ``html_report``)."""
        if self.opts.html_report and ctx.work_dir is not None:
            title = f"{result.info.get('label', self.name)} — {ctx.model_name or self.name}"
            rows = [(s.id, dict(s.target), sc) for s, sc in zip(samples, scores, strict=True)]
            write_report(ctx.work_dir, title, result, rows)
