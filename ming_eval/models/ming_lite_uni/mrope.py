"""3D RoPE positions for Ming-Lite-Uni's LLM (the Qwen2.5-VL scheme with Ming's image tokens).

Text tokens advance one position on all three axes (temporal, height, width). A run of image patch
tokens for an image whose merged grid is ``h x w`` gets positions ``(start, start + row,
start + col)``; the next token continues at the largest position so far plus one. Ming's multi-scale
generation queries are laid out as 1-D images of grid ``1 x n`` (``learnable_queries_1d``), so the
``n`` queries of a scale share their temporal and height positions and count up in width.

This matches ``get_rope_index`` of the reference's ``modeling_qwen2_native.py`` for still images and
transformers' ``Qwen2_5_VLModel.get_rope_index``; the tests check both claims.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MROPE_SECTION = (16, 24, 24)  # hard-coded by the reference for its 128-dim heads


def positions(tokens: Sequence[int], grids: Sequence[tuple[int, int]], patch_id: int) -> torch.Tensor:
    """Positions ``(3, len(tokens))`` for one unpadded sequence.

    ``grids`` lists the merged grid ``(rows, cols)`` of each image run of ``patch_id`` tokens, in order.

    Raises:
        ValueError: the patch runs and the grids disagree.
    """
    out = torch.empty(3, len(tokens), dtype=torch.long)
    cursor = 0  # index into tokens
    next_pos = 0  # first position of the next text token
    for rows, cols in grids:
        try:
            start = tokens.index(patch_id, cursor)
        except ValueError:
            raise ValueError(f"{len(grids)} image grids but fewer image-patch runs in the sequence") from None
        n_text = start - cursor
        out[:, cursor:start] = torch.arange(next_pos, next_pos + n_text)
        base = next_pos + n_text
        count = rows * cols
        if list(tokens[start : start + count]) != [patch_id] * count:
            raise ValueError(f"an image of {rows}x{cols} merged patches needs {count} consecutive patch tokens")
        row_idx = torch.arange(rows).repeat_interleave(cols)
        col_idx = torch.arange(cols).repeat(rows)
        out[0, start : start + count] = base
        out[1, start : start + count] = base + row_idx
        out[2, start : start + count] = base + col_idx
        next_pos = base + max(rows, cols)
        cursor = start + count
    if patch_id in tokens[cursor:]:
        raise ValueError("more image-patch runs in the sequence than image grids")
    out[:, cursor:] = torch.arange(next_pos, next_pos + len(tokens) - cursor)
    return out


def batch_positions(
    rows: Sequence[Sequence[int]], grids: Sequence[Sequence[tuple[int, int]]], patch_id: int, length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``(3, batch, length)`` for left-padded rows, and each row's next position ``(batch,)``.

    Padding positions are 1 (as transformers does); they are masked out of attention anyway.
    """
    out = torch.ones(3, len(rows), length, dtype=torch.long)
    following = torch.empty(len(rows), dtype=torch.long)
    for i, (tokens, row_grids) in enumerate(zip(rows, grids, strict=True)):
        pos = positions(tokens, row_grids, patch_id)
        out[:, i, length - len(tokens) :] = pos
        following[i] = int(pos.max()) + 1 if len(tokens) else 0
    return out, following
