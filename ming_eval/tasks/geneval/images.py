"""Reading generated images the way GenEval's evaluator sees them.

Upstream opens each file with PIL, applies ``ImageOps.exif_transpose`` and converts to RGB with
``Image.convert("RGB")``: an alpha channel is dropped (not composited over white), greyscale and
palette images are expanded, CMYK is converted by PIL. We do the same once, and hand the same RGB
image to the detector and to the colour classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ming_eval.errors import DataError

#: modes whose conversion to RGB loses information; noted in the image's details
_LOSSY_MODES = {
    "RGBA": "alpha dropped",
    "LA": "alpha dropped",
    "PA": "alpha dropped",
    "CMYK": "CMYK converted",
    "I": "16/32-bit values clipped",
    "I;16": "16-bit values clipped",
    "F": "float values clipped",
}

_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready for scoring, with notes on how it was converted."""

    path: Path
    image: Image.Image
    format: str | None
    mode: str
    notes: tuple[str, ...] = ()


def load_for_scoring(path: Path) -> LoadedImage:
    """Decode ``path`` fully (truncation is caught here), honour EXIF rotation, convert to RGB."""
    try:
        with Image.open(path) as opened:
            opened.load()
            fmt = opened.format
            mode = opened.mode
            transposed = ImageOps.exif_transpose(opened)
            rgb = (transposed if transposed is not None else opened).convert("RGB")
    except FileNotFoundError as exc:
        raise DataError(f"image {path} does not exist", hint="regenerate it (re-run the same command)") from exc
    except _DECODE_ERRORS as exc:
        raise DataError(
            f"cannot decode image {path}: {type(exc).__name__}: {exc}",
            hint="the file is corrupt or truncated; replace it (a `ming-eval run` regenerates a deleted image)",
        ) from exc
    notes = []
    if fmt != "PNG":
        notes.append(f"file holds {fmt} data, not PNG")
    if mode in _LOSSY_MODES:
        notes.append(f"mode {mode}: {_LOSSY_MODES[mode]}")
    return LoadedImage(path, rgb, fmt, mode, tuple(notes))


@dataclass(frozen=True)
class PngCheck:
    """A cheap check of one sample file: ``error`` makes it unusable, ``warning`` is only reported."""

    error: str | None = None
    warning: str | None = None


def check_png(path: Path) -> PngCheck:
    """Headers and chunk checksums, without decoding pixels (catches truncated and corrupt files)."""
    try:
        with Image.open(path) as img:
            fmt = img.format
            img.verify()
    except _DECODE_ERRORS as exc:
        return PngCheck(error=f"not a readable image ({type(exc).__name__}: {exc})")
    if fmt != "PNG":
        return PngCheck(warning=f"holds {fmt} data although it is named .png (scored as decoded by PIL)")
    return PngCheck()
