"""Mask2Former's transformer decoder and prediction heads (mmdetection's ``Mask2FormerHead``), and the
whole network. Names follow mmdet 3.x so its state dict loads as is (see ``convert.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ming_eval.tasks.geneval.detectors.config import Mask2FormerConfig
from ming_eval.tasks.geneval.detectors.pixel_decoder import MSDeformAttnPixelDecoder, sine_position_encoding
from ming_eval.tasks.geneval.detectors.swin import FFN, SwinBackbone


class MultiheadAttention(nn.Module):
    """mmcv's wrapper: positions are added to query and key (not value), the residual is the query."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(
        self, query: Tensor, key: Tensor, query_pos: Tensor, key_pos: Tensor, attn_mask: Tensor | None = None
    ) -> Tensor:
        out = self.attn(query + query_pos, key + key_pos, key, attn_mask=attn_mask, need_weights=False)[0]
        return query + out


class DecoderLayer(nn.Module):
    """Masked cross-attention, norm, self-attention, norm, FFN, norm."""

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads)
        self.cross_attn = MultiheadAttention(dim, heads)
        self.ffn = FFN(dim, ffn, nn.ReLU(inplace=True))
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(3)])

    def forward(
        self, query: Tensor, query_pos: Tensor, memory: Tensor, memory_pos: Tensor, attn_mask: Tensor
    ) -> Tensor:
        query = self.norms[0](self.cross_attn(query, memory, query_pos, memory_pos, attn_mask))
        query = self.norms[1](self.self_attn(query, query, query_pos, query_pos))
        return self.norms[2](self.ffn(query))


class TransformerDecoder(nn.Module):
    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(cfg.feat_channels, cfg.decoder_heads, cfg.decoder_ffn_channels)
            for _ in range(cfg.decoder_layers)
        )
        self.post_norm = nn.LayerNorm(cfg.feat_channels)


class Mask2FormerHead(nn.Module):
    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        feat = cfg.feat_channels
        self.pixel_decoder = MSDeformAttnPixelDecoder(cfg)
        self.transformer_decoder = TransformerDecoder(cfg)
        self.query_embed = nn.Embedding(cfg.num_queries, feat)
        self.query_feat = nn.Embedding(cfg.num_queries, feat)
        self.level_embed = nn.Embedding(cfg.num_feature_levels, feat)
        self.cls_embed = nn.Linear(feat, cfg.num_classes + 1)
        self.mask_embed = nn.Sequential(
            nn.Linear(feat, feat),
            nn.ReLU(inplace=True),
            nn.Linear(feat, feat),
            nn.ReLU(inplace=True),
            nn.Linear(feat, cfg.out_channels),
        )

    def _predict(
        self, query: Tensor, mask_features: Tensor, attn_size: tuple[int, int], need_mask: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        out = self.transformer_decoder.post_norm(query)
        cls_logits = self.cls_embed(out)
        mask_logits = torch.einsum("bqc,bchw->bqhw", self.mask_embed(out), mask_features)
        if not need_mask:
            return cls_logits, mask_logits, None
        resized = F.interpolate(mask_logits, attn_size, mode="bilinear", align_corners=False)
        # True = may not attend; a query whose mask is empty everywhere attends everywhere instead
        attn_mask = resized.flatten(2).sigmoid() < 0.5
        attn_mask = attn_mask & (attn_mask.sum(-1) != attn_mask.shape[-1]).unsqueeze(-1)
        heads = self.cfg.decoder_heads
        attn_mask = attn_mask.unsqueeze(1).expand(-1, heads, -1, -1).flatten(0, 1)
        return cls_logits, mask_logits, attn_mask

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Class logits (B, Q, classes+1) and mask logits (B, Q, H/4, W/4) of the last decoder layer."""
        cfg = self.cfg
        b = feats[0].shape[0]
        mask_features, memories = self.pixel_decoder(feats)
        keys, key_pos, sizes = [], [], []
        for i, memory in enumerate(memories):
            h, w = memory.shape[-2:]
            keys.append(memory.flatten(2).transpose(1, 2) + self.level_embed.weight[i].view(1, 1, -1))
            pos = sine_position_encoding(b, h, w, cfg.feat_channels // 2, memory.device, memory.dtype)
            key_pos.append(pos.flatten(2).transpose(1, 2))
            sizes.append((h, w))
        query = self.query_feat.weight.unsqueeze(0).expand(b, -1, -1)
        query_pos = self.query_embed.weight.unsqueeze(0).expand(b, -1, -1)
        levels = cfg.num_feature_levels
        cls_logits, mask_logits, attn_mask = self._predict(query, mask_features, sizes[0], need_mask=True)
        for i, layer in enumerate(self.transformer_decoder.layers):
            level = i % levels
            assert attn_mask is not None
            query = layer(query, query_pos, keys[level], key_pos[level], attn_mask)
            last = i == len(self.transformer_decoder.layers) - 1
            cls_logits, mask_logits, attn_mask = self._predict(
                query, mask_features, sizes[(i + 1) % levels], need_mask=not last
            )
        return cls_logits, mask_logits


class Mask2Former(nn.Module):
    """Swin backbone + Mask2Former head; input is the normalised, padded batch (B, 3, H, W)."""

    def __init__(self, cfg: Mask2FormerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = SwinBackbone(cfg)
        self.panoptic_head = Mask2FormerHead(cfg)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.panoptic_head(self.backbone(images))
