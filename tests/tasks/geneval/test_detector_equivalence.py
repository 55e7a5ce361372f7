"""The default (pure PyTorch) detector against mmdetection's own Mask2Former, on the same weights.

Runs only where mmdet 3.x and mmcv (with its compiled ops) import. Both backends get GenEval's
(mmdet 2.x) preprocessing: ours in PyTorch, the mmdet backend through mmcv's ``imrescale``,
``impad_to_multiple`` and ``imnormalize`` (the functions the 2.x pipeline calls), so like is compared
with like. Weights are random (the tiny architecture, and Swin-S once at full size); the class head is
sharpened so that scores spread over (0, 1) and GenEval's thresholds actually select detections.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ming_eval.tasks.geneval.detection import Detections

pytestmark = [
    pytest.mark.mmdet,
    pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="mmdet is not installed"),
]

TOL = 1e-4


def _mmdet_ready() -> None:
    try:
        from mmcv.ops import MultiScaleDeformableAttention  # noqa: F401
    except ImportError as exc:  # mmdet without mmcv's compiled ops
        pytest.skip(f"mmcv ops unavailable: {exc}")


def scene(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    draw.rectangle([w // 6, h // 3, w // 2, h - 2], fill=(200, 40, 30))
    draw.ellipse([w // 2, 1, w - 2, h // 2], fill=(30, 200, 240))
    return img


def sharpened(state: dict[str, torch.Tensor], factor: float) -> dict[str, torch.Tensor]:
    out = dict(state)
    out["panoptic_head.cls_embed.weight"] = state["panoptic_head.cls_embed.weight"] * factor
    out["panoptic_head.cls_embed.bias"] = state["panoptic_head.cls_embed.bias"] * factor
    return out


def geneval_decisions(det: Detections, threshold: float) -> dict[int, list[tuple[float, ...]]]:
    """What GenEval keeps per class: score > threshold (float32), best 16, with boxes."""
    kept: dict[int, list[tuple[float, ...]]] = {}
    for label in np.unique(det.labels):
        idx = np.nonzero(det.labels == label)[0]
        order = idx[np.argsort(-det.scores[idx], kind="stable")]
        order = order[det.scores[order] > np.float32(threshold)][:16]
        if len(order):
            kept[int(label)] = [tuple(det.boxes[i].tolist()) for i in order]
    return kept


def compare(ours: Sequence[Detections], ref: Sequence[Detections]) -> dict[str, float]:
    stats = {"score": 0.0, "mask_pixels": 0.0, "kept": 0.0}
    for a, b in zip(ours, ref, strict=True):
        assert len(a) == len(b)
        assert a.masks is not None and b.masks is not None
        # match instances by (label, score) order: both are sorted by score
        np.testing.assert_array_equal(a.labels, b.labels)
        stats["score"] = max(stats["score"], float(np.abs(a.scores - b.scores).max()))
        stats["mask_pixels"] = max(stats["mask_pixels"], float((a.masks != b.masks).mean()))
        for thr in (0.3, 0.9):
            da, db = geneval_decisions(a, thr), geneval_decisions(b, thr)
            assert da == db, f"threshold {thr}: {da} != {db}"
            stats["kept"] += sum(len(v) for v in da.values())
    return stats


@pytest.fixture(scope="module")
def tiny_pair() -> tuple[object, object]:
    _mmdet_ready()
    from ming_eval.tasks.geneval.detectors.config import TINY
    from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector
    from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector
    from ming_eval.testing.fixtures.geneval import random_state_dict

    state = sharpened(random_state_dict(TINY, seed=3), 25.0)
    return (
        Mask2FormerDetector.from_state_dict(TINY, state, "cpu", batch_size=3),
        MMDetDetector(TINY, state, "cpu", batch_size=3, source="tiny random"),
    )


def test_state_dict_layout_is_mmdet3s() -> None:
    _mmdet_ready()
    import mmdet
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from ming_eval.tasks.geneval.detectors.config import SWIN_S, TINY
    from ming_eval.tasks.geneval.detectors.head import Mask2Former
    from ming_eval.tasks.geneval.detectors.mmdet_backend import find_config, mmdet_model_config

    register_all_modules()
    for cfg in (TINY, SWIN_S):
        theirs = MODELS.build(mmdet_model_config(cfg, find_config(mmdet)).model).state_dict()
        ours = Mask2Former(cfg).state_dict()
        extra = {k for k in theirs if k.endswith("relative_position_index")}
        assert set(theirs) - extra == set(ours)
        assert all(tuple(theirs[k].shape) == tuple(v.shape) for k, v in ours.items())


def test_resize_matches_live_opencv() -> None:
    import cv2

    from ming_eval.tasks.geneval.detectors.preprocess import cv2_resize_linear_u8, rescaled_size

    rng = np.random.default_rng(0)
    sizes = [(512, 512), (1024, 1024), (1600, 1600), (600, 401), (7, 5), (3, 1)]
    sizes += [(int(h), int(w)) for h, w in rng.integers(1, 1100, size=(30, 2))]
    for h, w in sizes:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for nh, nw in (rescaled_size(h, w), (int(rng.integers(1, 700)), int(rng.integers(1, 700)))):
            ref = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            ours = cv2_resize_linear_u8(torch.from_numpy(img).permute(2, 0, 1).contiguous(), nh, nw)
            np.testing.assert_array_equal(ours.permute(1, 2, 0).numpy(), ref, err_msg=f"{(h, w)}->{(nh, nw)}")


def test_preprocessing_equals_mmcv_pipeline() -> None:
    _mmdet_ready()
    from ming_eval.tasks.geneval.detectors.config import RESIZE_SCALE
    from ming_eval.tasks.geneval.detectors.mmdet_backend import mmcv_preprocess
    from ming_eval.tasks.geneval.detectors.preprocess import preprocess_one

    images = [
        scene(512, 512, 0),
        scene(300, 200, 1),
        scene(1024, 640, 2),
        scene(50, 700, 3),
        scene(1600, 1600, 4),
        scene(512, 512, 5).convert("RGBA"),
    ]
    for img in images:
        ours, meta = preprocess_one(img, "cpu", RESIZE_SCALE)
        theirs, ref_meta = mmcv_preprocess(img, RESIZE_SCALE)
        assert meta == ref_meta
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_raw_outputs_match(tiny_pair: tuple[object, object]) -> None:
    ours, ref = tiny_pair
    images = [scene(64, 64, 10), scene(120, 40, 11), scene(64, 64, 12), scene(97, 131, 13)]
    for a, b in zip(ours.raw(images), ref.raw(images), strict=True):  # type: ignore[attr-defined]
        assert a.meta == b.meta
        pa, pb = a.cls_logits.softmax(-1), b.cls_logits.softmax(-1)
        assert float((pa - pb).abs().max()) < TOL
        assert float((a.mask_logits - b.mask_logits).abs().max()) < TOL
        assert float((a.mask_logits.sigmoid() - b.mask_logits.sigmoid()).abs().max()) < TOL


def test_detections_and_geneval_decisions_match(tiny_pair: tuple[object, object]) -> None:
    ours, ref = tiny_pair
    images = [scene(64, 64, 20), scene(120, 40, 21), scene(64, 64, 22), scene(97, 131, 23), scene(64, 64, 24)]
    stats = compare(ours.detect(images), ref.detect(images))  # type: ignore[attr-defined]
    assert stats["score"] < TOL
    assert stats["mask_pixels"] < 1e-3
    assert stats["kept"] > 0  # the thresholds selected something: the comparison is not vacuous


@pytest.mark.slow
def test_swin_s_full_size() -> None:
    _mmdet_ready()
    from ming_eval.tasks.geneval.detectors.config import SWIN_S
    from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector
    from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector
    from ming_eval.testing.fixtures.geneval import random_state_dict

    state = sharpened(random_state_dict(SWIN_S, seed=5), 25.0)
    ours = Mask2FormerDetector.from_state_dict(SWIN_S, state, "cpu", batch_size=1)
    ref = MMDetDetector(SWIN_S, state, "cpu", batch_size=1, source="random Swin-S")
    image = scene(512, 512, 30)
    (a,), (b,) = ours.raw([image]), ref.raw([image])
    assert float((a.cls_logits.softmax(-1) - b.cls_logits.softmax(-1)).abs().max()) < TOL
    assert float((a.mask_logits - b.mask_logits).abs().max()) < TOL
    compare(ours.detect([image]), ref.detect([image]))


def test_build_detector_mmdet_tiny_random_and_converted_weights(tmp_path: Path) -> None:
    _mmdet_ready()
    from ming_eval.tasks.geneval.detection import DetectorOptions
    from ming_eval.tasks.geneval.detectors import build_detector
    from ming_eval.tasks.geneval.detectors.config import TINY
    from ming_eval.tasks.geneval.detectors.convert import convert_checkpoint
    from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector
    from ming_eval.testing.fixtures.geneval import write_tiny_detector
    from tests.tasks.geneval.detectors.conftest import mmdet2_name, mmdet3_state, save_mmdet_checkpoint

    images = [scene(64, 64, 70), scene(90, 50, 71)]
    tiny = str(write_tiny_detector(tmp_path / "tiny.safetensors"))
    ref = build_detector(DetectorOptions(backend="mmdet", weights=tiny), "cpu")
    ours = build_detector(DetectorOptions(weights=tiny), "cpu")
    assert isinstance(ref, MMDetDetector)
    compare(ours.detect(images), ref.detect(images))
    # a 2.x-layout checkpoint, converted, loads into mmdet's model as well
    src = save_mmdet_checkpoint(tmp_path / "t.pth", {mmdet2_name(k): v for k, v in mmdet3_state(1).items()})
    out = tmp_path / "t.safetensors"
    convert_checkpoint(src, out, cfg=TINY, allow_pickle=True)
    ref2 = build_detector(DetectorOptions(backend="mmdet", weights=str(out)), "cpu")
    ours2 = build_detector(DetectorOptions(weights=str(out)), "cpu")
    compare(ours2.detect(images), ref2.detect(images))
