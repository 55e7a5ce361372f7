"""The GenEval scorer: images -> detector (batched) -> GenEval's rules (+ CLIP colours) -> verdicts.

One :class:`~ming_eval.core.results.SampleScore` per prompt: ``score`` is the share of its images that
pass, ``correct`` whether at least one passes, and ``details["images"]`` keeps, per image, the
verdict, upstream's failure wording and the detections the rules kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ming_eval.core.results import SCORING_FAILED, Prediction, SampleScore
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.core.task import Scorer
from ming_eval.errors import DataError
from ming_eval.tasks.geneval.colour import ClipColorClassifier, ColorClassifier, object_crop
from ming_eval.tasks.geneval.detection import Detections, Detector, DetectorOptions
from ming_eval.tasks.geneval.images import LoadedImage, load_for_scoring
from ming_eval.tasks.geneval.metadata import PromptMeta, parse_line
from ming_eval.tasks.geneval.rules import (
    ObjectMap,
    RuleOptions,
    color_requests,
    details_of,
    evaluate,
    select_objects,
)


@dataclass(frozen=True)
class ScorerSettings:
    rules: RuleOptions
    detector: DetectorOptions
    clip_model: str = "ViT-L-14"
    clip_pretrained: str | None = "openai"
    clip_precision: str = "amp"
    clip_batch_size: int = 64
    bgcolor: str = "#999"
    crop: bool = True
    prompts_per_batch: int = 8


def make_detector(options: DetectorOptions, device: str) -> Detector:
    """The detector backend named by ``options`` (imported only now: importing this module loads no torch)."""
    from ming_eval.tasks.geneval.detectors import build_detector

    return build_detector(options, device)


def make_color_classifier(settings: ScorerSettings, device: str) -> ColorClassifier:
    return ClipColorClassifier(
        settings.clip_model,
        settings.clip_pretrained,
        device,
        precision=settings.clip_precision,
        batch_size=settings.clip_batch_size,
    )


@dataclass
class _ImageJob:
    item: int  # position of the prompt in the batch
    k: int  # image number within the prompt
    output: str  # the path as the prediction records it
    loaded: LoadedImage
    meta: PromptMeta
    objects: ObjectMap = field(default_factory=dict)
    colors: dict[int, list[str | None]] = field(default_factory=dict)


class GenEvalScorer(Scorer):
    """Scores prompts batch by batch; detector and CLIP are built on first need (or injected)."""

    def __init__(
        self,
        settings: ScorerSettings,
        device: str,
        *,
        detector: Detector | None = None,
        colors: ColorClassifier | None = None,
    ) -> None:
        self.settings = settings
        self.device = device
        self.batch_size = settings.prompts_per_batch
        self._detector = detector if detector is not None else make_detector(settings.detector, device)
        self._colors = colors

    @property
    def colors(self) -> ColorClassifier:
        if self._colors is None:
            self._colors = make_color_classifier(self.settings, self.device)
        return self._colors

    # -- one batch of prompts ---------------------------------------------------------------
    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        results: list[SampleScore | None] = [None] * len(batch)
        jobs: list[_ImageJob] = []
        for i, (sample, pred) in enumerate(batch):
            meta = parse_line(sample.target, int(sample.meta.get("index", 0)), f"sample {sample.id}")
            outputs = [str(o) for o in (pred.output or [])]
            loaded: list[_ImageJob] = []
            try:
                for k, path in enumerate(pred.image_paths()):
                    loaded.append(_ImageJob(i, k, outputs[k], load_for_scoring(path), meta))
            except DataError as exc:
                results[i] = SampleScore(
                    sample.id, 0.0, correct=False, status=SCORING_FAILED, reason=str(exc), details={"tag": meta.tag}
                )
                continue
            if not loaded:
                results[i] = SampleScore(
                    sample.id,
                    0.0,
                    correct=False,
                    status=SCORING_FAILED,
                    reason="the prediction lists no images",
                    details={"tag": meta.tag},
                )
                continue
            jobs.extend(loaded)
        self._detect(jobs)
        self._classify_colors(jobs)
        by_item: dict[int, list[_ImageJob]] = {}
        for job in jobs:
            by_item.setdefault(job.item, []).append(job)
        for i, (sample, _) in enumerate(batch):
            if results[i] is None:
                results[i] = self._verdict(sample, by_item.get(i, []))
        return [r for r in results if r is not None]

    def _detect(self, jobs: list[_ImageJob]) -> None:
        size = self.settings.detector.batch_size
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            images = [j.loaded.image for j in chunk]
            found = self._detector.detect(images)
            if len(found) != len(chunk):
                raise RuntimeError(f"the detector returned {len(found)} results for {len(chunk)} images")
            for job, dets in zip(chunk, found, strict=True):
                _check_detections(dets, job.loaded)
                # select at once: only the kept objects' masks stay in memory (a 1024x1024 image's 100
                # masks take 100 MB)
                job.objects = select_objects(dets, job.meta.tag, self.settings.rules)
            del found

    def _classify_colors(self, jobs: list[_ImageJob]) -> None:
        crops: list[Image.Image] = []
        classes: list[str] = []
        slots: list[tuple[_ImageJob, int, int]] = []  # job, group, object number
        for job in jobs:
            for req in color_requests(job.meta, job.objects):
                job.colors[req.group] = [None] * len(req.objects)
                for n, obj in enumerate(req.objects):
                    crop = object_crop(job.loaded.image, obj, bgcolor=self.settings.bgcolor, crop=self.settings.crop)
                    if crop is not None:
                        crops.append(crop)
                        classes.append(req.cls)
                        slots.append((job, req.group, n))
        if not crops:
            return
        names = self.colors.classify(crops, classes)
        for (job, group, n), name in zip(slots, names, strict=True):
            job.colors[group][n] = name

    def _verdict(self, sample: Sample, jobs: list[_ImageJob]) -> SampleScore:
        images: list[dict[str, Any]] = []
        lines: list[str] = []
        n_correct = 0
        tag = jobs[0].meta.tag
        for job in jobs:
            correct, reason = evaluate(job.meta, job.objects, job.colors, self.settings.rules)
            n_correct += correct
            entry: dict[str, Any] = {
                "file": job.output,
                "correct": correct,
                "reason": reason,
                "detections": details_of(job.objects),
            }
            if job.colors:
                entry["colors"] = {str(g): c for g, c in sorted(job.colors.items())}
            if job.loaded.notes:
                entry["notes"] = list(job.loaded.notes)
            images.append(entry)
            if not correct:
                lines.append(f"{Path(job.output).name}: " + reason.replace("\n", "; "))
        expected = sample.request.num_images if isinstance(sample.request, GenerateRequest) else len(jobs)
        details: dict[str, Any] = {"tag": tag, "images": images}
        if len(jobs) < expected:
            details["missing_images"] = expected - len(jobs)
        summary = f"{n_correct}/{len(jobs)} images correct"
        if len(jobs) < expected:
            summary += f" ({expected - len(jobs)} missing)"
        return SampleScore(
            sample.id,
            n_correct / len(jobs),
            correct=n_correct > 0,
            reason="\n".join([summary, *lines]),
            details=details,
        )

    def close(self) -> None:
        self._detector.close()
        if self._colors is not None:
            self._colors.close()


def _check_detections(dets: Detections, loaded: LoadedImage) -> None:
    n = len(dets)
    if dets.boxes.shape != (n, 4) or dets.labels.shape != (n,):
        raise RuntimeError(
            f"malformed detections for {loaded.path}: boxes {dets.boxes.shape}, scores {n}, labels {dets.labels.shape}"
        )
    if dets.masks is not None and tuple(dets.masks.shape) != (n, loaded.image.height, loaded.image.width):
        raise RuntimeError(
            f"detector masks {tuple(dets.masks.shape)} do not match {n} detections on the "
            f"{loaded.image.width}x{loaded.image.height} image {loaded.path}"
        )
