"""What a benchmark asks a model: samples and the three kinds of request.

A :class:`Sample` has a stable ``id`` (unique within its task, the same on every run, rank and
machine), a request for the model, a JSON-able ``target`` for the scorer and free ``meta``.
Images are :class:`ImageRef` objects, decoded only when a model or scorer asks for them, so a task
over a 1 GB TSV never holds its images in memory.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ming_eval.errors import DataError

if TYPE_CHECKING:  # PIL is imported when an image is decoded, not to score a run
    from PIL import Image


class Capability(str, Enum):
    """What a model can do; each task needs exactly one."""

    UNDERSTAND = "understand"  # image(s) + text -> text
    GENERATE = "generate"  # text -> image(s)
    EDIT = "edit"  # image + instruction -> image(s)

    def __str__(self) -> str:
        return self.value


def open_image(
    data: bytes, source: str, hint: str = "the file is corrupt or truncated; re-download or regenerate it"
) -> Image.Image:
    """Decode image bytes fully, so that truncation is caught here; errors name ``source``."""
    from PIL import Image

    try:
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # PIL raises many types for bad data
        raise DataError(f"cannot decode image {source}: {type(exc).__name__}: {exc}", hint=hint) from exc
    return img


def decode_image(data: bytes, source: str) -> Image.Image:
    """Decode image bytes fully, honour EXIF rotation, return RGB; errors name ``source``."""
    from PIL import ImageOps

    img = open_image(data, source)
    img = ImageOps.exif_transpose(img) or img
    return to_rgb(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels are composited over white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        from PIL import Image

        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


@dataclass(frozen=True)
class ImageRef:
    """A lazily decoded image. ``source`` names where it comes from, for error messages."""

    source: str
    loader: Callable[[], Image.Image] = field(repr=False, compare=False)

    def load(self) -> Image.Image:
        """Decode and return the image as RGB; raises :class:`DataError` naming ``source``."""
        try:
            return self.loader()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"cannot load image {self.source}: {type(exc).__name__}: {exc}",
                hint="check that the file exists and is a valid image",
            ) from exc

    @classmethod
    def from_path(cls, path: str | Path) -> ImageRef:
        p = Path(path)
        return cls(str(p), lambda: decode_image(p.read_bytes(), str(p)))

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> ImageRef:
        return cls(source, lambda: decode_image(data, source))

    @classmethod
    def from_base64(cls, b64: str, source: str) -> ImageRef:
        def load() -> Image.Image:
            try:
                raw = base64.b64decode(b64, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise DataError(f"cannot decode base64 image {source}: {exc}") from exc
            return decode_image(raw, source)

        return cls(source, load)

    @classmethod
    def from_pil(cls, img: Image.Image, source: str = "<in-memory image>") -> ImageRef:
        rgb = to_rgb(img)
        return cls(source, lambda: rgb)


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    image: ImageRef


Content = TextPart | ImagePart


@dataclass(frozen=True)
class UnderstandRequest:
    """Interleaved images and text, to be answered with text.

    ``seed`` is filled in by the runner from (run seed, sample id); greedy models ignore it.
    """

    content: tuple[Content, ...]
    system: str | None = None
    seed: int = 0

    @property
    def images(self) -> list[ImageRef]:
        return [part.image for part in self.content if isinstance(part, ImagePart)]

    @property
    def text(self) -> str:
        """All text parts joined, for models that take one image and one string."""
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@dataclass(frozen=True)
class GenerateRequest:
    """Make ``num_images`` images for ``prompt``.

    The task sets ``prompt`` and ``num_images``. The runner sets ``seeds`` and ``indices``: the images
    still missing (resume works per image), with one seed each. An adapter returns exactly
    ``len(seeds)`` images per request, image ``j`` drawn from ``seeds[j]`` alone, so that the
    result does not depend on batch size, world size or resume.
    """

    prompt: str
    num_images: int = 1
    seeds: tuple[int, ...] = ()
    indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class EditRequest:
    """Edit ``image`` following ``instruction``; seeds and indices as in :class:`GenerateRequest`."""

    image: ImageRef
    instruction: str
    num_images: int = 1
    seeds: tuple[int, ...] = ()
    indices: tuple[int, ...] = ()


Request = UnderstandRequest | GenerateRequest | EditRequest

CAPABILITY_OF: dict[type, Capability] = {
    UnderstandRequest: Capability.UNDERSTAND,
    GenerateRequest: Capability.GENERATE,
    EditRequest: Capability.EDIT,
}


@dataclass(frozen=True)
class Sample:
    """One unit of work: a request, its target, and metadata. ``id`` is stable across runs."""

    id: str
    request: Request
    target: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def capability(self) -> Capability:
        return CAPABILITY_OF[type(self.request)]

    def with_request(self, request: Request) -> Sample:
        return dataclasses.replace(self, request=request)
