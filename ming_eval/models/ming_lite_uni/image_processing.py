"""Image preprocessing for the vision tower, as Ming-Lite-Uni's reference processor configures it.

The reference uses a Qwen2-VL image processor with ``min_pixels = max_pixels = 451584`` (672²), patch
14, temporal patch 2 and merge 2: every image is resized (PIL bicubic) to about 672² pixels with sides
that are multiples of 28, scaled to [0, 1], normalised with the CLIP mean and std, repeated over the
two temporal frames and cut into flattened 2x14x14 patches in the order the vision tower expects.
Unlike transformers' processor, images smaller than 28 pixels are resized rather than rejected.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ming_eval.models import qwen_vl

PIXELS = 451584  # 672 * 672: the reference sets min_pixels = max_pixels to this
PATCH = 14
MERGE = 2
TEMPORAL = 2
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def smart_resize(height: int, width: int, *, pixels: int = PIXELS) -> tuple[int, int]:
    """Qwen2-VL's resize rule with ``min_pixels = max_pixels = pixels``: sides that are multiples of
    28 with an area close to ``pixels``, keeping the aspect.

    Raises:
        DataError: the image is empty or its aspect ratio exceeds 200, which the vision tower rejects.
    """
    return qwen_vl.smart_resize(height, width, factor=PATCH * MERGE, min_pixels=pixels, max_pixels=pixels)


def preprocess(image: Image.Image, *, pixels: int = PIXELS) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Flattened patches ``(grid_h * grid_w, 3 * 2 * 14 * 14)`` and the grid ``(1, grid_h, grid_w)``."""
    rgb = image.convert("RGB")
    height, width = smart_resize(rgb.height, rgb.width, pixels=pixels)
    resized = rgb.resize((width, height), resample=Image.Resampling.BICUBIC)
    # Rescale in float64 then cast, normalise in float32: the reference's arithmetic, bit for bit.
    scaled = (np.asarray(resized, dtype=np.uint8).astype(np.float64) * (1 / 255)).astype(np.float32)
    normalized = np.divide(scaled - np.asarray(CLIP_MEAN, dtype=np.float32), np.asarray(CLIP_STD, dtype=np.float32))
    chw = torch.from_numpy(np.ascontiguousarray(normalized.transpose(2, 0, 1), dtype=np.float32))
    frames = chw.unsqueeze(0).expand(TEMPORAL, -1, -1, -1)  # a still image fills both temporal slots
    grid_h, grid_w = height // PATCH, width // PATCH
    patches = frames.reshape(TEMPORAL, 3, grid_h // MERGE, MERGE, PATCH, grid_w // MERGE, MERGE, PATCH)
    # -> (h/2, w/2, 2, 2, channel, temporal, 14, 14): merge groups stay contiguous for the patch merger
    patches = patches.permute(2, 5, 3, 6, 1, 0, 4, 7)
    flat = patches.reshape(grid_h * grid_w, 3 * TEMPORAL * PATCH * PATCH).contiguous()
    return flat, (1, grid_h, grid_w)


def merged_tokens(grid: tuple[int, int, int]) -> int:
    """How many LLM tokens an image of this grid becomes (one per 2x2 merged patch)."""
    t, h, w = grid
    return t * h * w // (MERGE * MERGE)
