"""Ming-Lite-Uni (inclusionAI): understanding, text-to-image and editing on transformers + diffusers.

The card ``model_zoo/ming-lite-uni.yaml`` names :class:`MingLiteUni`. Parts: ``checkpoint`` (layout,
download, weight reading), ``loading`` (parts on transformers/diffusers classes), ``prompting``,
``image_processing``, ``mrope`` (3D RoPE positions), ``decoding`` (KV-cache text generation),
``modeling`` (the computation); its tiny random checkpoint is in :mod:`ming_eval.testing.tiny.ming_lite_uni`.
"""

from ming_eval.models.ming_lite_uni.adapter import MingLiteUni, MingLiteUniOptions

__all__ = ["MingLiteUni", "MingLiteUniOptions"]
