"""The default backend end to end, on the tiny random detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.detection import Detections, Detector, DetectorOptions
from ming_eval.tasks.geneval.detectors import build_detector
from ming_eval.tasks.geneval.detectors.config import TINY
from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector
from ming_eval.testing.fixtures.geneval import write_tiny_detector


def scene(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    draw.rectangle([w // 5, h // 4, w // 2, h - 3], fill=(220, 30, 30))
    draw.ellipse([w // 2, 2, w - 2, h // 2], fill=(240, 240, 10))
    return img


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_tiny_detector(tmp_path_factory.mktemp("detector") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def detector(tiny_weights: str) -> Mask2FormerDetector:
    det = build_detector(DetectorOptions(weights=tiny_weights, batch_size=3), "cpu")
    assert isinstance(det, Mask2FormerDetector)
    return det


def test_tiny_random_end_to_end(detector: Mask2FormerDetector) -> None:
    assert isinstance(detector, Detector)
    images = [scene(64, 64, 0), scene(90, 40, 1).convert("RGBA"), scene(33, 71, 2).convert("L")]
    out = detector.detect(images)
    assert len(out) == 3
    for img, det in zip(images, out, strict=True):
        assert isinstance(det, Detections)
        n = min(TINY.max_per_image, TINY.num_queries * TINY.num_classes)
        assert len(det) == n
        assert det.boxes.shape == (n, 4) and det.boxes.dtype == np.float32
        assert det.scores.dtype == np.float32 and det.labels.dtype == np.int64
        assert det.masks is not None and det.masks.shape == (n, img.height, img.width)
        assert det.masks.dtype == np.bool_
        assert ((det.labels >= 0) & (det.labels < 80)).all()
        assert ((det.scores >= 0) & (det.scores <= 1)).all()
        assert (np.diff(det.scores) <= 0).all()  # sorted, best first
        assert (det.boxes[:, 2] <= img.width).all() and (det.boxes[:, 3] <= img.height).all()
        # every box is its mask's tight box
        for box, mask in zip(det.boxes[:5], det.masks[:5], strict=True):
            ys, xs = np.nonzero(mask)
            if len(xs):
                assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_the_tiny_detector_is_the_same_every_time(detector: Mask2FormerDetector, tmp_path: Path) -> None:
    other = build_detector(DetectorOptions(weights=str(write_tiny_detector(tmp_path / "again.safetensors"))), "cpu")
    img = scene(50, 50, 3)
    a, b = detector.detect([img])[0], other.detect([img])[0]
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_batched_equals_one_at_a_time(detector: Mask2FormerDetector) -> None:
    # two padded sizes interleaved: same-size images share batches, the odd ones run apart
    images = [scene(64, 64, 10), scene(120, 40, 11), scene(64, 64, 12), scene(64, 64, 13), scene(120, 40, 14)]
    batched = detector.detect(images)
    single = [detector.detect([img])[0] for img in images]
    raw_batched = detector.raw(images)
    raw_single = [detector.raw([img])[0] for img in images]
    for b, s in zip(batched, single, strict=True):
        np.testing.assert_array_equal(b.labels, s.labels)
        np.testing.assert_allclose(b.scores, s.scores, rtol=0, atol=1e-6)
        assert b.masks is not None and s.masks is not None
        assert (b.masks != s.masks).mean() < 1e-4  # logits within 1e-5: only ties with 0 could flip
    for b, s in zip(raw_batched, raw_single, strict=True):
        assert b.meta == s.meta
        torch.testing.assert_close(b.cls_logits, s.cls_logits, rtol=0, atol=1e-5)
        torch.testing.assert_close(b.mask_logits, s.mask_logits, rtol=0, atol=1e-5)


def test_output_order_follows_input_order(detector: Mask2FormerDetector) -> None:
    a, b = scene(64, 64, 20), scene(120, 40, 21)  # the same padded sizes as above: no new shapes
    ab = detector.detect([a, b, a])
    assert ab[0].masks is not None and ab[0].masks.shape[1:] == (64, 64)
    assert ab[1].masks is not None and ab[1].masks.shape[1:] == (40, 120)
    np.testing.assert_array_equal(ab[0].scores, ab[2].scores)
    assert detector.detect([]) == []


def test_bad_input(detector: Mask2FormerDetector) -> None:
    with pytest.raises(DataError, match="input 1 is a ndarray"):
        detector.detect([scene(10, 10, 0), np.zeros((4, 4, 3))])  # type: ignore[list-item]
    with pytest.raises(DataError, match="input 0 is empty"):
        detector.detect([Image.new("RGB", (0, 5))])
