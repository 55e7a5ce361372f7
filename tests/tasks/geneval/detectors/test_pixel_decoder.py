"""Deformable attention and the sine encoding, against direct per-point formulas."""

from __future__ import annotations

import math

import torch

from ming_eval.tasks.geneval.detectors.pixel_decoder import ms_deform_attn, sine_position_encoding


def _bilinear_zero_padded(v: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Sample v (C, H, W) at normalised (x, y), pixel centres at (i + 0.5) / size, zeros outside."""
    _, h, w = v.shape
    px, py = x * w - 0.5, y * h - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(v.shape[0])
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - abs(px - xi)) * (1 - abs(py - yi))
            if 0 <= xi < w and 0 <= yi < h:
                out += weight * v[:, yi, xi]
    return out


def test_ms_deform_attn_matches_per_point_bilinear_sampling() -> None:
    torch.manual_seed(0)
    b, heads, dim, points = 2, 2, 3, 2
    shapes = [(3, 4), (2, 2)]
    value = torch.randn(b, sum(h * w for h, w in shapes), heads, dim)
    q = 5
    locations = torch.rand(b, q, heads, len(shapes), points, 2) * 1.4 - 0.2  # some fall outside
    weights = torch.rand(b, q, heads, len(shapes), points)
    out = ms_deform_attn(value, shapes, locations, weights)
    assert out.shape == (b, q, heads * dim)
    for bi in range(b):
        for qi in range(q):
            for hi in range(heads):
                acc = torch.zeros(dim)
                start = 0
                for li, (h, w) in enumerate(shapes):
                    v = value[bi, start : start + h * w, hi].T.reshape(dim, h, w)
                    start += h * w
                    for pi in range(points):
                        x, y = locations[bi, qi, hi, li, pi].tolist()
                        acc += weights[bi, qi, hi, li, pi] * _bilinear_zero_padded(v, x, y)
                torch.testing.assert_close(out[bi, qi, hi * dim : (hi + 1) * dim], acc, rtol=1e-5, atol=1e-5)


def test_sine_position_encoding_formula() -> None:
    pos = sine_position_encoding(2, 3, 4, 8, torch.device("cpu"), torch.float32)
    assert pos.shape == (2, 16, 3, 4)
    y, x = 2, 1  # row 2 of 3, column 1 of 4: cumulative counts 3 and 2
    ny, nx = 3 / (3 + 1e-6) * 2 * math.pi, 2 / (4 + 1e-6) * 2 * math.pi
    for k in range(8):
        t = 10000 ** (2 * (k // 2) / 8)
        fn = math.sin if k % 2 == 0 else math.cos
        assert abs(pos[1, k, y, x].item() - fn(ny / t)) < 1e-6  # y features first
        assert abs(pos[1, 8 + k, y, x].item() - fn(nx / t)) < 1e-6
