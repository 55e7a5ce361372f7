"""Shared test helpers for GenEval: where upstream's data copies are, fixtures, fake detections."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ming_eval.tasks.geneval.constants import CLASS_INDEX
from ming_eval.tasks.geneval.detection import Detections
from tests.conftest import REPO_ROOT, SHARED_DATA

FIXTURES = Path(__file__).parent / "fixtures"


def upstream_data_dir() -> Path | None:
    """The folder with upstream's prompt files (the checkout's ../shared/data/geneval), if present."""
    candidates = [SHARED_DATA / "geneval", REPO_ROOT.parents[1] / "shared" / "data" / "geneval"]
    if os.environ.get("MING_EVAL_GENEVAL_DATA"):
        candidates.insert(0, Path(os.environ["MING_EVAL_GENEVAL_DATA"]))
    for c in candidates:
        if (c / "evaluation_metadata.jsonl").is_file():
            return c
    return None


def detections(
    rows: list[tuple[str, tuple[float, float, float, float], float]], size: tuple[int, int] | None = None
) -> Detections:
    """Detections from (class, box, score) rows; with ``size`` (w, h), box-shaped masks."""
    boxes = np.asarray([r[1] for r in rows], dtype=np.float32).reshape(-1, 4)
    scores = np.asarray([r[2] for r in rows], dtype=np.float32).reshape(-1)
    labels = np.asarray([CLASS_INDEX[r[0]] for r in rows], dtype=np.int64).reshape(-1)
    masks = None
    if size is not None:
        w, h = size
        masks = np.zeros((len(rows), h, w), dtype=bool)
        for i, (_, (x1, y1, x2, y2), _) in enumerate(rows):
            masks[i, int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
    return Detections(boxes, scores, labels, masks)
