"""DPG-Bench scores from the VQA model's yes/no answers, as ELLA's ``compute_dpg_bench.py`` computes them.

The input is the raw answer text for every (prompt, tile, question); the output is the per-prompt
scores, the overall score and the L1/L2 category tables. Two modes:

``upstream`` (the default, comparable with published numbers) reproduces ELLA's script at commit
3c228f1 (``dpg_bench/compute_dpg_bench.py``), quirks included:

* **Answers.** A question scores 1 iff the answer is exactly ``"yes"`` (``"Yes"``, ``"yes."`` score 0).
* **First CSV row.** ``prepare_dpg_data`` skips the first data row (``if i == 0: continue``), so
  that question of the first prompt is never asked and counts nowhere. If another question of that
  prompt names it as a parent, the zeroing step below looks it up in a dict that lacks it and raises
  ``KeyError``, unless an earlier parent in that question's list already scored 0 (the loop stops
  there). ``main`` catches the exception, prints ``Failed filename`` and drops the whole prompt from
  the overall mean and from the category tables. Whether that happens depends on the answers, and we
  reproduce it answer by answer; the prompt is listed in :attr:`DpgScore.dropped`.
* **Parent zeroing, in file order.** Per tile, the questions are visited once in file order; for
  each, its parents are visited in the order the ``dependency`` cell lists them, ``0`` skipped; the
  first parent whose *current* score is 0 sets the question's score to 0 and ends the visit. A parent
  zeroed earlier in the same pass therefore zeroes its children, but a parent that comes later in the
  file is seen with its own answer, before any zeroing of it.
* **Means.** Tile score = mean over the prompt's questions (after zeroing); prompt score = mean over
  its tiles (``sum / len``); overall = ``numpy.mean`` over the scored prompts, times 100.
* **Categories: last tile, before zeroing.** Each scored prompt adds, for every question asked, the
  score of the *last* tile as answered, *before* the parent zeroing (upstream returns the copy
  ``qid2scores_orig`` taken inside the tile loop, which the last tile overwrites). The L2 table is
  the mean over all those question scores of a category, pooled over prompts, times 100; the L1
  table pools the lists of its L2 categories.
* **Missing images.** Upstream scores whatever files it can open and silently drops the rest. We
  count prompts without an image (:attr:`DpgScore.missing`) or with an unreadable one
  (:attr:`DpgScore.unreadable`) and refuse to score unless ``allow_incomplete``; when allowed, the
  means run over the scored prompts, as upstream's do.

``fixed`` corrects the quirks and is never to be ranked against published numbers: every row is
asked; a question scores 0 unless it and all its ancestors (transitively, whatever the file order)
were answered ``"yes"``; the category tables pool the zeroed scores of every tile. The answer rule
and the tile -> prompt -> overall means are upstream's.

The overall mean runs over prompts in file order; upstream's order is ``os.listdir``'s, which can
change the last bits of the float sum, never more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ming_eval.errors import DataError
from ming_eval.tasks.dpg_bench.questions import DpgQuestions, PromptQuestions, Question

Mode = Literal["upstream", "fixed"]
MODES: tuple[Mode, ...] = ("upstream", "fixed")

#: item_id -> one {proposition_id: answer text} per tile, tiles in upstream's crop order
Answers = Mapping[str, Sequence[Mapping[int, str]]]


@dataclass(frozen=True)
class PromptScore:
    item_id: str
    #: per tile, the mean question score after parent zeroing
    tile_scores: tuple[float, ...]
    #: mean over the tiles, in [0, 1]
    score: float


@dataclass(frozen=True)
class DpgScore:
    mode: Mode
    #: mean prompt score x 100; None when no prompt was scored
    overall: float | None
    #: the scored prompts, in file order
    prompts: dict[str, PromptScore]
    #: L1 and L2 category means x 100, sorted by name
    l1: dict[str, float]
    l2: dict[str, float]
    #: prompts of the CSV that have neither an image nor answers
    missing: tuple[str, ...]
    #: prompts whose image could not be read, with the reason
    unreadable: dict[str, str]
    #: upstream mode: prompts that upstream's own code drops (see the module doc), with the reason
    dropped: dict[str, str]
    #: prompts in the CSV
    n_prompts: int


class _UpstreamDrops(Exception):
    """Upstream's per-image ``try`` block fails for this prompt."""


def _is_yes(answer: str) -> float:
    return float(answer == "yes")


def _upstream_tile(asked: Sequence[Question], answers: Mapping[int, str]) -> tuple[float, dict[int, float]]:
    """(tile score, answered scores before zeroing) by upstream's single pass in file order."""
    raw = {q.proposition_id: _is_yes(answers[q.proposition_id]) for q in asked}
    scores = dict(raw)
    for q in asked:
        for parent in q.parents:
            if parent == 0:
                continue
            if parent not in scores:
                raise _UpstreamDrops(
                    f"question {q.proposition_id} depends on {parent}, the first CSV row, which upstream never "
                    "reads: its lookup raises KeyError and upstream drops the prompt"
                )
            if scores[parent] == 0:
                scores[q.proposition_id] = 0.0
                break
    return sum(scores.values()) / len(scores), raw


