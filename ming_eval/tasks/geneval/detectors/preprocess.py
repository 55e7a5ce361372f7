"""GenEval's test-time preprocessing, reproduced in PyTorch so it runs batched on the GPU.

GenEval calls mmdet 2.x ``inference_detector(model, path)``, whose pipeline (from the 2.x config) is:

1. ``LoadImageFromFile``: OpenCV decode, BGR, uint8;
2. ``Resize(img_scale=(1333, 800), keep_ratio=True)``: ``mmcv.imrescale`` picks
   ``s = min(1333 / long_side, 800 / short_side)``, the size ``int(w * s + 0.5) x int(h * s + 0.5)``,
   and resizes with ``cv2.resize(..., INTER_LINEAR)`` on the uint8 image, i.e. OpenCV's fixed-point
   bilinear filter (11-bit weights, results rounded back to uint8);
3. ``Pad(size_divisor=32, pad_val=128)``: bottom/right padding with 128 on the uint8 image;
4. ``Normalize``: BGR->RGB, float32 ``x - mean``, times ``1 / std`` (OpenCV's rounding, see :func:`normalize`);
5. a batch of one, so the network input is exactly the padded size.

:func:`cv2_resize_linear_u8` reproduces step 2 bit for bit (checked against ``cv2.resize`` by the
mmdet equivalence tests), including OpenCV's switch to 2x2 box averaging for exact 2x downscales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ming_eval.tasks.geneval.detectors.config import PAD_DIVISOR, PAD_VALUE, PIXEL_MEAN, PIXEL_STD, RESIZE_SCALE

_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS


@dataclass(frozen=True)
class ImageMeta:
    """Sizes (height, width) of one image through the pipeline."""

    original: tuple[int, int]
    resized: tuple[int, int]
    padded: tuple[int, int]


def rescaled_size(height: int, width: int, scale: tuple[int, int] = RESIZE_SCALE) -> tuple[int, int]:
    """``mmcv.rescale_size``: the largest size within ``scale`` (long, short edge) keeping the ratio."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(height * float(factor) + 0.5), int(width * float(factor) + 0.5)


def padded_size(height: int, width: int, divisor: int = PAD_DIVISOR) -> tuple[int, int]:
    return -(-height // divisor) * divisor, -(-width // divisor) * divisor


def image_meta(height: int, width: int, scale: tuple[int, int] = RESIZE_SCALE) -> ImageMeta:
    resized = rescaled_size(height, width, scale)
    return ImageMeta((height, width), resized, padded_size(*resized))


def _linear_taps(src: int, dst: int, clamp_weights: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's INTER_LINEAR source indices and 11-bit weights along one axis.

    Positions are computed as ``float((d + 0.5) * (src / dst) - 0.5)`` (double, then float32), split
    into ``floor`` and fraction, and the weights ``1 - f`` and ``f`` are rounded separately (round half
    to even), so they need not sum to 2048. Along x, out-of-range positions are clamped to the edge with
    weight (2048, 0); along y only the row indices are clamped, the weights are kept.
    """
    scale = 1.0 / (dst / src)
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = (pos - first.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        low = first < 0
        frac[low], first[low] = 0.0, 0
        high = first >= src - 1
        frac[high], first[high] = 0.0, src - 1
    w0 = np.rint((np.float32(1.0) - frac) * np.float32(_COEF_SCALE)).astype(np.int32)
    w1 = np.rint(frac * np.float32(_COEF_SCALE)).astype(np.int32)
    i0 = np.clip(first, 0, src - 1)
    i1 = np.clip(first + 1, 0, src - 1)
    return i0, i1, w0, w1


def cv2_resize_linear_u8(image: Tensor, height: int, width: int) -> Tensor:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`` for uint8 (C, H, W)."""
    if image.dtype != torch.uint8 or image.dim() != 3:
        raise ValueError(f"expected a uint8 (C, H, W) tensor, got {image.dtype} {tuple(image.shape)}")
    src_h, src_w = image.shape[-2:]
    if (src_h, src_w) == (height, width):
        return image.clone()
    if src_h == 2 * height and src_w == 2 * width:
        # OpenCV resizes an exact 2x downscale with INTER_AREA's 2x2 mean, rounding half up
        s = image.to(torch.int32).view(image.shape[0], height, 2, width, 2).sum(dim=(2, 4))
        return ((s + 2) >> 2).to(torch.uint8)
    device = image.device
    xi0, xi1, xw0, xw1 = (torch.from_numpy(a).to(device) for a in _linear_taps(src_w, width, clamp_weights=True))
    yi0, yi1, yw0, yw1 = (torch.from_numpy(a).to(device) for a in _linear_taps(src_h, height, clamp_weights=False))
    src = image.to(torch.int32)
    rows = src[:, :, xi0] * xw0 + src[:, :, xi1] * xw1  # (C, src_h, width), scaled by 2048
    top = rows[:, yi0, :] >> 4
    bottom = rows[:, yi1, :] >> 4
    # OpenCV's VResizeLinear for uint8: each product keeps its high 16 bits, then rounds by 2 bits
    out = (((yw0.view(1, -1, 1) * top) >> 16) + ((yw1.view(1, -1, 1) * bottom) >> 16) + 2) >> 2
    return out.clamp(0, 255).to(torch.uint8)


def pil_to_bgr(image: Image.Image) -> np.ndarray:
    """The uint8 (H, W, 3) BGR array OpenCV's decoder would give for this image.

    Alpha is dropped without compositing and greyscale is replicated, as ``cv2.IMREAD_COLOR`` does.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def preprocess_one(
    image: Image.Image, device: torch.device | str, scale: tuple[int, int] = RESIZE_SCALE
) -> tuple[Tensor, ImageMeta]:
    """One image through GenEval's pipeline: (3, H_pad, W_pad) float32 RGB, normalised, and its sizes."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    meta = image_meta(rgb.shape[0], rgb.shape[1], scale)
    chw = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).to(device)
    resized = cv2_resize_linear_u8(chw, *meta.resized)
    padded = torch.full((3, *meta.padded), PAD_VALUE, dtype=torch.uint8, device=chw.device)
    padded[:, : meta.resized[0], : meta.resized[1]] = resized
    return normalize(padded), meta


def normalize(image_u8: Tensor) -> Tensor:
    """``mmcv.imnormalize`` (to_rgb) of an RGB (C, H, W) uint8 tensor, rounded as OpenCV rounds it.

    ``cv2.subtract`` works in float32 with the mean rounded to float32; ``cv2.multiply`` by the float64
    reciprocal std multiplies in float64 and rounds the product to float32.
    """
    mean = torch.tensor(np.asarray(PIXEL_MEAN, dtype=np.float32), device=image_u8.device).view(3, 1, 1)
    inv_std = torch.tensor(1.0 / np.asarray(PIXEL_STD, dtype=np.float64), device=image_u8.device).view(3, 1, 1)
    centred = image_u8.to(torch.float32) - mean
    return (centred.to(torch.float64) * inv_std).to(torch.float32)
