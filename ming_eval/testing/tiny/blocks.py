"""Building blocks for the tiny random checkpoints of :mod:`ming_eval.testing.tiny` (tests and the self-test).

Tokenizers are trained offline in well under a second on a small built-in corpus, with the real
tokenizer classes (CLIP, T5, Gemma, Qwen2, ...), so that the saved folders have the files and classes
the real checkpoints have. A tiny model's output means nothing; it exercises the loading and
inference code paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS: tuple[str, ...] = (
    "a photo of a cat and a dog",
    "a photo of two red apples on a wooden table",
    "what colour is the square? red, green or blue",
    "a blue bench to the left of a yellow umbrella",
    "describe the image in detail. answer with one word",
    "User: Assistant: system user assistant",
    "how many people are in the picture? 0 1 2 3 4 5 6 7 8 9",
    "A. B. C. D. Please select the correct answer from the options above.",
)


def train_bpe_in_place(
    tokenizer: Any, special_tokens: list[str], *, vocab_size: int = 320, **trainer_kwargs: Any
) -> None:
    """Train the BPE model of a transformers tokenizer's backend on :data:`CORPUS`, keeping its
    normaliser, pre-tokeniser and decoder. Special tokens get ids 0.. in the order given.

    Save and reload the tokenizer afterwards: its cached special-token ids are stale until then.
    """
    from tokenizers import pre_tokenizers, trainers

    # show_progress off: the trainers print their bars (and blank lines) on stdout, between our own lines
    kwargs: dict[str, Any] = {"initial_alphabet": pre_tokenizers.ByteLevel.alphabet(), "show_progress": False}
    kwargs.update(trainer_kwargs)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, **kwargs)
    tokenizer.backend_tokenizer.train_from_iterator(list(CORPUS) * 4, trainer)


def unigram_vocab(special_tokens: list[str], *, vocab_size: int = 160) -> list[tuple[str, float]]:
    """A SentencePiece-style (Metaspace) unigram vocabulary for T5-like tokenizers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    unk = "<unk>" if "<unk>" in special_tokens else None
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=special_tokens, unk_token=unk, show_progress=False
    )
    tok.train_from_iterator(list(CORPUS) * 4, trainer)
    return [(piece, float(score)) for piece, score in json.loads(tok.to_str())["model"]["vocab"]]


def clip_tokenizer(folder: Path, *, max_length: int = 32) -> Any:
    """A trained ``CLIPTokenizer`` saved to ``folder`` and reloaded from it."""
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(model_max_length=max_length)
    train_bpe_in_place(tok, ["<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>")
    tok.save_pretrained(folder)
    return CLIPTokenizer.from_pretrained(folder)


def t5_tokenizer(folder: Path, *, max_length: int = 32) -> Any:
    """A trained ``T5Tokenizer`` (pad 0, eos 1, unk 2, as T5) saved to ``folder`` and reloaded."""
    from transformers import T5Tokenizer

    tok = T5Tokenizer(vocab=unigram_vocab(["<pad>", "</s>", "<unk>"]), extra_ids=0, model_max_length=max_length)
    tok.save_pretrained(folder)
    return T5Tokenizer.from_pretrained(folder)


def gemma_tokenizer(folder: Path) -> Any:
    """A trained ``GemmaTokenizer`` (Sana's text encoder tokenizer) saved and reloaded."""
    from transformers import GemmaTokenizer

    tok = GemmaTokenizer()
    train_bpe_in_place(tok, ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"], initial_alphabet=[])
    tok.save_pretrained(folder)
    return GemmaTokenizer.from_pretrained(folder)


def spread_weights(model: Any, std: float = 0.3) -> None:
    """Re-draw linear and embedding weights with a large std, so that a tiny model's greedy answers
    depend on its input (with the usual small init they all collapse onto one token)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                module.weight.normal_(0.0, std)
