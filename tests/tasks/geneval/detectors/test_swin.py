"""Swin details that decide whether mmdet's weights compute the same function here."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ming_eval.tasks.geneval.detectors.swin import (
    PatchMerging,
    ShiftWindowMSA,
    relative_position_index,
    shifted_window_mask,
)


def test_relative_position_index_equals_mmdets_double_step_form() -> None:
    # mmdet: seq = (arange(0, (2w-1)*w, 2w-1)[:, None] + arange(w)[None]).flatten(); idx = (seq + seq.T) flipped
    w = 7
    seq = (torch.arange(0, (2 * w - 1) * w, 2 * w - 1)[:, None] + torch.arange(w)[None]).reshape(1, -1)
    mmdet = (seq + seq.T).flip(1)
    assert torch.equal(relative_position_index(w), mmdet)
    assert relative_position_index(w).max() == (2 * w - 1) ** 2 - 1


def test_patch_merging_uses_unfold_channel_order() -> None:
    torch.manual_seed(0)
    merge = PatchMerging(3, 5)
    x = torch.randn(2, 4 * 6, 3)
    out, hw = merge(x, (4, 6))
    unfolded = F.unfold(x.view(2, 4, 6, 3).permute(0, 3, 1, 2), kernel_size=2, stride=2).transpose(1, 2)
    assert hw == (2, 3)
    torch.testing.assert_close(out, merge.reduction(merge.norm(unfolded)))


def test_patch_merging_pads_odd_maps_at_the_bottom_right() -> None:
    merge = PatchMerging(2, 2)
    x = torch.randn(1, 3 * 5, 2)
    out, hw = merge(x, (3, 5))
    assert hw == (2, 3) and out.shape == (1, 6, 2)
    padded = F.pad(x.view(1, 3, 5, 2).permute(0, 3, 1, 2), (0, 1, 0, 1))
    unfolded = F.unfold(padded, kernel_size=2, stride=2).transpose(1, 2)
    torch.testing.assert_close(out, merge.reduction(merge.norm(unfolded)))


def test_shifted_window_mask_regions() -> None:
    mask = shifted_window_mask(14, 14, 7, 3, torch.device("cpu"))
    assert mask.shape == (4, 49, 49)
    assert (mask[0] == 0).all()  # the top-left window holds one region
    assert set(mask.unique().tolist()) == {-100.0, 0.0}
    # the bottom-right window mixes four regions: 4x4, 4x3, 3x4 and 3x3 tokens attend within themselves
    allowed = (mask[3] == 0).sum(dim=1)
    assert sorted(set(allowed.tolist())) == [9, 12, 16]


def test_window_attention_never_shrinks_the_window() -> None:
    # a 5x5 map with a 7x7 window: mmdet pads to 7x7 (and still shifts); output keeps the input size
    torch.manual_seed(0)
    attn = ShiftWindowMSA(8, 2, 7, 3)
    x = torch.randn(2, 25, 8)
    out = attn(x, (5, 5))
    assert out.shape == (2, 25, 8)
    unshifted = ShiftWindowMSA(8, 2, 7, 0)
    unshifted.load_state_dict(attn.state_dict())
    assert not torch.allclose(out, unshifted(x, (5, 5)))
