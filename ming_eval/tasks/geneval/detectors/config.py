"""The shape of GenEval's detector: Mask2Former with a Swin-S backbone, COCO instance segmentation.

Every number here comes from mmdetection's config ``mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py``
(2.x; the 3.x ``..._8xb2-lsj-50e_coco.py`` builds the same network) and its base configs. The test-time
pipeline constants are those of the 2.x config's ``test_pipeline``, which is what GenEval runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: ``img_norm_cfg`` of the 2.x config (RGB order; the pipeline converts BGR to RGB first)
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
#: ``Resize(img_scale=(1333, 800), keep_ratio=True)``: long side <= 1333, short side <= 800
RESIZE_SCALE = (1333, 800)
#: ``Pad(size_divisor=32, pad_val=dict(img=(128, 128, 128)))``, applied to the uint8 image before
#: normalisation in the 2.x instance-segmentation config
PAD_DIVISOR = 32
PAD_VALUE = 128


@dataclass(frozen=True)
class Mask2FormerConfig:
    """Architecture hyper-parameters; the defaults are GenEval's Mask2Former Swin-S."""

    # Swin backbone
    embed_dims: int = 96
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = 7
    mlp_ratio: int = 4
    patch_size: int = 4
    # pixel decoder (multi-scale deformable attention encoder + FPN-style top-down path)
    feat_channels: int = 256
    out_channels: int = 256
    norm_groups: int = 32
    encoder_layers: int = 6
    encoder_heads: int = 8
    encoder_points: int = 4
    encoder_ffn_channels: int = 1024
    # transformer decoder and prediction heads
    num_queries: int = 100
    decoder_layers: int = 9
    decoder_heads: int = 8
    decoder_ffn_channels: int = 2048
    num_classes: int = 80
    #: instances kept per image by the post-processing (``test_cfg.max_per_image``)
    max_per_image: int = 100
    #: feature levels the encoder and decoder attend to (strides 32, 16, 8)
    num_feature_levels: int = 3
    strides: tuple[int, ...] = field(default=(4, 8, 16, 32))
    #: test-time resize bound (long edge, short edge); GenEval's config uses (1333, 800)
    test_scale: tuple[int, int] = RESIZE_SCALE

    @property
    def stage_channels(self) -> tuple[int, ...]:
        return tuple(self.embed_dims * 2**i for i in range(len(self.depths)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mask2FormerConfig:
        tuples: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**tuples)


#: GenEval's detector
SWIN_S = Mask2FormerConfig()

#: the same architecture, shrunk for tests and the self-test (its outputs mean nothing)
TINY = Mask2FormerConfig(
    embed_dims=16,
    depths=(1, 1, 2, 1),
    num_heads=(1, 2, 2, 4),
    feat_channels=32,
    out_channels=32,
    norm_groups=8,
    encoder_layers=1,
    encoder_heads=4,
    encoder_points=2,
    encoder_ffn_channels=64,
    num_queries=20,
    decoder_layers=3,
    decoder_heads=4,
    decoder_ffn_channels=64,
    # small inputs keep tests fast; the pipeline is otherwise GenEval's
    test_scale=(333, 200),
)