def _ancestors(prompt: PromptQuestions) -> dict[int, set[int]]:
    """Every question's ancestors (transitively; a cycle makes its members ancestors of each other)."""
    parents = {q.proposition_id: q.real_parents for q in prompt.questions}
    out: dict[int, set[int]] = {}
    for pid in parents:
        seen: set[int] = set()
        stack = list(parents[pid])
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(parents[p])
        out[pid] = seen
    return out


def _fixed_tile(
    asked: Sequence[Question], ancestors: Mapping[int, set[int]], answers: Mapping[int, str]
) -> dict[int, float]:
    raw = {q.proposition_id: _is_yes(answers[q.proposition_id]) for q in asked}
    return {pid: 0.0 if any(raw[a] == 0 for a in ancestors[pid]) else s for pid, s in raw.items()}


def _check_answers(prompt: PromptQuestions, tiles: Sequence[Mapping[int, str]], needed: Sequence[Question]) -> None:
    if not tiles:
        raise DataError(f"DPG-Bench item {prompt.item_id}: answers for no tile")
    known = {q.proposition_id for q in prompt.questions}
    for t, tile in enumerate(tiles):
        lacking = [q.proposition_id for q in needed if q.proposition_id not in tile]
        unknown = sorted(set(tile) - known)
        if lacking or unknown:
            problem = f"no answer to question(s) {lacking}" if lacking else f"answers to unknown question(s) {unknown}"
            raise DataError(f"DPG-Bench item {prompt.item_id} tile {t}: {problem}")


def _mean100(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=np.float64)) * 100)


def score_dpg(
    questions: DpgQuestions,
    answers: Answers,
    *,
    mode: Mode = "upstream",
    unreadable: Mapping[str, str] | None = None,
    allow_incomplete: bool = False,
) -> DpgScore:
    """Score the answers (see the module doc for what each mode does).

    ``answers`` may hold the first CSV row's answer in upstream mode (it is ignored there), so one
    grading pass over every question serves both modes. ``unreadable`` maps the item ids whose
    image could not be read to the reason. Raises :class:`DataError` for answers to a prompt or
    question the CSV lacks, a tile without an answer to a question it needs, or, unless
    ``allow_incomplete``, any prompt that is missing or unreadable.
    """
    if mode not in MODES:
        raise DataError(f"unknown DPG-Bench scoring mode {mode!r}; known: {', '.join(MODES)}")
    unreadable = dict(unreadable or {})
    extra = sorted((set(answers) | set(unreadable)) - set(questions.prompts))
    if extra:
        raise DataError(
            f"DPG-Bench: {len(extra)} image(s) name no prompt of {questions.path}: {', '.join(extra[:5])}",
            hint="the images folder must hold only <item_id>.png files of the benchmark's prompts",
        )
    both = sorted(set(answers) & set(unreadable))
    if both:
        raise DataError(f"DPG-Bench: items {', '.join(both[:5])} have answers and are also listed as unreadable")
    missing = tuple(i for i in questions.prompts if i not in answers and i not in unreadable)
    if (missing or unreadable) and not allow_incomplete:
        listed = [*missing[:3], *list(unreadable)[:3]]
        raise DataError(
            f"DPG-Bench: {len(missing)} prompt(s) without an image and {len(unreadable)} unreadable, of "
            f"{len(questions.prompts)} (e.g. {', '.join(listed)})",
            hint="generate them (re-run the same command), or pass --allow-incomplete to score the rest "
            "(upstream silently drops them)",
        )

    first = questions.first_row
    prompts: dict[str, PromptScore] = {}
    dropped: dict[str, str] = {}
    per_l2: defaultdict[str, list[float]] = defaultdict(list)
    for item_id, prompt in questions.prompts.items():
        if item_id not in answers:
            continue
        tiles = answers[item_id]
        if mode == "upstream":
            asked = [q for q in prompt.questions if q is not first]
        else:
            asked = list(prompt.questions)
        _check_answers(prompt, tiles, asked)
        if not asked:
            dropped[item_id] = "its only question is the first CSV row, which upstream never reads"
            continue
        if mode == "upstream":
            try:
                results = [_upstream_tile(asked, tile) for tile in tiles]
            except _UpstreamDrops as exc:
                dropped[item_id] = str(exc)
                continue
            tile_scores = [s for s, _ in results]
            last_raw = results[-1][1]
            for q in asked:
                per_l2[q.category].append(last_raw[q.proposition_id])
        else:
            ancestors = _ancestors(prompt)
            zeroed = [_fixed_tile(asked, ancestors, tile) for tile in tiles]
            tile_scores = [sum(z.values()) / len(z) for z in zeroed]
            for z in zeroed:
                for q in asked:
                    per_l2[q.category].append(z[q.proposition_id])
        prompts[item_id] = PromptScore(item_id, tuple(tile_scores), sum(tile_scores) / len(tile_scores))

    per_l1: defaultdict[str, list[float]] = defaultdict(list)
    for category, values in per_l2.items():
        per_l1[category.split("-")[0].strip()].extend(values)
    return DpgScore(
        mode=mode,
        overall=_mean100([p.score for p in prompts.values()]) if prompts else None,
        prompts=prompts,
        l1={c: _mean100(v) for c, v in sorted(per_l1.items())},
        l2={c: _mean100(v) for c, v in sorted(per_l2.items())},
        missing=missing,
        unreadable=unreadable,
        dropped=dropped,
        n_prompts=len(questions.prompts),
    )
