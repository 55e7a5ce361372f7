"""The DPG-Bench scorer: each prompt's grid -> tiles -> every (tile, question) asked of the VQA grader.

One :class:`~ming_eval.core.results.SampleScore` per prompt. Its ``score`` is the prompt's DPG score
(0-1, the mean over its tiles of the share of questions that pass after parent zeroing, in the task's
scoring mode); ``details["answers"]`` keeps the grader's raw answer to every question of every tile,
so that the task's ``aggregate`` runs the whole benchmark's scoring (:func:`score_dpg`, with its
category tables and upstream's quirks) from the stored answers alone.

The questions of a whole batch of prompts go to the grader in one call (every tile x every question,
the first CSV row included, so one grading serves both modes). A grader that gives no answer to any
question of a prompt (an outage, a refused request) leaves the prompt ``judge_unavailable``: scored 0
for now, asked again on the next run, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ming_eval.core.results import JUDGE_UNAVAILABLE, SCORING_FAILED, Prediction, SampleScore
from ming_eval.core.sample import ImagePart, ImageRef, Sample, TextPart, UnderstandRequest
from ming_eval.core.task import Scorer
from ming_eval.errors import DataError
from ming_eval.graders.base import DecodeSettings, Grader
from ming_eval.tasks.dpg_bench.grid import split_grid
from ming_eval.tasks.dpg_bench.questions import DpgQuestions
from ming_eval.tasks.dpg_bench.scoring import Mode, score_dpg

#: the group key of the headline: "no" for a prompt upstream's own script drops (see scoring.py)
COUNTED = "counted"


@dataclass(frozen=True)
class DpgScorerSettings:
    mode: Mode
    #: tiles per grid (upstream's ``--pic-num``)
    tiles: int
    #: tile side in pixels; None: the size of the prediction's tile files (our own runs)
    resolution: int | None
    decode: DecodeSettings
    prompts_per_batch: int = 8


def answers_of(details: dict[str, Any]) -> list[dict[int, str]]:
    """The per-tile answers a score stores (JSON keys are strings) with integer question ids."""
    return [{int(pid): str(text) for pid, text in tile.items()} for tile in details["answers"]]


class DpgScorer(Scorer):
    """Scores prompts batch by batch; one grader call per batch."""

    def __init__(self, grader: Grader, questions: DpgQuestions, settings: DpgScorerSettings) -> None:
        self.grader = grader
        self.questions = questions
        self.settings = settings
        self.batch_size = settings.prompts_per_batch

    def _tiles(self, pred: Prediction) -> list[ImageRef]:
        paths = pred.image_paths()
        if not paths:
            raise DataError("the prediction lists no image")
        resolution = self.settings.resolution
        if resolution is None:
            if len(paths) < 2:
                raise DataError(
                    f"{paths[0]}: the tile resolution is unknown",
                    hint="pass -o dpg_bench.resolution=N, the side in pixels of one tile of the grid",
                )
            resolution = ImageRef.from_path(paths[1]).load().width
        tiles = split_grid(paths[0], resolution=resolution, tiles=self.settings.tiles)
        return [ImageRef.from_pil(t, source=f"{paths[0]} tile {k}") for k, t in enumerate(tiles)]

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        requests: list[UnderstandRequest] = []
        #: per prompt of the batch: (first request, number of tiles) or the reason it cannot be asked
        slots: list[tuple[int, int] | str] = []
        for sample, pred in batch:
            prompt = self.questions.prompts.get(sample.id)
            if prompt is None:
                slots.append(f"item {sample.id} is not in {self.questions.path}")
                continue
            try:
                tiles = self._tiles(pred)
            except DataError as exc:
                slots.append(str(exc))
                continue
            slots.append((len(requests), len(tiles)))
            for tile in tiles:
                requests.extend(UnderstandRequest((ImagePart(tile), TextPart(q.question))) for q in prompt.questions)
        replies = self.grader.grade(requests, self.settings.decode) if requests else []
        out: list[SampleScore] = []
        for (sample, _), slot in zip(batch, slots, strict=True):
            if isinstance(slot, str):
                out.append(SampleScore(sample.id, 0.0, correct=False, status=SCORING_FAILED, reason=slot))
                continue
            start, n_tiles = slot
            prompt = self.questions.prompts[sample.id]
            n_q = len(prompt.questions)
            mine = replies[start : start + n_tiles * n_q]
            details: dict[str, Any] = {"judge": self.grader.identity, "mode": self.settings.mode}
            failed = next((r.error for r in mine if not r.ok), None)
            if failed is not None:
                reason = f"the grader {self.grader.identity} gave no answer: {failed}"
                out.append(SampleScore(sample.id, 0.0, correct=None, status=JUDGE_UNAVAILABLE, reason=reason))
                continue
            answers = [
                {q.proposition_id: str(r.text) for q, r in zip(prompt.questions, tile, strict=True)}
                for tile in (mine[t * n_q : (t + 1) * n_q] for t in range(n_tiles))
            ]
            details["answers"] = [{str(pid): text for pid, text in tile.items()} for tile in answers]
            out.append(self._verdict(sample, answers, details))
        return out

    def _verdict(self, sample: Sample, answers: list[dict[int, str]], details: dict[str, Any]) -> SampleScore:
        result = score_dpg(self.questions, {sample.id: answers}, mode=self.settings.mode, allow_incomplete=True)
        if sample.id in result.dropped:
            details["groups"] = {COUNTED: "no"}
            reason = f"not counted: {result.dropped[sample.id]}"
            return SampleScore(sample.id, 0.0, correct=None, reason=reason, details=details)
        scored = result.prompts[sample.id]
        details["groups"] = {COUNTED: "yes"}
        details["tile_scores"] = list(scored.tile_scores)
        yes = sum(text == "yes" for tile in answers for text in tile.values())
        total = sum(len(tile) for tile in answers)
        tiles = ", ".join(f"{s:.3f}" for s in scored.tile_scores)
        reason = f"{yes}/{total} answers 'yes'; tile scores {tiles} ({self.settings.mode} scoring)"
        return SampleScore(sample.id, scored.score, correct=scored.score == 1.0, reason=reason, details=details)
