"""A task whose result is a number its card sets, and a model that answers anything: enough to run
the leaderboard suite with any row of results (e.g. a published one) through the real runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.results import Prediction, SampleScore, TaskResult
from ming_eval.core.sample import Capability, Sample, TextPart, UnderstandRequest
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.stats.bootstrap import mean_metric

N_SAMPLES = 4


class FixedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the task's overall on 0-100 (every sample scores value / 100)
    value: float


class FixedScoreTask(BaseTask):
    """``overall`` = the card's value; ``final_score`` = value * 10, as OCRBench's 0-1000 final score."""

    capability = Capability.UNDERSTAND
    Options = FixedOptions

    @property
    def value(self) -> float:
        assert isinstance(self.options, FixedOptions)
        return self.options.value

    def samples(self, ctx: TaskContext) -> list[Sample]:
        return [Sample(str(i), UnderstandRequest((TextPart("q"),)), target=self.value / 100) for i in range(N_SAMPLES)]

    def scorer(self, ctx: TaskContext) -> Scorer:
        return TargetScorer()

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        return TaskResult(
            task=self.name,
            primary="overall",
            metrics={"overall": mean_metric(values, scale=100.0), "final_score": mean_metric(values, scale=1000.0)},
        )


class TargetScorer(Scorer):
    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        return [SampleScore(sample.id, float(sample.target)) for sample, _ in batch]


class AnyModel(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})

    def understand(self, requests: Sequence[UnderstandRequest], protocol: object) -> list[str]:
        return ["x"] * len(requests)
