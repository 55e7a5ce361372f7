"""What the model is asked: the dataset's own prompt, or a model family's, as VLMEvalKit builds them.

VLMEvalKit lets a model replace a dataset's prompt (``use_custom_prompt`` / ``build_prompt``); which
one a published number used is part of its protocol. Here the model card's protocol picks it with
``prompt_style``:

``default``
    the dataset's prompt (VLMEvalKit's ``dataset.build_prompt``); what Qwen2.5-VL's VLMEvalKit
    entries use (``use_custom_prompt=False``) and what any model without its own prompt gets.
``qwen2vl``
    Qwen2-VL's prompt mixin (multiple choice ending "Please select the correct answer from the
    options above." or 请直接回答选项字母。, yes/no questions ending " Please answer yes or no.",
    short-answer questions asking for short words, MMMU images first).
``llava``
    LLaVA's multiple-choice prompt ("Answer with the option's letter from the given choices
    directly."), shared by InternVL and some 30 other VLMEvalKit models; other tasks as default.
``janus``
    Janus / Janus-Pro's prompts (multiple choice, yes/no and MM-Vet).

``protocol.extra`` may add ``prompt_prefix`` / ``prompt_suffix`` (strings put before / after the
text; :class:`~ming_eval.cards.schema.UnderstandExtras`), for a model whose prompt is the dataset's
plus a fixed instruction.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ming_eval.cards.schema import UnderstandExtras
from ming_eval.core.sample import Content, ImagePart, ImageRef, TextPart
from ming_eval.errors import DataError
from ming_eval.tasks.vlm.extraction import has_cjk
from ming_eval.tasks.vlm.tsv import is_missing

PROMPT_STYLES: tuple[str, ...] = ("default", "qwen2vl", "llava", "janus")

# VLMEvalKit's dataset types decide which model prompt applies
Kind = Literal["mcq", "mmmu", "yes_no", "vqa", "mmvet"]

MCQ_SUFFIX = "Please select the correct answer from the options above. \n"
LETTER_SUFFIX = "Answer with the option's letter from the given choices directly."
LETTER_SUFFIX_CN = "请直接回答选项字母。"


def options_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a row: every letter column with a value, in letter order (values as parsed)."""
    return {c: row[c] for c in string.ascii_uppercase if c in row and not is_missing(row[c])}


def hint_of(row: Mapping[str, Any]) -> Any:
    hint = row.get("hint")
    return None if is_missing(hint) else hint


def _hint_question_options(row: Mapping[str, Any]) -> tuple[str, bool]:
    """ "Hint: ...", "Question: ..." and the "Options:" list (ImageMCQDataset's layout, which Qwen2-VL
    keeps), and whether the row has options."""
    hint = hint_of(row)
    text = f"Hint: {hint}\n" if hint is not None else ""
    text += f"Question: {row['question']}\n"
    options = options_of(row)
    if options:
        text += "Options:\n" + "".join(f"{k}. {v}\n" for k, v in options.items())
    return text, bool(options)


def dataset_mcq_text(row: Mapping[str, Any]) -> str:
    """The multiple-choice prompt of VLMEvalKit's ImageMCQDataset (MMBench, MMStar, AI2D, MMMU)."""
    text, has_options = _hint_question_options(row)
    return text + MCQ_SUFFIX if has_options else text


def qwen2vl_mcq_text(row: Mapping[str, Any]) -> str:
    """Qwen2-VL's: the dataset's layout, the Chinese letter instruction for Chinese text, stripped."""
    text, has_options = _hint_question_options(row)
    if has_options:
        text += LETTER_SUFFIX_CN if has_cjk(text) else MCQ_SUFFIX
    return text.rstrip()


def llava_mcq_text(row: Mapping[str, Any]) -> str:
    text = str(row["question"])
    hint = hint_of(row)
    if hint is not None:
        text = f"{hint}\n{text}"
    options = options_of(row)
    text += "".join(f"\n{k}. {v}" for k, v in options.items())
    if options:
        text += "\n" + LETTER_SUFFIX_CN if has_cjk(text) else "\n" + LETTER_SUFFIX
    else:
        text += "\n请直接回答问题。" if has_cjk(text) else "\nAnswer the question directly."
    return text


def janus_mcq_text(row: Mapping[str, Any]) -> str:
    hint = hint_of(row)
    text = f"\nHint: {hint}\n" if hint is not None else "\n"
    text += f"{row['question']}\n"
    options = options_of(row)
    if options:
        text += "".join(f"{k}. {v}\n" for k, v in options.items()) + "\n" + LETTER_SUFFIX
    else:
        text += "Answer the question directly. "
    return text


def interleave_images(text: str, images: Sequence[ImageRef], source: str) -> list[Content]:
    """Put image ``k`` where the text says ``<image k>`` (VLMEvalKit ``split_MMMU``); text without
    placeholders keeps all images first. An image may be used twice or not at all, as the text says."""
    segments = text.split("<image ")
    if len(segments) == 1:
        return [*(ImagePart(im) for im in images), TextPart(text)]
    parts: list[Content] = []
    if segments[0]:
        parts.append(TextPart(segments[0]))
    for seg in segments[1:]:
        if len(seg) < 2 or not seg[0].isdigit() or seg[1] != ">":
            raise DataError(f"{source}: malformed image placeholder '<image {seg[:8]}' in the question")
        k = int(seg[0])
        if not 1 <= k <= len(images):
            raise DataError(f"{source}: the question refers to <image {k}> but the row has {len(images)} image(s)")
        parts.append(ImagePart(images[k - 1]))
        if seg[2:]:
            parts.append(TextPart(seg[2:]))
    return parts


def build_content(
    kind: Kind,
    style: str,
    row: Mapping[str, Any],
    images: Sequence[ImageRef],
    source: str,
    extras: UnderstandExtras | None = None,
) -> tuple[Content, ...]:
    """The model input for one row: images and text in the order the protocol gives them."""
    question = str(row["question"])
    interleave = False
    if kind in ("mcq", "mmmu"):
        if style == "qwen2vl":
            # Qwen2-VL keeps MMMU's images first and its text is the dataset's, stripped
            text = dataset_mcq_text(row).rstrip() if kind == "mmmu" else qwen2vl_mcq_text(row)
        elif style == "llava":
            text = llava_mcq_text(row)
        elif style == "janus":
            text = janus_mcq_text(row)
        else:
            text = dataset_mcq_text(row)
            interleave = kind == "mmmu"
    elif kind == "yes_no":
        if style == "qwen2vl":
            text = question + " Please answer yes or no."
        elif style == "janus":
            text = "\n" + question + "\nAnswer the question using a single word or phrase."
        else:
            text = question
    elif kind == "vqa":
        text = (
            question + "\nPlease try to answer the question with short words or phrases if possible."
            if style == "qwen2vl"
            else question
        )
    else:  # mmvet
        text = "\n" + question if style == "janus" else question
    if extras is not None:
        text = f"{extras.prompt_prefix}{text}{extras.prompt_suffix}"
    if interleave:
        return tuple(interleave_images(text, images, source))
    return (*(ImagePart(im) for im in images), TextPart(text))
