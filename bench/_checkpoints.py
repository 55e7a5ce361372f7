"""Full-size checkpoints with random weights for the GPU benches (no download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_random_bf16(folder: Path, model_class: Any, config: Any, device: str) -> None:
    """Replace the weights in ``folder`` by a ``model_class`` of ``config`` with random bf16 weights,
    drawn on ``device`` (fast at 7B); the tokenizer and processor files there are kept."""
    import torch

    torch.manual_seed(0)
    with torch.device(device):
        model = model_class._from_config(config, dtype=torch.bfloat16)
    for old in folder.glob("*.safetensors"):
        old.unlink()
    model.save_pretrained(folder)
