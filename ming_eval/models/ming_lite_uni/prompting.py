"""Tokenizer set-up and prompt building, as Ming-Lite-Uni's reference processor does it.

The reference (``Ming_Uni/process.py``) uses the Qwen2 chat layout, tokenizing each piece separately:

    <|im_start|>system\\nYou are a helpful assistant.   <|im_end|>\\n<|im_start|>user\\n   {question}
    <|im_end|>\\n<|im_start|>assistant\\n   [<image>]

An image in the question is ``<image>`` + one ``<imagePatch>`` per merged 2x2 patch + ``</image>``,
followed by ``"\\n "`` and the text, the whole question stripped. Generation ends the prompt with
``<image>`` (the generation prefix); understanding must not, or the model is asked for an image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ming_eval.errors import CheckpointError

IMAGE_START = "<image>"
IMAGE_END = "</image>"
IMAGE_PATCH = "<imagePatch>"
IM_END = "<|im_end|>"
DEFAULT_SYSTEM = "You are a helpful assistant."

# The tokens the reference adds to the Qwen2.5 tokenizer, in its order (ids depend on the order):
# first its "additional special tokens", then the interleave tokens of Templates_native.py.
EXTRA_SPECIAL_TOKENS = (
    "[item]", "<html>", "</html>", "<body>", "</body>", "<table>", "</table>", "<tr>", "</tr>", "<td>",
    "</td>", "<think>", "</think>", "<answer>", "</answer>",
)  # fmt: skip
INTERLEAVE_TOKENS = (
    IMAGE_PATCH, IMAGE_START, IMAGE_END, "<video>", "</video>", "<gen_imagePatch>", "<gen_image>",
    "</gen_image>", "<imageHere>", "<end_of_chunk>", "<end_of_audio>", "<audioPatch>", "<audio>", "</audio>",
    "<gen_audioPatch>", "<gen_audio>", "</gen_audio>", "<audioHere>", "<framePatch>",
)  # fmt: skip

SYSTEM_PREFIX = "<|im_start|>system\n"
USER_PREFIX = "<|im_end|>\n<|im_start|>user\n"
ASSISTANT_PREFIX = "<|im_end|>\n<|im_start|>assistant\n"
IMAGE_TEXT_JOINER = "\n "  # the reference writes f"<image>\n {prompt}"


@dataclass(frozen=True)
class TokenIds:
    image_start: int
    image_end: int
    image_patch: int
    im_end: int
    pad: int


def load_tokenizer(llm_dir: Path) -> tuple[Any, TokenIds]:
    """The LLM's tokenizer with the reference's extra tokens added (a no-op if it has them already)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    # AutoTokenizer reads config.json, whose Ming-specific RoPE keys only draw warnings there.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(llm_dir))
    except Exception as exc:  # tokenizer loading raises many error types
        raise CheckpointError(
            f"cannot load the tokenizer in {llm_dir}: {type(exc).__name__}: {exc}",
            hint="qwen2_5_llm/ must hold the Qwen2.5 tokenizer files (tokenizer.json, tokenizer_config.json)",
        ) from exc
    finally:
        hf_logging.set_verbosity(level)
    tokenizer.add_tokens(list(EXTRA_SPECIAL_TOKENS) + list(INTERLEAVE_TOKENS), special_tokens=True)
    vocab = tokenizer.get_vocab()
    missing = [t for t in (IM_END, "<|endoftext|>") if t not in vocab]
    if missing:
        raise CheckpointError(
            f"the tokenizer in {llm_dir} lacks {', '.join(missing)}: it is not a Qwen2.5 tokenizer",
            hint="qwen2_5_llm/ must hold the Qwen2.5(-Instruct) tokenizer",
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else vocab["<|endoftext|>"]
    ids = TokenIds(
        image_start=vocab[IMAGE_START],
        image_end=vocab[IMAGE_END],
        image_patch=vocab[IMAGE_PATCH],
        im_end=vocab[IM_END],
        pad=int(pad),
    )
    return tokenizer, ids


def image_text(num_patches: int) -> str:
    return IMAGE_START + IMAGE_PATCH * num_patches + IMAGE_END


def question_text(parts: Sequence[str | int]) -> str:
    """The question: text parts as they are, an ``int`` part is an image with that many patch tokens.

    An image is followed by ``"\\n "`` and the question is stripped when it holds an image, which for
    one image then text is exactly the reference's ``f"<image>\\n {prompt}"``.
    """
    out = ""
    has_image = False
    for part in parts:
        if isinstance(part, int):
            out += image_text(part) + IMAGE_TEXT_JOINER
            has_image = True
        else:
            out += part
    return out.strip() if has_image else out


class PromptBuilder:
    """Token ids of a Ming-Lite-Uni prompt, each template piece tokenized on its own (as the reference)."""

    def __init__(self, tokenizer: Any, ids: TokenIds) -> None:
        self.tokenizer = tokenizer
        self.ids = ids
        self._user = self.encode(USER_PREFIX)
        self._assistant = self.encode(ASSISTANT_PREFIX)
        self._start = self.encode(IMAGE_START)
        self._systems: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def build(self, question: str, *, system: str | None = None, generate_image: bool) -> list[int]:
        system = DEFAULT_SYSTEM if system is None else system
        if system not in self._systems:
            self._systems[system] = self.encode(SYSTEM_PREFIX + system)
        ids = self._systems[system] + self._user + self.encode(question) + self._assistant
        if generate_image:
            ids = ids + self._start
        return ids
