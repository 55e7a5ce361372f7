"""Run a task's scorer and aggregate on generated data, without the runner.

The judge's prompt sources (optional data files of the cards) are stand-ins written by
``tests.tasks.vlm.standins`` unless a test passes others (``sources``; ``{}`` for none at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.results import Prediction, SampleScore, Status, TaskResult
from ming_eval.core.sample import Sample
from ming_eval.core.task import TaskContext
from ming_eval.data.files import DataFiles, file_digest
from ming_eval.registry import get_task_card
from ming_eval.runner.plan import load_task
from ming_eval.tasks.vlm.base import VlmTask
from tests.tasks.vlm.standins import accept, write_standins


def load(
    name: str,
    tmp_path: Path,
    make: Callable[[Path], Path],
    *,
    style: str = "default",
    sources: Mapping[str, Path] | None = None,
    **options: Any,
) -> tuple[VlmTask, list[Sample], TaskContext]:
    card = get_task_card(name)
    dataset = card.options["dataset"]
    path = make(tmp_path / f"{dataset}.tsv")
    task = load_task(card, {"data_md5": file_digest(path, "md5"), **options})
    assert isinstance(task, VlmTask)
    if sources is None:
        sources = write_standins(tmp_path / "judge-sources", tuple(f.name for f in card.data if not f.required))
    files = DataFiles(task.name, accept(task.data_files(), sources), overrides={path.name: path, **sources})
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    ctx = TaskContext(protocol=UnderstandProtocol(prompt_style=style), data=files, work_dir=work)
    return task, list(task.samples(ctx)), ctx


def score(
    task: VlmTask,
    ctx: TaskContext,
    samples: list[Sample],
    outputs: Mapping[str, str | None],
    *,
    failed: set[str] = frozenset(),
) -> tuple[list[SampleScore], TaskResult]:  # type: ignore[assignment]
    """Score ``outputs`` (sample id -> text); ids in ``failed`` are failed inferences. The scorer sees
    every prediction in its context, as the engine gives it."""
    preds = {}
    for s in samples:
        if s.id in failed:
            preds[s.id] = Prediction(s.id, Status.FAILED, error="boom")
        else:
            preds[s.id] = Prediction(s.id, Status.OK, output=outputs.get(s.id, ""))
    scorer = task.scorer(ctx.for_scoring(samples, preds))
    try:
        ok = [(s, preds[s.id]) for s in samples if preds[s.id].ok]
        by_id = {sc.id: sc for sc in scorer.score(ok)}
    finally:
        scorer.close()
    scores = [by_id.get(s.id) or SampleScore(s.id, 0.0, correct=False, status="inference_failed") for s in samples]
    return scores, task.aggregate(samples, scores, ctx.for_scoring(samples, preds))
