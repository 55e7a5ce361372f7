"""Test-only pieces for GenEval end to end: a generator that paints its prompt, and a detector and a
colour classifier that read those paintings back.

* ``ShapesModel`` draws each object GenEval's metadata asks for as a filled rectangle (the requested
  colour, or teal) with a 2-pixel border whose colour encodes the class index ``(i, 255 - i, 7)``,
  arranged so that counts and relations hold. Images whose seed is "faulty" (see :func:`faulty`) get
  one thing wrong on purpose, so the expected accuracy is known exactly.
* ``PaintedDetector`` finds the borders (one connected component per object) and returns them as
  detections with score 0.95 and box-shaped masks, through the real :class:`Detector` contract.
* ``PaintedColors`` names the colour of a crop's centre pixel (nearest of GenEval's 10 colours).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml
from PIL import Image, ImageDraw
from pydantic import BaseModel

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, GenerateRequest
from ming_eval.tasks.geneval.constants import CLASS_INDEX, COLORS
from ming_eval.tasks.geneval.detection import Detections

NAMED_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (250, 150, 20),
    "yellow": (240, 230, 40),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "purple": (140, 40, 180),
    "pink": (250, 150, 200),
    "brown": (130, 80, 30),
    "black": (10, 10, 10),
    "white": (245, 245, 245),
}
PLAIN = (90, 160, 160)
SIZE = 12
OFFSETS = {"left of": (-24, 0), "right of": (24, 0), "above": (0, -24), "below": (0, 24)}
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def faulty(seed: int) -> bool:
    """Whether the image drawn from ``seed`` gets something wrong on purpose (about one in four)."""
    return seed % 4 == 0


def _border(label: int) -> tuple[int, int, int]:
    return (label, 255 - label, 7)


def _rect(draw: ImageDraw.ImageDraw, cls: str, color: str | None, x: int, y: int) -> None:
    fill = NAMED_RGB[color] if color else PLAIN
    draw.rectangle((x, y, x + SIZE - 1, y + SIZE - 1), fill=_border(CLASS_INDEX[cls]))
    draw.rectangle((x + 2, y + 2, x + SIZE - 3, y + SIZE - 3), fill=fill)


def paint(meta: dict[str, Any], wrong: bool, size: int = 96) -> Image.Image:
    """Draw ``meta``'s objects (one thing wrong if ``wrong``)."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    tag = meta["tag"]
    inc = meta["include"]
    c = size // 2 - SIZE // 2
    if tag == "position":
        rel = inc[1]["position"][0]
        dx, dy = OFFSETS[OPPOSITE[rel] if wrong else rel]
        _rect(draw, inc[0]["class"], inc[0].get("color"), c, c)
        _rect(draw, inc[1]["class"], inc[1].get("color"), c + dx, c + dy)
        return img
    groups = [dict(g) for g in inc]
    if wrong:
        if tag in ("single_object", "two_object"):
            groups = groups[:-1]
        elif tag == "counting":
            groups[0]["count"] += 1
        elif tag == "colors":
            groups[0]["color"] = "black" if groups[0]["color"] != "black" else "white"
        else:  # color_attr: swap the colours
            groups[0]["color"], groups[1]["color"] = groups[1]["color"], groups[0]["color"]
    x = 4
    for g, group in enumerate(groups):
        for _ in range(group["count"]):
            _rect(draw, group["class"], group.get("color"), x, 8 + 30 * g)
            x += SIZE + 4
    return img


class ShapesOptions(BaseModel):
    model_config = {"extra": "forbid"}
    metadata: str  # the prompt file, to know what each prompt asks for


class ShapesModel(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})
    Options = ShapesOptions
    calls: ClassVar[list[list[tuple[str, tuple[int, ...]]]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        assert isinstance(opts, ShapesOptions)
        rows = [json.loads(line) for line in Path(opts.metadata).read_text().splitlines()]
        self.by_prompt = {r["prompt"]: r for r in rows}

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        type(self).calls.append([(r.prompt, r.indices) for r in requests])
        size = protocol.width or 96
        return [[paint(self.by_prompt[r.prompt], faulty(seed), size) for seed in r.seeds] for r in requests]


class PaintedDetector:
    """Reads ShapesModel's rectangles back (through the Detector contract)."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.closed = False

    def detect(self, images: Sequence[Image.Image]) -> list[Detections]:
        from scipy import ndimage

        self.batches.append(len(images))
        out = []
        for img in images:
            arr = np.asarray(img.convert("RGB"), dtype=np.int64)
            border = (arr[..., 2] == 7) & (arr[..., 0] + arr[..., 1] == 255) & (arr[..., 0] < 80)
            boxes, labels, masks = [], [], []
            for label in sorted(set(arr[..., 0][border].tolist())):
                comps, n = ndimage.label(border & (arr[..., 0] == label))
                for k in range(1, n + 1):
                    ys, xs = np.nonzero(comps == k)
                    x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
                    boxes.append([x1, y1, x2, y2])
                    labels.append(label)
                    m = np.zeros(arr.shape[:2], bool)
                    m[y1:y2, x1:x2] = True
                    masks.append(m)
            n = len(boxes)
            out.append(
                Detections(
                    np.asarray(boxes, np.float32).reshape(n, 4),
                    np.full(n, 0.95, np.float32),
                    np.asarray(labels, np.int64).reshape(n),
                    np.asarray(masks, bool).reshape(n, *arr.shape[:2]),
                )
            )
        return out

    def close(self) -> None:
        self.closed = True


class PaintedColors:
    """Names the colour at a crop's centre; counts how many crops it saw."""

    def __init__(self) -> None:
        self.seen = 0

    def classify(self, crops: Sequence[Image.Image], classes: Sequence[str]) -> list[str]:
        self.seen += len(crops)
        out = []
        for crop in crops:
            px = np.asarray(crop.getpixel((crop.width // 2, crop.height // 2)), dtype=np.float64)
            out.append(min(COLORS, key=lambda c: float(np.sum((px - np.asarray(NAMED_RGB[c])) ** 2))))
        return out

    def close(self) -> None:
        pass


def write_shapes_card(root: Path, metadata: Path, *, images_per_prompt: int = 4, seed: int = 7) -> Path:
    (root / "model_zoo").mkdir(parents=True, exist_ok=True)
    path = root / "model_zoo" / "shapes.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "shapes",
                "class": "tests.tasks.geneval.plugins:ShapesModel",
                "capabilities": ["generate"],
                "checkpoint": "none",
                "dtype": "float32",
                "options": {"metadata": str(metadata)},
                "batch_size": {"generate": 2},
                "protocol": {
                    "generate": {"images_per_prompt": images_per_prompt, "width": 96, "height": 96, "seed": seed}
                },
            }
        )
    )
    return path
