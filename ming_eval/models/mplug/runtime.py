"""Batched mPLUG VQA on our module: preprocessing exactly as ModelScope's ``MPlugPreprocessor``.

- image: RGB, bicubic resize (PIL) to ``image_res`` x ``image_res`` ignoring the aspect ratio, scaled
  to [0, 1], normalised with CLIP's mean and std;
- question: lower-cased, BERT uncased WordPiece, ``[CLS] ... [SEP]`` truncated and padded to 25
  tokens (always 25, so a batch pads nothing more and answers do not depend on the batch);
- answer: :func:`~.beam.beam_search`, decoded without special tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ming_eval.models.mplug.beam import beam_search
from ming_eval.models.mplug.config import MPlugConfig
from ming_eval.models.mplug.modeling import MPlugVQA

QUESTION_TOKENS = 25
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Answer:
    text: str
    ids: list[int]
    score: float


def load_tokenizer(vocab: Path) -> Any:
    from transformers import BertTokenizer

    # from the folder, as ModelScope does (the vocab_file keyword is ignored by transformers 5)
    return BertTokenizer.from_pretrained(str(vocab.parent))


class MPlugRunner:
    """Weights on a device + tokenizer; answers batches of (image, question)."""

    def __init__(
        self, cfg: MPlugConfig, state: dict[str, Tensor], vocab: Path, device: str, dtype: torch.dtype
    ) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        with torch.device("meta"):
            model = MPlugVQA(cfg)
        model.load_state_dict(state, strict=True, assign=True)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.tokenizer = load_tokenizer(vocab)

    def pixels(self, images: Sequence[Image.Image]) -> Tensor:
        size = self.cfg.image_res
        mean = np.asarray(MEAN, dtype=np.float32)
        std = np.asarray(STD, dtype=np.float32)
        arrays = []
        for image in images:
            resized = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            arr = np.asarray(resized, dtype=np.float32) / 255.0
            arrays.append(((arr - mean) / std).transpose(2, 0, 1))
        return torch.from_numpy(np.stack(arrays)).to(self.device)

    def tokens(self, questions: Sequence[str]) -> tuple[Tensor, Tensor]:
        enc = self.tokenizer(
            [q.lower() for q in questions],
            padding="max_length",
            truncation=True,
            max_length=QUESTION_TOKENS,
            return_tensors="pt",
        )
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    @torch.no_grad()
    def memory(self, images: Sequence[Image.Image], questions: Sequence[str]) -> tuple[Tensor, Tensor]:
        ids, mask = self.tokens(questions)
        return self.model.encode(self.pixels(images), ids, mask)

    @torch.no_grad()
    def first_logits(self, images: Sequence[Image.Image], questions: Sequence[str]) -> Tensor:
        """The decoder's logits (B, V) for the first answer token, in float32."""
        memory, keep = self.memory(images, questions)
        start = torch.full((len(images), 1), 101, dtype=torch.long, device=self.device)
        return self.model.next_token_logits(start, memory, keep).float()

    def answer_texts(
        self, images: Sequence[Image.Image], questions: Sequence[str], **decoding: int | None
    ) -> list[str]:
        return [a.text for a in self.answer(images, questions, **decoding)]

    @torch.no_grad()
    def answer(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str],
        *,
        beam_size: int | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> list[Answer]:
        """Beam-search answers; the decoding settings default to the checkpoint's config."""
        if len(images) != len(questions):
            raise ValueError(f"{len(images)} images for {len(questions)} questions")
        if not images:
            return []
        memory, keep = self.memory(images, questions)
        beams = beam_size or self.cfg.beam_size
        # tile each question's memory beam_size times, as the original does
        memory = memory.repeat_interleave(beams, dim=0)
        keep = keep.repeat_interleave(beams, dim=0)

        def step(ids: Tensor, rows: Tensor) -> Tensor:
            return self.model.next_token_logits(ids, memory.index_select(0, rows), keep.index_select(0, rows))

        best = beam_search(
            step,
            len(images),
            beam_size=beams,
            min_length=self.cfg.min_length if min_length is None else min_length,
            max_length=max_length or self.cfg.max_length,
            device=self.device,
        )
        return [
            Answer(
                text=self.tokenizer.decode(h.ids, skip_special_tokens=True, clean_up_tokenization_spaces=True),
                ids=h.ids,
                score=h.score,
            )
            for h in best
        ]
