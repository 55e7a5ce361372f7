"""The inference phase of one task on one rank: pending samples -> model -> records.

Resume: samples whose record exists are skipped (failed ones too, unless ``retry_failed``); for image
tasks, images already on disk are kept and only the missing ones are generated. The model is asked
for (and so loaded) only when this rank has work left.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from ming_eval.cards.schema import GenerateProtocol, UnderstandProtocol
from ming_eval.core.model import Model
from ming_eval.core.results import Prediction, Status, file_stats
from ming_eval.core.sample import (
    Capability,
    EditRequest,
    GenerateRequest,
    Request,
    Sample,
    UnderstandRequest,
)
from ming_eval.core.seeds import derive_seed, seed_deriver
from ming_eval.core.task import BaseTask
from ming_eval.errors import MingEvalError
from ming_eval.runner.batching import BatchRunner, BatchStats, describe
from ming_eval.runner.distributed import Dist
from ming_eval.runner.progress import ProgressReporter
from ming_eval.store.jsonl import atomic_path
from ming_eval.store.run_store import RecordWriter, TaskStore

if TYPE_CHECKING:  # PIL is imported where images are generated, not by every run
    from PIL import Image


@dataclass(frozen=True)
class InferenceSettings:
    batch_size: int
    run_seed: int
    retry_failed: bool = False
    max_failures: int = 0
    fail_fast_after: int = 16


@dataclass
class InferenceSummary:
    task: str
    total: int
    already_done: int
    pending_global: int
    ran_here: int
    stats: BatchStats | None = None


def save_png_atomic(img: Image.Image, path: Path) -> None:
    """Write a PNG through a temporary file, so an existing file is always a complete image."""
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def _with_seeds(
    task: BaseTask, sample: Sample, protocol: GenerateProtocol, run_seed: int, images_root: Path
) -> tuple[Sample, list[str]]:
    """Fill seeds/indices for the images still missing; returns the sample and all image paths."""
    req = sample.request
    assert isinstance(req, (GenerateRequest, EditRequest))
    n = protocol.images_per_prompt or req.num_images
    rels = [task.image_relpath(sample, k) for k in range(n)]
    missing = tuple(k for k in range(n) if not (images_root / rels[k]).is_file())
    seeds = tuple(derive_seed(run_seed, task.name, sample.id, k) for k in missing)
    new_req = dataclasses.replace(req, num_images=n, seeds=seeds, indices=missing)
    return sample.with_request(new_req), rels


def _with_seed(request: Request, seed: int) -> UnderstandRequest:
    """``request``, of a subclass of UnderstandRequest, with ``seed``."""
    assert isinstance(request, UnderstandRequest)
    return dataclasses.replace(request, seed=seed)


def run_inference(
    task: BaseTask,
    samples: Sequence[Sample],
    store: TaskStore,
    protocol: UnderstandProtocol | GenerateProtocol,
    get_model: Callable[[], Model],
    dist: Dist,
    settings: InferenceSettings,
    console: Console | None,
) -> InferenceSummary:
    done = store.finished_ids(retry_failed=settings.retry_failed)
    # every rank must read the records before any rank appends to them
    dist.barrier()
    pending = [s for s in samples if s.id not in done]
    summary = InferenceSummary(task.name, len(samples), len(samples) - len(pending), len(pending), 0)
    mine = dist.shard(pending)
    if not mine:
        return summary

    capability = task.capability
    writer = store.record_writer(dist.rank)
    images_root = store.images_dir
    try:
        if capability is Capability.UNDERSTAND:
            summary.stats = _run_understand(task, mine, protocol, get_model, writer, settings, console, dist)
        else:
            assert isinstance(protocol, GenerateProtocol)
            summary.stats = _run_images(task, mine, protocol, get_model, writer, images_root, settings, console, dist)
    finally:
        writer.close()
    summary.ran_here = len(mine)
    return summary


def _progress(console: Console | None, dist: Dist, label: str, total: int) -> ProgressReporter:
    suffix = f" (rank 0 of {dist.world_size})" if dist.distributed else ""
    return ProgressReporter(console, f"{label}{suffix}", total, enabled=dist.is_main)


def _run_understand(
    task: BaseTask,
    mine: list[Sample],
    protocol: UnderstandProtocol | GenerateProtocol,
    get_model: Callable[[], Model],
    writer: RecordWriter,
    settings: InferenceSettings,
    console: Console | None,
    dist: Dist,
) -> BatchStats:
    assert isinstance(protocol, UnderstandProtocol)
    seeds_of = seed_deriver(settings.run_seed, task.name)
    model = get_model()
    images_root = writer.images_root
    per_sample_s = [0.0]  # the last batch's time per sample, rounded, for its records
    # the ids and seeds of the last call's requests: a batch's records are written right after its call
    ids: list[str] = []
    seeds: list[int] = []

    def call(batch: Sequence[Sample]) -> list[str]:
        # each request with its seed (filled in here, not by the task), made per batch: a run does not
        # hold a second request per sample
        ids[:] = [s.id for s in batch]
        seeds[:] = seeds_of(ids)
        requests = [
            UnderstandRequest(req.content, req.system, seed)  # its fields, without dataclasses.replace's work
            if type(req := s.request) is UnderstandRequest
            else _with_seed(req, seed)
            for s, seed in zip(batch, seeds, strict=True)
        ]
        t0 = time.perf_counter()
        texts = model.understand(requests, protocol)
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"{type(model).__name__}.understand returned {bad[0]}, expected str")
        per_sample_s[0] = round((time.perf_counter() - t0) / max(1, len(batch)), 5)
        return texts

    # a batch's records are encoded together and reach the OS in one write before the next batch
    # runs, not one by one; a kill loses no record that was handed back before it
    def on_batch(batch: Sequence[Sample], texts: Sequence[str]) -> None:
        writer.write_answers(ids, seeds, texts, per_sample_s[0])

    def on_fail(sample: Sample, exc: BaseException) -> None:
        seed = seeds_of([sample.id])[0]
        pred = Prediction(sample.id, Status.FAILED, error=describe(exc), seed=seed, images_root=images_root)
        writer.write_prediction(pred)

    with _progress(console, dist, f"{task.name}: inference", len(mine)) as bar:
        runner: BatchRunner[Sample, str] = BatchRunner(
            call,
            None,
            on_fail,
            settings.batch_size,
            on_batch=on_batch,
            on_progress=bar.advance,
            fail_fast_after=settings.fail_fast_after,
            max_failures=settings.max_failures,
        )
        return runner.run(mine)


def _run_images(
    task: BaseTask,
    mine: list[Sample],
    protocol: GenerateProtocol,
    get_model: Callable[[], Model],
    writer: RecordWriter,
    images_root: Path,
    settings: InferenceSettings,
    console: Console | None,
    dist: Dist,
) -> BatchStats:
    prepared: list[Sample] = []
    relpaths: dict[str, list[str]] = {}
    for s in mine:
        task.prepare_outputs(s, images_root)
        seeded, rels = _with_seeds(task, s, protocol, settings.run_seed, images_root)
        relpaths[s.id] = rels
        req = seeded.request
        assert isinstance(req, (GenerateRequest, EditRequest))
        if not req.seeds:  # every image is already on disk (killed after the last image)
            output = task.finish_outputs(s, images_root, rels)
            files = file_stats([images_root / r for r in output])
            writer.write_prediction(Prediction(s.id, Status.OK, output=output, files=files, images_root=images_root))
        else:
            prepared.append(seeded)
    if not prepared:
        return BatchStats()
    from PIL import Image

    model = get_model()
    edit = task.capability is Capability.EDIT

    def call(batch: Sequence[Sample]) -> list[list[Image.Image]]:
        requests = [s.request for s in batch]
        if edit:
            out = model.edit(requests, protocol)  # type: ignore[arg-type]
        else:
            out = model.generate(requests, protocol)  # type: ignore[arg-type]
        for sample, images in zip(batch, out, strict=False):
            req = sample.request
            assert isinstance(req, (GenerateRequest, EditRequest))
            if len(images) != len(req.seeds) or not all(isinstance(i, Image.Image) for i in images):
                raise MingEvalError(
                    f"{type(model).__name__} returned {len(images)} images for sample {sample.id}, "
                    f"expected {len(req.seeds)} PIL images"
                )
        return out

    def on_done(sample: Sample, images: list[Image.Image]) -> None:
        req = sample.request
        assert isinstance(req, (GenerateRequest, EditRequest))
        rels = relpaths[sample.id]
        for k, img in zip(req.indices, images, strict=True):
            save_png_atomic(img, images_root / rels[k])
        output = task.finish_outputs(sample, images_root, rels)
        files = file_stats([images_root / r for r in output])
        writer.write_prediction(Prediction(sample.id, Status.OK, output=output, files=files, images_root=images_root))

    def on_fail(sample: Sample, exc: BaseException) -> None:
        writer.write_prediction(Prediction(sample.id, Status.FAILED, error=describe(exc), images_root=images_root))

    label = f"{task.name}: {'edit' if edit else 'generate'}"
    with _progress(console, dist, label, len(prepared)) as bar:
        runner: BatchRunner[Sample, list[Image.Image]] = BatchRunner(
            call,
            on_done,
            on_fail,
            settings.batch_size,
            on_progress=bar.advance,
            fail_fast_after=settings.fail_fast_after,
            max_failures=settings.max_failures,
        )
        return runner.run(prepared)
