"""Swin Transformer backbone, numerically equivalent to mmdetection's ``SwinTransformer``.

Parameter names follow mmdetection 3.x (``stages.{i}.blocks.{j}.attn.w_msa.qkv`` ...), so an mmdet
checkpoint loads without renaming. Behaviour that differs from other Swin ports and matters for
matching mmdet (and so GenEval) exactly:

- windows are never shrunk for small feature maps: the map is zero-padded to a multiple of the window
  size (after ``norm1``) and shifted blocks always shift by ``window // 2``;
- patch merging concatenates each 2x2 neighbourhood in ``nn.Unfold`` order (channel, row, column),
  not in the original Swin's (x0, x1, x2, x3) order;
- the qkv projection is one linear layer and queries are scaled before the product.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ming_eval.tasks.geneval.detectors.config import Mask2FormerConfig


def relative_position_index(window: int) -> Tensor:
    """Index into the ``(2w-1)^2`` bias table for every (query, key) pair of a ``w x w`` window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return rel[0] * (2 * window - 1) + rel[1]


def shifted_window_mask(height: int, width: int, window: int, shift: int, device: torch.device) -> Tensor:
    """Additive mask (-100 between tokens from different regions) for the cyclically shifted map."""
    region = torch.zeros(height, width, device=device)
    bounds = ((0, -window), (-window, -shift), (-shift, None))
    label = 0
    for h0, h1 in bounds:
        for w0, w1 in bounds:
            region[slice(h0, h1), slice(w0, w1)] = label
            label += 1
    windows = region.view(height // window, window, width // window, window).permute(0, 2, 1, 3)
    windows = windows.reshape(-1, window * window)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0)


class WindowMSA(nn.Module):
    """Multi-head self-attention inside non-overlapping windows, with relative position bias."""

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """``x``: (windows*B, N, C); ``mask``: (windows, N, N) or None."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        index = self.get_buffer("relative_position_index")
        bias = self.relative_position_bias_table[index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class ShiftWindowMSA(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.w_msa = WindowMSA(dim, heads, window)

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        b, _, c = x.shape
        h, w = hw
        win = self.window
        x = x.view(b, h, w, c)
        pad_r, pad_b = (win - w % win) % win, (win - h % win) % win
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        mask = None
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = shifted_window_mask(hp, wp, win, self.shift, x.device).to(x.dtype)
        windows = x.view(b, hp // win, win, wp // win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, win * win, c)
        out = self.w_msa(windows, mask)
        out = out.view(b, hp // win, wp // win, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if self.shift > 0:
            out = torch.roll(out, shifts=(self.shift, self.shift), dims=(1, 2))
        return out[:, :h, :w, :].reshape(b, h * w, c)


class FFN(nn.Module):
    """Two linear layers with an activation and a residual; keys ``layers.0.0`` and ``layers.1``."""

    def __init__(self, dim: int, hidden: int, activation: nn.Module) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hidden), activation), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, identity: Tensor | None = None) -> Tensor:
        return (x if identity is None else identity) + self.layers(x)


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: bool, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftWindowMSA(dim, heads, window, window // 2 if shift else 0)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, dim * mlp_ratio, nn.GELU())

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        x = x + self.attn(self.norm1(x), hw)
        return self.ffn(self.norm2(x), identity=x)


class PatchMerging(nn.Module):
    """2x2 space-to-depth in ``nn.Unfold`` channel order, LayerNorm, linear reduction to 2C."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: Tensor, hw: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
        b, _, c = x.shape
        h, w = hw
        x = x.view(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
            h, w = h + h % 2, w + w % 2
        # (B, H/2, 2, W/2, 2, C) -> (B, H/2, W/2, C, 2, 2): feature index = c*4 + row*2 + col
        x = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 5, 2, 4).reshape(b, (h // 2) * (w // 2), 4 * c)
        return self.reduction(self.norm(x)), (h // 2, w // 2)


class SwinStage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: int, downsample: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, shift=i % 2 == 1, mlp_ratio=mlp_ratio) for i in range(depth)
        )
        self.downsample = PatchMerging(dim, 2 * dim) if downsample else None

    def forward(self, x: Tensor, hw: tuple[int, int]) -> tuple[Tensor, tuple[int, int], Tensor, tuple[int, int]]:
        for block in self.blocks:
            x = block(x, hw)
        if self.downsample is None:
            return x, hw, x, hw
        down, down_hw = self.downsample(x, hw)
        return down, down_hw, x, hw


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.projection = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        h, w = x.shape[-2:]
        p = self.patch
        x = F.pad(x, (0, (p - w % p) % p, 0, (p - h % p) % p))
        x = self.projection(x)
        hw = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


class SwinBackbone(nn.Module):
    """Returns the four stage outputs (strides 4, 8, 16, 32) as (B, C_i, H_i, W_i) maps."""

    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(cfg.embed_dims, cfg.patch_size)
        dims = cfg.stage_channels
        self.stages = nn.ModuleList(
            SwinStage(
                dims[i],
                cfg.depths[i],
                cfg.num_heads[i],
                cfg.window_size,
                cfg.mlp_ratio,
                downsample=i < len(cfg.depths) - 1,
            )
            for i in range(len(cfg.depths))
        )
        for i, dim in enumerate(dims):
            self.add_module(f"norm{i}", nn.LayerNorm(dim))
        self.dims = dims

    def forward(self, x: Tensor) -> list[Tensor]:
        x, hw = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw, out, out_hw = stage(x, hw)
            out = getattr(self, f"norm{i}")(out)
            outs.append(out.view(-1, out_hw[0], out_hw[1], self.dims[i]).permute(0, 3, 1, 2).contiguous())
        return outs
