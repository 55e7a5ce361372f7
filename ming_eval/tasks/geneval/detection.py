"""The detector contract GenEval's scorer relies on, whatever backend produces the detections.

A backend (the pure-PyTorch Mask2Former by default, mmdet as the reference) turns a batch of RGB
images into one :class:`Detections` per image: COCO instance detections in mmdet's class order
(GenEval's ``object_names.txt`` order), after the model's own post-processing (Mask2Former's top-100
instances per image) and before GenEval's thresholds, which the rules apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field


@dataclass
class Detections:
    """Instances found in one image.

    ``boxes`` are ``[x1, y1, x2, y2]`` in pixels of the original image and ``scores`` are float32,
    as mmdet returns them (GenEval compares thresholds in float32); ``labels`` are class indices
    0..79; ``masks`` are boolean ``(N, H, W)`` at the image's size, or None when not computed.
    """

    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    labels: NDArray[np.int64]
    masks: NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@runtime_checkable
class Detector(Protocol):
    """Batched instance segmentation on COCO's 80 classes."""

    def detect(self, images: Sequence[Image.Image]) -> list[Detections]: ...

    def close(self) -> None: ...


class DetectorOptions(BaseModel):
    """How GenEval's scorer gets its detector (part of the task card's ``options.detector``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "mask2former": pure PyTorch, no compiled ops (default); "mmdet": the reference, needs mmdet 3.x + mmcv
    backend: Literal["mask2former", "mmdet"] = "mask2former"
    #: local weights; None = GenEval's Mask2Former Swin-S COCO checkpoint, downloaded and verified
    weights: str | None = None
    #: images per detector forward pass
    batch_size: int = Field(8, ge=1)
