"""Mask2Former's instance post-processing, as mmdetection does it (``MaskFormerFusionHead``).

Per image: mask logits (stride 4) are upsampled bilinearly to the padded input size, cropped to the
resized image, upsampled again to the original size; class probabilities are the softmax without the
"no object" column; the top ``max_per_image`` (query, class) pairs by probability are kept; each one's
score is its probability times the mean sigmoid of its mask logits over the pixels where the logit is
positive; its mask is ``logit > 0`` and its box is the mask's tight box ``[x1, y1, x2 + 1, y2 + 1]``
(all zeros for an empty mask).

mmdet takes the top-k unsorted, so its output order is arbitrary. Here the kept pairs are chosen by a
stable descending sort (ties go to the lower query, then class, index) and the detections are returned
sorted by final score, highest first (stable). GenEval sorts each class by score itself, so this only
fixes an order mmdet leaves open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ming_eval.tasks.geneval.detection import Detections
from ming_eval.tasks.geneval.detectors.preprocess import ImageMeta


@dataclass
class InstanceOutput:
    """Tensors of one image's kept instances (on the model's device)."""

    labels: Tensor  # (N,) int64
    scores: Tensor  # (N,) float32
    boxes: Tensor  # (N, 4) float32
    masks: Tensor  # (N, H, W) bool

    def to_detections(self) -> Detections:
        return Detections(
            boxes=self.boxes.cpu().numpy().astype(np.float32, copy=False),
            scores=self.scores.cpu().numpy().astype(np.float32, copy=False),
            labels=self.labels.cpu().numpy().astype(np.int64, copy=False),
            masks=self.masks.cpu().numpy(),
        )


def select_top(cls_logits: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Top-``k`` (query, class) pairs by class probability: (probabilities, query indices, labels)."""
    num_classes = cls_logits.shape[-1] - 1
    probs = F.softmax(cls_logits.float(), dim=-1)[:, :-1].flatten()
    k = min(k, probs.numel())
    order = torch.sort(probs, descending=True, stable=True).indices[:k]
    return probs[order], order // num_classes, order % num_classes


def upsample_masks(mask_logits: Tensor, meta: ImageMeta) -> Tensor:
    """(N, h/4, w/4) stride-4 logits -> (N, H, W) logits at the original image size, as mmdet does."""
    x = F.interpolate(mask_logits[:, None].float(), size=meta.padded, mode="bilinear", align_corners=False)
    x = x[:, :, : meta.resized[0], : meta.resized[1]]
    x = F.interpolate(x, size=meta.original, mode="bilinear", align_corners=False)
    return x[:, 0]


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Tight ``[x1, y1, x2 + 1, y2 + 1]`` boxes of boolean masks (N, H, W); zeros for empty masks."""
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.float32, device=masks.device)
    cols = masks.any(dim=1)  # (N, W)
    rows = masks.any(dim=2)  # (N, H)
    xs = torch.arange(w, device=masks.device)
    ys = torch.arange(h, device=masks.device)
    x1 = torch.where(cols, xs, w).min(dim=1).values
    x2 = torch.where(cols, xs, -1).max(dim=1).values + 1
    y1 = torch.where(rows, ys, h).min(dim=1).values
    y2 = torch.where(rows, ys, -1).max(dim=1).values + 1
    boxes = torch.stack((x1, y1, x2, y2), dim=1).to(torch.float32)
    empty = ~(cols.any(dim=1) & rows.any(dim=1))
    return torch.where(empty[:, None], torch.zeros_like(boxes), boxes)


def instance_postprocess(
    cls_logits: Tensor, mask_logits: Tensor, meta: ImageMeta, max_per_image: int
) -> InstanceOutput:
    """One image: ``cls_logits`` (Q, classes+1), ``mask_logits`` (Q, h/4, w/4) at the padded input."""
    probs, queries, labels = select_top(cls_logits, max_per_image)
    # upsample each chosen query's mask once, even when it was kept for several classes
    unique, inverse = torch.unique(queries, return_inverse=True)
    logits = upsample_masks(mask_logits[unique], meta)[inverse]
    positive = logits > 0
    pos_f = positive.to(logits.dtype)
    mask_scores = (logits.sigmoid() * pos_f).flatten(1).sum(1) / (pos_f.flatten(1).sum(1) + 1e-6)
    scores = probs * mask_scores
    order = torch.sort(scores, descending=True, stable=True).indices
    masks = positive[order]
    return InstanceOutput(labels=labels[order], scores=scores[order], boxes=masks_to_boxes(masks), masks=masks)
