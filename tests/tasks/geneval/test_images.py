"""Images as GenEval's evaluator sees them: RGB, alpha dropped, EXIF applied; bad files named."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.images import check_png, load_for_scoring


def test_rgba_drops_alpha_like_pil_convert(tmp_path):
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0] = 200
    arr[..., 3] = 0  # fully transparent red: upstream still sees red
    path = tmp_path / "0000.png"
    Image.fromarray(arr, "RGBA").save(path)
    loaded = load_for_scoring(path)
    assert loaded.image.mode == "RGB" and loaded.image.getpixel((0, 0)) == (200, 0, 0)
    assert loaded.notes == ("mode RGBA: alpha dropped",)


def test_greyscale_and_palette(tmp_path):
    Image.new("L", (4, 4), 77).save(tmp_path / "l.png")
    assert load_for_scoring(tmp_path / "l.png").image.getpixel((1, 1)) == (77, 77, 77)
    Image.new("RGB", (4, 4), (10, 200, 30)).convert("P").save(tmp_path / "p.png")
    assert load_for_scoring(tmp_path / "p.png").image.mode == "RGB"


def test_cmyk_jpeg_named_png_is_converted_and_noted(tmp_path):
    path = tmp_path / "0001.png"
    Image.new("CMYK", (6, 6), (0, 255, 255, 0)).save(path, format="JPEG")
    loaded = load_for_scoring(path)
    assert loaded.image.mode == "RGB"
    assert "file holds JPEG data, not PNG" in loaded.notes and "mode CMYK: CMYK converted" in loaded.notes
    assert check_png(path).warning is not None and check_png(path).error is None


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (6, 2), (0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rot.png"
    img.save(path, exif=exif.tobytes())
    loaded = load_for_scoring(path)
    assert loaded.image.size == (2, 6)
    assert loaded.image.getpixel((1, 0)) == (255, 0, 0)


def test_truncated_and_missing_files_name_the_file(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    path = tmp_path / "0002.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match=r"cannot decode image .*0002\.png"):
        load_for_scoring(path)
    assert check_png(path).error is not None
    with pytest.raises(DataError, match="does not exist"):
        load_for_scoring(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    assert "not a readable image" in (check_png(tmp_path / "junk.png").error or "")
