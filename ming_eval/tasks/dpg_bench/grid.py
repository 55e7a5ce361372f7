"""DPG-Bench's image layout: the images of one prompt tiled into one ``<item_id>.png``.

Upstream's scorer opens ``<item_id>.png`` and crops ``pic_num`` (1 to 4, 4 in ``dist_eval.sh``)
square tiles of side ``resolution`` from it, in the order top-left, top-right, bottom-left,
bottom-right. We write exactly that layout: one tile is the image itself, two tiles sit side by
side, three or four fill a 2x2 grid (with three, the bottom-right quarter is black and never read).

Upstream never checks the size: PIL pads a crop that runs off the image with black, and crops the
wrong region of a grid made at another resolution, so a wrong-sized grid is scored without a word.
We refuse it (:func:`split_grid`), naming the file, the size found and the size expected.

Tiles are handed on as RGB. Upstream passes each crop in the file's own mode and ModelScope's mPLUG
preprocessor converts it with ``convert("RGB")``; the conversion is per pixel, so converting before
or after cropping gives the same pixels. Like upstream, we apply no EXIF rotation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ming_eval.errors import DataError, MingEvalError

MAX_TILES = 4
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)

Box = tuple[int, int, int, int]


def tile_boxes(resolution: int, tiles: int) -> list[Box]:
    """The (left, top, right, bottom) crop of each tile, in upstream's order."""
    if not 1 <= tiles <= MAX_TILES:
        raise MingEvalError(
            f"DPG-Bench stores 1 to {MAX_TILES} images per prompt, not {tiles}",
            hint="upstream's scorer crops at most a 2x2 grid; use 4 images per prompt (the protocol)",
        )
    if resolution < 1:
        raise MingEvalError(f"tile resolution must be a positive number of pixels, not {resolution}")
    r = resolution
    return [(0, 0, r, r), (r, 0, 2 * r, r), (0, r, r, 2 * r), (r, r, 2 * r, 2 * r)][:tiles]


def grid_size(resolution: int, tiles: int) -> tuple[int, int]:
    """(width, height) of the grid holding ``tiles`` tiles: the smallest image with every crop."""
    boxes = tile_boxes(resolution, tiles)
    return max(b[2] for b in boxes), max(b[3] for b in boxes)


def make_grid(images: Sequence[Image.Image], *, item_id: str) -> Image.Image:
    """Tile the images of prompt ``item_id`` (equal squares) into one RGB grid image."""
    if not images:
        raise MingEvalError(f"no images to tile for DPG-Bench item {item_id}")
    side = images[0].width
    sizes = {im.size for im in images}
    if sizes != {(side, side)}:
        found = ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
        raise DataError(
            f"DPG-Bench item {item_id}: images of {found}; the grid needs equal square tiles",
            hint="generate every image of a prompt at the same square size (the model card's protocol)",
        )
    grid = Image.new("RGB", grid_size(side, len(images)))
    for im, box in zip(images, tile_boxes(side, len(images)), strict=True):
        grid.paste(im.convert("RGB"), box[:2])
    return grid


def write_grid(path: Path, images: Sequence[Image.Image], *, item_id: str) -> None:
    """Write the grid of ``images`` to ``path`` as PNG, atomically (a reader never sees half a file)."""
    grid = make_grid(images, item_id=item_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    grid.save(part, format="PNG")
    os.replace(part, path)


def split_grid(path: Path, *, resolution: int, tiles: int) -> list[Image.Image]:
    """The RGB tiles of the grid at ``path``, in upstream's order.

    Raises :class:`DataError` if the file is missing or cannot be decoded, or if its size is not
    exactly that of a grid of ``tiles`` tiles of ``resolution`` pixels.
    """
    expected = grid_size(resolution, tiles)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.convert("RGB")
    except FileNotFoundError as exc:
        raise DataError(
            f"DPG-Bench image {path} does not exist",
            hint="generate it (re-run the same command) or score with --allow-incomplete",
        ) from exc
    except _DECODE_ERRORS as exc:
        raise DataError(
            f"cannot decode DPG-Bench image {path}: {type(exc).__name__}: {exc}",
            hint="the file is corrupt or truncated; delete it and generate it again",
        ) from exc
    if image.size != expected:
        w, h = expected
        raise DataError(
            f"DPG-Bench image {path} is {image.width}x{image.height}; {tiles} tile(s) of {resolution} px "
            f"need a {w}x{h} grid",
            hint="pass the tile resolution the images were generated at, or regenerate the grid",
        )
    return [image.crop(box) for box in tile_boxes(resolution, tiles)]
