"""What ``bench_engine.py`` and ``bench_engine_first_run.py`` share: the task and the zero-cost model
they run through the shipped engine, the plain-Python loop they compare it with, and the folder both
set up (cards, a TSV of ``index, question, answer``, the environment of the children)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import yaml

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.results import Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Capability, Sample, TextPart, UnderstandRequest
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.stats.bootstrap import mean_metric

ROOT = Path(__file__).resolve().parents[1]


class CountTask(BaseTask):
    capability = Capability.UNDERSTAND
    needs_torch: ClassVar[bool] = False

    def samples(self, ctx: TaskContext) -> list[Sample]:
        out = []
        with open(os.environ["BENCH_TSV"], encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                index, question, answer = line.rstrip("\n").split("\t")
                out.append(Sample(index, UnderstandRequest((TextPart(question),)), target=answer))
        return out

    def scorer(self, ctx: TaskContext) -> Scorer:
        return MatchScorer()

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        return TaskResult(self.name, "accuracy", {"accuracy": mean_metric([s.score for s in scores], scale=100)})


class MatchScorer(Scorer):
    batch_size = 256

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        return [SampleScore(s.id, float(p.output == s.target), correct=p.output == s.target) for s, p in batch]


class InstantModel(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    needs_torch: ClassVar[bool] = False  # a zero-cost model, like an endpoint's client

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        return ["3" for _ in requests]


#: the plain loop's work (argv: TSV, output JSONL): one flushed JSON line per record, the correct
#: answers counted, an fsync at the end; each bench wraps it in its own imports and timing
PLAIN_LOOP_BODY = """
with open(sys.argv[1], encoding="utf-8") as fh, open(sys.argv[2], "w", encoding="utf-8") as out:
    next(fh)
    correct = 0
    for line in fh:
        index, question, answer = line.rstrip("\\n").split("\\t")
        output = "3"
        out.write(json.dumps({"id": index, "status": "ok", "output": output}) + "\\n")
        out.flush()
        correct += output == answer
    out.flush()
    os.fsync(out.fileno())
"""


def workspace(root: Path, samples: int) -> tuple[Path, dict[str, str]]:
    """Cards ``count`` and ``instant`` and a TSV of ``samples`` questions under ``root``; the TSV and
    the environment a child needs to run them (cards, cache, ``bench/`` on the path, one thread)."""
    (root / "cards" / "tasks").mkdir(parents=True)
    (root / "cards" / "model_zoo").mkdir(parents=True)
    (root / "cards" / "tasks" / "count.yaml").write_text(
        yaml.safe_dump({"name": "count", "class": "_engine_common:CountTask", "capability": "understand"})
    )
    (root / "cards" / "model_zoo" / "instant.yaml").write_text(
        yaml.safe_dump({"name": "instant", "class": "_engine_common:InstantModel", "capabilities": ["understand"]})
    )
    tsv = root / "count.tsv"
    with tsv.open("w", encoding="utf-8") as fh:
        fh.write("index\tquestion\tanswer\n")
        fh.writelines(f"{i}\tWhat is {i} mod 7?\t{i % 7}\n" for i in range(samples))
    env = dict(
        os.environ,
        MING_EVAL_CARDS_PATH=str(root / "cards"),
        MING_EVAL_CACHE=str(root / "cache"),
        PYTHONPATH=f"{ROOT}:{ROOT / 'bench'}",
        BENCH_TSV=str(tsv),
        OMP_NUM_THREADS="1",
    )
    return tsv, env
