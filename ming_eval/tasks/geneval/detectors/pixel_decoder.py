"""Mask2Former's pixel decoder: multi-scale deformable attention over the three coarsest backbone levels,
then a top-down path to stride 4. Equivalent to mmdetection's ``MSDeformAttnPixelDecoder`` (names follow
its 3.x layout), with deformable attention written in plain PyTorch (``grid_sample``) instead of mmcv's
compiled kernel; the two compute the same bilinear sampling with zero padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ming_eval.tasks.geneval.detectors.config import Mask2FormerConfig
from ming_eval.tasks.geneval.detectors.swin import FFN


def sine_position_encoding(
    batch: int, height: int, width: int, num_feats: int, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """DETR's normalised sine encoding for an unpadded map: (B, 2*num_feats, H, W), y features first.

    mmdet computes it from an all-valid mask (cumulative sums 1..H, 1..W, no 0.5 offset) in float32.
    """
    y = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    x = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    eps, scale = 1e-6, 2 * math.pi
    y = y / (y[-1:] + eps) * scale
    x = x / (x[-1:] + eps) * scale
    steps = torch.arange(num_feats, dtype=torch.float32, device=device)
    dim_t = 10000 ** (2 * (steps // 2) / num_feats)

    def encode(v: Tensor) -> Tensor:
        p = v[:, None] / dim_t
        return torch.stack((p[:, 0::2].sin(), p[:, 1::2].cos()), dim=2).flatten(1)  # (L, num_feats)

    pos_y = encode(y)[:, None, :].expand(height, width, num_feats)
    pos_x = encode(x)[None, :, :].expand(height, width, num_feats)
    pos = torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1)
    return pos.unsqueeze(0).expand(batch, -1, -1, -1).to(dtype)


def ms_deform_attn(value: Tensor, shapes: list[tuple[int, int]], locations: Tensor, weights: Tensor) -> Tensor:
    """Multi-scale deformable attention core.

    Args:
        value: (B, sum(H*W), heads, head_dim).
        shapes: (H, W) of each level, in the order the values are concatenated.
        locations: (B, Q, heads, levels, points, 2) sampling points, (x, y) in [0, 1].
        weights: (B, Q, heads, levels, points), softmax-normalised over levels*points.

    Returns:
        (B, Q, heads*head_dim).
    """
    b, _, heads, dim = value.shape
    _, q, _, levels, points, _ = locations.shape
    grids = 2 * locations - 1
    sampled = []
    start = 0
    for level, (h, w) in enumerate(shapes):
        v = value[:, start : start + h * w].permute(0, 2, 3, 1).reshape(b * heads, dim, h, w)
        start += h * w
        g = grids[:, :, :, level].transpose(1, 2).reshape(b * heads, q, points, 2)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
    stacked = torch.stack(sampled, dim=-2).flatten(-2)  # (B*heads, dim, Q, levels*points)
    flat_weights = weights.transpose(1, 2).reshape(b * heads, 1, q, levels * points)
    out = (stacked * flat_weights).sum(-1).view(b, heads * dim, q)
    return out.transpose(1, 2)


class MultiScaleDeformableAttention(nn.Module):
    def __init__(self, dim: int, heads: int, levels: int, points: int) -> None:
        super().__init__()
        self.heads, self.levels, self.points = heads, levels, points
        self.sampling_offsets = nn.Linear(dim, heads * levels * points * 2)
        self.attention_weights = nn.Linear(dim, heads * levels * points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, pos: Tensor, reference: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        """``x``/``pos``: (B, N, C); ``reference``: (B, N, levels, 2). Returns ``x`` + attention."""
        b, n, _ = x.shape
        query = x + pos
        value = self.value_proj(x).view(b, n, self.heads, -1)
        offsets = self.sampling_offsets(query).view(b, n, self.heads, self.levels, self.points, 2)
        weights = self.attention_weights(query).view(b, n, self.heads, self.levels * self.points)
        weights = weights.softmax(-1).view(b, n, self.heads, self.levels, self.points)
        normalizer = torch.tensor([[w, h] for h, w in shapes], dtype=x.dtype, device=x.device)
        locations = reference[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
        out = ms_deform_attn(value, shapes, locations, weights)
        return x + self.output_proj(out)


class EncoderLayer(nn.Module):
    """Post-norm layer: deformable self-attention, norm, FFN, norm."""

    def __init__(self, dim: int, heads: int, levels: int, points: int, ffn: int) -> None:
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention(dim, heads, levels, points)
        self.ffn = FFN(dim, ffn, nn.ReLU(inplace=True))
        self.norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)])

    def forward(self, x: Tensor, pos: Tensor, reference: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        x = self.norms[0](self.self_attn(x, pos, reference, shapes))
        return self.norms[1](self.ffn(x))


class Encoder(nn.Module):
    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(
                cfg.feat_channels,
                cfg.encoder_heads,
                cfg.num_feature_levels,
                cfg.encoder_points,
                cfg.encoder_ffn_channels,
            )
            for _ in range(cfg.encoder_layers)
        )

    def forward(self, x: Tensor, pos: Tensor, reference: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos, reference, shapes)
        return x


class ConvGN(nn.Module):
    """Conv2d + GroupNorm (+ ReLU); keys ``conv.*`` and ``gn.*`` like mmcv's ConvModule."""

    def __init__(self, cin: int, cout: int, kernel: int, groups: int, bias: bool, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
        self.gn = nn.GroupNorm(groups, cout)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.gn(self.conv(x))
        return F.relu(x) if self.relu else x


class MSDeformAttnPixelDecoder(nn.Module):
    """Returns the stride-4 mask features and the encoder's maps (strides 32, 16, 8, in that order)."""

    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans, feat, levels = cfg.stage_channels, cfg.feat_channels, cfg.num_feature_levels
        n_in = len(chans)
        # encoder levels, coarsest first: backbone levels n_in-1, n_in-2, ...
        self.input_convs = nn.ModuleList(
            ConvGN(chans[n_in - 1 - i], feat, 1, cfg.norm_groups, bias=True, relu=False) for i in range(levels)
        )
        self.encoder = Encoder(cfg)
        self.level_encoding = nn.Embedding(levels, feat)
        # top-down levels below the encoder ones, listed finest first like mmdet's index i
        fpn = n_in - levels
        self.lateral_convs = nn.ModuleList(
            ConvGN(chans[i], feat, 1, cfg.norm_groups, bias=False, relu=False) for i in range(fpn)
        )
        self.output_convs = nn.ModuleList(
            ConvGN(feat, feat, 3, cfg.norm_groups, bias=False, relu=True) for _ in range(fpn)
        )
        self.mask_feature = nn.Conv2d(feat, cfg.out_channels, kernel_size=1)

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        cfg = self.cfg
        b = feats[0].shape[0]
        n_in, levels = len(feats), cfg.num_feature_levels
        inputs, positions, references, shapes = [], [], [], []
        for i in range(levels):
            level = n_in - 1 - i
            feat = feats[level]
            h, w = feat.shape[-2:]
            projected = self.input_convs[i](feat)
            pos = sine_position_encoding(b, h, w, cfg.feat_channels // 2, feat.device, feat.dtype)
            pos = pos + self.level_encoding.weight[i].view(1, -1, 1, 1)
            stride = cfg.strides[level]
            # mmdet's point generator: centres (x + 0.5) * stride, normalised by the map size in pixels
            xs = (torch.arange(w, device=feat.device) + 0.5) * stride
            ys = (torch.arange(h, device=feat.device) + 0.5) * stride
            yy, xx = torch.meshgrid(ys, xs, indexing="ij")
            ref = torch.stack((xx.reshape(-1), yy.reshape(-1)), dim=-1)
            ref = ref / (torch.tensor([[w, h]], dtype=ref.dtype, device=ref.device) * stride)
            inputs.append(projected.flatten(2).transpose(1, 2))
            positions.append(pos.flatten(2).transpose(1, 2))
            references.append(ref)
            shapes.append((h, w))
        x = torch.cat(inputs, dim=1)
        pos_all = torch.cat(positions, dim=1)
        reference = torch.cat(references, dim=0).to(x.dtype)[None, :, None].expand(b, -1, levels, -1)
        memory = self.encoder(x, pos_all, reference, shapes)
        outs: list[Tensor] = []
        start = 0
        for h, w in shapes:
            outs.append(memory[:, start : start + h * w].transpose(1, 2).reshape(b, -1, h, w))
            start += h * w
        for i in range(n_in - levels - 1, -1, -1):
            lateral = self.lateral_convs[i](feats[i])
            y = lateral + F.interpolate(outs[-1], size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            outs.append(self.output_convs[i](y))
        return self.mask_feature(outs[-1]), outs[:levels]
