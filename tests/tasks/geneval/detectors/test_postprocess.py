"""mmdet's Mask2Former instance post-processing, on hand-built logits."""

from __future__ import annotations

import math

import numpy as np
import torch

from ming_eval.tasks.geneval.detectors.postprocess import (
    instance_postprocess,
    masks_to_boxes,
    select_top,
    upsample_masks,
)
from ming_eval.tasks.geneval.detectors.preprocess import ImageMeta


def test_select_top_ranks_query_class_pairs_and_drops_no_object() -> None:
    # 3 queries x (2 classes + no-object)
    logits = torch.log(
        torch.tensor(
            [
                [0.1, 0.6, 0.3],  # query 0: class 1 = 0.6
                [0.5, 0.2, 0.3],  # query 1: class 0 = 0.5
                [0.05, 0.05, 0.9],  # query 2: mostly "no object"
            ]
        )
    )
    probs, queries, labels = select_top(logits, 4)
    torch.testing.assert_close(probs, torch.tensor([0.6, 0.5, 0.2, 0.1]))
    assert queries.tolist() == [0, 1, 1, 0]
    assert labels.tolist() == [1, 0, 1, 0]
    # asking for more than queries x classes keeps them all
    assert select_top(logits, 100)[0].numel() == 6


def test_select_top_breaks_ties_by_lower_index() -> None:
    logits = torch.zeros(2, 3)  # every probability is 1/3
    _, queries, labels = select_top(logits, 3)
    assert list(zip(queries.tolist(), labels.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0)]


def test_masks_to_boxes_is_tight_and_exclusive_at_the_far_edge() -> None:
    masks = torch.zeros(3, 5, 6, dtype=torch.bool)
    masks[0, 1:3, 2:5] = True  # rows 1-2, cols 2-4
    masks[1, 4, 0] = True
    boxes = masks_to_boxes(masks)
    assert boxes.dtype == torch.float32
    assert boxes.tolist() == [[2, 1, 5, 3], [0, 4, 1, 5], [0, 0, 0, 0]]  # the empty mask gets zeros
    assert masks_to_boxes(torch.zeros(0, 4, 4, dtype=torch.bool)).shape == (0, 4)


def test_upsample_masks_crops_padding_before_resizing_to_the_original() -> None:
    meta = ImageMeta(original=(3, 2), resized=(6, 4), padded=(8, 8))
    logits = torch.full((1, 2, 2), -5.0)
    logits[0, 0, 0] = 5.0  # top-left quarter of the padded input
    out = upsample_masks(logits, meta)
    assert out.shape == (1, 3, 2)
    # by hand: (2,2) -> (8,8) bilinear, crop (6,4), -> (3,2) bilinear
    up = torch.nn.functional.interpolate(logits[None], size=(8, 8), mode="bilinear", align_corners=False)
    ref = torch.nn.functional.interpolate(up[:, :, :6, :4], size=(3, 2), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, ref[0])


def test_instance_postprocess_scores_masks_and_boxes() -> None:
    meta = ImageMeta(original=(4, 4), resized=(4, 4), padded=(4, 4))
    # 2 queries, 2 classes; mask logits already at the input size (stride 4 of a 16x16 input would be
    # 4x4, but identity sizes keep the arithmetic by hand)
    cls_logits = torch.log(torch.tensor([[0.7, 0.1, 0.2], [0.2, 0.4, 0.4]]))
    masks = torch.full((2, 4, 4), -3.0)
    masks[0, 0:2, 1:3] = 2.0  # query 0: 4 pixels at logit 2
    masks[1, 3, 3] = 1.0  # query 1: one pixel at logit 1
    masks[1, 2, 3] = 0.0  # logit 0 is not foreground (strict > 0)
    out = instance_postprocess(cls_logits, masks, meta, max_per_image=3)
    sig2, sig1 = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(-1))
    # kept pairs: (q0, c0) 0.7, (q1, c1) 0.4, (q1, c0) 0.2; score = prob * mean sigmoid over the mask
    expected = sorted(
        [(0.7 * sig2 * 4 / (4 + 1e-6), 0), (0.4 * sig1 / (1 + 1e-6), 1), (0.2 * sig1 / (1 + 1e-6), 0)], reverse=True
    )
    np.testing.assert_allclose(out.scores.numpy(), [s for s, _ in expected], rtol=1e-6)
    assert out.labels.tolist() == [lab for _, lab in expected]
    assert out.boxes.tolist() == [[1, 0, 3, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert out.masks.dtype == torch.bool and out.masks.shape == (3, 4, 4)
    assert int(out.masks[0].sum()) == 4 and int(out.masks[1].sum()) == 1
    det = out.to_detections()
    assert det.scores.dtype == np.float32 and det.boxes.dtype == np.float32
    assert det.labels.dtype == np.int64 and det.masks is not None and det.masks.dtype == np.bool_
    assert len(det) == 3


def test_instance_postprocess_empty_mask_scores_zero() -> None:
    meta = ImageMeta(original=(2, 2), resized=(2, 2), padded=(2, 2))
    out = instance_postprocess(torch.zeros(1, 2), torch.full((1, 2, 2), -1.0), meta, max_per_image=100)
    assert out.scores.tolist() == [0.0]
    assert out.boxes.tolist() == [[0, 0, 0, 0]]
