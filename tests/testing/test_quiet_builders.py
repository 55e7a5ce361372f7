"""Building the self-test's tiny checkpoints prints nothing: no blank lines from tokenizer trainers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.registry import get_model_card
from ming_eval.testing.registry import tiny_card


@pytest.mark.parametrize("card", ["janus-pro-7b", "sd3-medium", "qwen2.5-vl-3b"])
def test_tiny_checkpoint_builders_print_nothing(card: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # as the self-test does: transformers' own bar is its to switch off
    assert tiny_card(get_model_card(card), tmp_path / card) is not None
    assert capfd.readouterr().out == ""
