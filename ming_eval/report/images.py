"""The generated images of a run, per sample, for the HTML report: prompt, score, grid, files.

Everything shown comes from what the run stored: the image files of each prediction, and with each
score its prompt (``details["prompt"]``) and its category (the first of ``details["breakdown"]``).
A ``grid.png`` in a sample's top folder (next to its images) is linked; when there is none, a
thumbnail grid can be written next to the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ming_eval.core.results import DETAIL_BREAKDOWN, DETAIL_PROMPT, SampleScore
from ming_eval.errors import RunStoreError
from ming_eval.report.runs import ReportRun
from ming_eval.store.jsonl import read_jsonl


@dataclass
class SampleImages:
    sample_id: str
    images: list[Path]
    prompt: str = ""
    category: str = ""
    score: float | None = None
    reason: str = ""
    grid: Path | None = None


def _is_image_list(output: object) -> bool:
    return isinstance(output, list) and bool(output) and all(isinstance(p, str) for p in output)


def run_images(run: ReportRun, task: str) -> list[SampleImages]:
    """Every sample of ``task`` whose prediction is a list of image files (empty for text tasks)."""
    ts = run.task_store(task)
    if not ts.predictions_path.is_file():
        return []
    records = [rec for rec in read_jsonl(ts.predictions_path) if _is_image_list(rec.get("output"))]
    if not records:  # a text task: its scores are not needed
        return []
    try:
        scores = run.scores(task)
    except RunStoreError:
        scores = {}
    out: list[SampleImages] = []
    for rec in records:
        output = rec["output"]
        images = [ts.images_dir / p for p in output]
        folder = ts.images_dir / Path(output[0]).parts[0]
        score: SampleScore | None = scores.get(str(rec["id"]))
        details = score.details if score else {}
        breakdown = details.get(DETAIL_BREAKDOWN)
        category = str(next(iter(breakdown.values()))) if isinstance(breakdown, dict) and breakdown else ""
        grid = folder / "grid.png"
        out.append(
            SampleImages(
                sample_id=str(rec["id"]),
                images=images,
                prompt=str(details.get(DETAIL_PROMPT) or ""),
                category=category,
                score=None if score is None else score.score,
                reason="" if score is None else score.reason,
                grid=grid if grid.is_file() else None,
            )
        )
    return out


def make_grid(paths: list[Path], tile: int = 128) -> Image.Image:
    """The images side by side (two per row for four), each fitted into a ``tile`` square."""
    cols = 2 if len(paths) == 4 else min(len(paths), 4) or 1
    rows = math.ceil(len(paths) / cols) or 1
    grid = Image.new("RGB", (cols * tile, rows * tile), (255, 255, 255))
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                thumb = img.convert("RGB")
                thumb.thumbnail((tile, tile))
        except (OSError, ValueError):
            continue  # a missing or corrupt image leaves its tile white
        grid.paste(thumb, ((i % cols) * tile, (i // cols) * tile))
    return grid
