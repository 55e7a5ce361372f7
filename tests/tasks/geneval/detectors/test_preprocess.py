"""GenEval's (mmdet 2.x) preprocessing, against hand-computed values and OpenCV's recorded outputs.

The ``cv2.resize`` expectations below were produced by running OpenCV 4.10.0 (opencv-python-headless)
outside the project:  ``cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)`` on the arrays shown.
The mmdet-marked equivalence tests compare against live OpenCV on many random sizes as well.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ming_eval.tasks.geneval.detectors.preprocess import (
    cv2_resize_linear_u8,
    image_meta,
    normalize,
    padded_size,
    pil_to_bgr,
    preprocess_one,
    rescaled_size,
)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return cv2_resize_linear_u8(torch.from_numpy(a)[None], h, w)[0].numpy()


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((512, 512), (800, 800)),  # short side bound: 800 / 512 = 1.5625
        ((1024, 1024), (800, 800)),
        ((384, 384), (800, 800)),
        ((512, 1024), (667, 1333)),  # long side bound wins: 1333 / 1024 = 1.3018 < 800 / 512
        ((300, 600), (667, 1333)),  # int(300 * 2.2217 + 0.5) = 667
        ((1000, 600), (1333, 800)),  # 600 * 1.3333 = 800.0, 1000 * 1.3333 = 1333.3
        ((77, 1000), (103, 1333)),
    ],
)
def test_rescaled_size_follows_mmcv_rescale_size(hw: tuple[int, int], expected: tuple[int, int]) -> None:
    assert rescaled_size(*hw) == expected


def test_padded_size_rounds_up_to_32() -> None:
    assert padded_size(800, 800) == (800, 800)
    assert padded_size(667, 1333) == (672, 1344)
    assert padded_size(1, 33) == (32, 64)
    meta = image_meta(512, 1024)
    assert (meta.original, meta.resized, meta.padded) == ((512, 1024), (667, 1333), (672, 1344))


def test_resize_matches_recorded_opencv_upscale() -> None:
    a = np.array([[0, 100, 255], [37, 200, 3]], dtype=np.uint8)
    expected = np.array([[0, 40, 100, 193, 255], [19, 71, 150, 137, 129], [37, 102, 200, 82, 3]])
    np.testing.assert_array_equal(_resize(a, 3, 5), expected)


def test_resize_matches_hand_computed_fixed_point() -> None:
    # 2x2 -> 3x3. Column 1: x = 1.5 * 2/3 - 0.5 = 0.5 -> weights (1024, 1024): (10 + 20) * 1024 = 30720.
    # Row 0: y = -1/6 -> rows (0, 0), weights round(2048/6) = 341 and round(2048*5/6) = 1707 (not clamped):
    # ((341 * (30720 >> 4)) >> 16) + ((1707 * 1920) >> 16) + 2 = 9 + 50 + 2 = 61 -> 61 >> 2 = 15.
    d = np.array([[10, 20], [30, 41]], dtype=np.uint8)
    out = _resize(d, 3, 3)
    assert out[0, 1] == 15
    np.testing.assert_array_equal(out, [[10, 15, 20], [20, 25, 31], [30, 35, 41]])  # OpenCV 4.10.0


def test_resize_matches_recorded_opencv_downscale() -> None:
    b = (np.arange(20, dtype=np.uint8).reshape(5, 4) * 13).astype(np.uint8)
    np.testing.assert_array_equal(_resize(b, 3, 2), [[24, 50], [111, 137], [197, 223]])


def test_exact_half_size_uses_opencv_area_average() -> None:
    c = np.array([[1, 2, 3, 4], [5, 6, 7, 9], [10, 20, 30, 41], [0, 0, 255, 254]], dtype=np.uint8)
    # (1+2+5+6+2)>>2 = 4, (3+4+7+9+2)>>2 = 6, (10+20+0+0+2)>>2 = 8, (30+41+255+254+2)>>2 = 145
    np.testing.assert_array_equal(_resize(c, 2, 2), [[4, 6], [8, 145]])


def test_resize_to_same_size_is_identity_and_rejects_float() -> None:
    a = np.random.default_rng(0).integers(0, 256, (3, 7, 9), dtype=np.uint8)
    np.testing.assert_array_equal(cv2_resize_linear_u8(torch.from_numpy(a), 7, 9).numpy(), a)
    with pytest.raises(ValueError, match="uint8"):
        cv2_resize_linear_u8(torch.zeros(3, 4, 4), 8, 8)


def test_normalize_rounds_like_opencv() -> None:
    # cv2.subtract in float32 (mean rounded to float32), cv2.multiply by the float64 reciprocal std in
    # float64, rounded to float32; this differs from all-float32 arithmetic by one ulp for some values
    x = torch.tensor([[[0]], [[128]], [[255]]], dtype=torch.uint8)
    out = normalize(x)[:, 0, 0].numpy()
    centred = np.float32([0, 128, 255]) - np.float32([123.675, 116.28, 103.53])
    expected = (centred.astype(np.float64) * (1 / np.array([58.395, 57.12, 57.375]))).astype(np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(-123.675 / 58.395, rel=1e-6)


def test_preprocess_one_pads_raw_image_with_128_before_normalising() -> None:
    # 20x60 -> 444x1333 (x 22.2167), padded to 448x1344; padding is normalised 128 in every channel
    img = Image.fromarray(np.full((20, 60, 3), (255, 0, 10), dtype=np.uint8))
    x, meta = preprocess_one(img, "cpu")
    assert meta.resized == (444, 1333) and meta.padded == (448, 1344)
    assert x.shape == (3, 448, 1344) and x.dtype == torch.float32
    pad = normalize(torch.full((3, 1, 1), 128, dtype=torch.uint8))[:, 0, 0]
    torch.testing.assert_close(x[:, 444:, :].amax(dim=(1, 2)), pad, rtol=0, atol=0)
    torch.testing.assert_close(x[:, :, 1333:].amin(dim=(1, 2)), pad, rtol=0, atol=0)
    inside = normalize(torch.tensor([255, 0, 10], dtype=torch.uint8).view(3, 1, 1))[:, 0, 0]
    torch.testing.assert_close(x[:, 100, 100], inside, rtol=0, atol=0)  # RGB order after BGR->RGB


def test_pil_to_bgr_drops_alpha_and_replicates_grey() -> None:
    rgba = Image.fromarray(np.array([[[10, 20, 30, 0]]], dtype=np.uint8), "RGBA")
    np.testing.assert_array_equal(pil_to_bgr(rgba), [[[30, 20, 10]]])
    grey = Image.fromarray(np.array([[7]], dtype=np.uint8), "L")
    np.testing.assert_array_equal(pil_to_bgr(grey), [[[7, 7, 7]]])
