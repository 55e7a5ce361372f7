import io

import pytest
from PIL import Image

from ming_eval.core.sample import (
    Capability,
    GenerateRequest,
    ImagePart,
    ImageRef,
    Sample,
    TextPart,
    UnderstandRequest,
    decode_image,
)
from ming_eval.errors import DataError


def _png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_truncated_png_names_source():
    data = _png(Image.new("RGB", (32, 32), (1, 2, 3)))
    with pytest.raises(DataError, match="row 7"):
        decode_image(data[: len(data) // 2], "x.tsv row 7")


def test_garbage_bytes_are_a_data_error():
    with pytest.raises(DataError, match=r"cannot decode image f.png"):
        decode_image(b"not an image", "f.png")


@pytest.mark.parametrize("mode", ["RGBA", "L", "CMYK", "P", "LA", "I;16"])
def test_modes_become_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = Image.new(mode, (4, 4))
    out = decode_image(_png(img, fmt), "m")
    assert out.mode == "RGB" and out.size == (4, 4)


def test_transparent_pixels_composite_over_white():
    img = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert decode_image(_png(img), "t").getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = decode_image(_png(img, "JPEG", exif=exif.tobytes()), "rot.jpg")
    assert out.size == (20, 40)


def test_image_ref_base64_and_path(tmp_path):
    import base64

    data = _png(Image.new("RGB", (3, 5)))
    ref = ImageRef.from_base64(base64.b64encode(data).decode(), "row 1")
    assert ref.load().size == (3, 5)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    assert ImageRef.from_path(path).load().size == (3, 5)
    with pytest.raises(DataError, match=r"missing.png"):
        ImageRef.from_path(tmp_path / "missing.png").load()


def test_sample_capability_and_text():
    img = ImageRef.from_pil(Image.new("RGB", (2, 2)))
    req = UnderstandRequest((ImagePart(img), TextPart("a "), TextPart("b")))
    assert Sample("1", req).capability is Capability.UNDERSTAND
    assert req.text == "a b" and req.images == [img]
    assert Sample("2", GenerateRequest("p")).capability is Capability.GENERATE
