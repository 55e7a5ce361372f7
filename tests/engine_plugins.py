"""Test-only tasks and models that exercise the engine the way the real ones do.

* ``ColorVqaTask`` (understand): a JSONL of questions about base64 PNG images, scored by exact match
  of the answer, per-category breakdown, bootstrap CI.
* ``PaintTask`` (generate): prompts asking for an image of a colour, N images per prompt, scored by
  a "detector" that measures the image's mean colour.
* ``PixelModel``: answers with the dominant colour channel of the image it is shown (it never sees
  the answer), and paints solid images whose colour depends on the prompt and the per-image seed.

Both tasks and the model are plugged in through cards written by ``write_cards``, the way a lab's
own package would add them. Options let tests inject failures, out-of-memory errors and delays.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel

from ming_eval.cards.schema import GenerateProtocol, NoOptions, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.results import Prediction, SampleScore, TaskResult
from ming_eval.core.sample import (
    Capability,
    GenerateRequest,
    ImagePart,
    ImageRef,
    Sample,
    TextPart,
    UnderstandRequest,
)
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.stats.bootstrap import grouped_mean_metrics, mean_metric

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 210)}


def png_b64(color: tuple[int, int, int], size: int = 16) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def make_vqa_data(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as fh:
        for i in range(n):
            shown = rng.choice(list(COLORS))
            answer = shown if rng.random() < 0.8 else rng.choice(list(COLORS))
            fh.write(
                json.dumps(
                    {
                        "index": i,
                        "question": "Which colour dominates the image?",
                        "image": png_b64(COLORS[shown]),
                        "answer": answer,
                        "category": "warm" if answer == "red" else "cool",
                    }
                )
                + "\n"
            )
    return path


def make_paint_data(path: Path, n: int) -> Path:
    names = list(COLORS)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"index": i, "prompt": f"a {names[i % 3]} square", "color": names[i % 3]}) + "\n")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class VqaOptions(BaseModel):
    model_config = {"extra": "forbid"}
    data_file: str = "vqa.jsonl"
    lowercase: bool = True


class ColorVqaTask(BaseTask):
    capability = Capability.UNDERSTAND
    Options = VqaOptions
    prompt_styles = ("default", "short")

    def samples(self, ctx: TaskContext) -> list[Sample]:
        opts = self.options
        assert isinstance(opts, VqaOptions)
        assert isinstance(ctx.protocol, UnderstandProtocol)
        path = ctx.data.path(opts.data_file)
        suffix = " Answer with one word." if ctx.protocol.prompt_style == "short" else ""
        out = []
        for line_no, line in enumerate(path.read_text().splitlines()):
            row = json.loads(line)
            img = ImageRef.from_base64(row["image"], f"{path.name} row {line_no + 1}")
            req = UnderstandRequest((ImagePart(img), TextPart(row["question"] + suffix)))
            out.append(Sample(str(row["index"]), req, target=row["answer"], meta={"category": row["category"]}))
        return out

    def scorer(self, ctx: TaskContext) -> Scorer:
        return ExactMatchScorer()

    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        return {"category": sample.meta["category"]}

    def headline(self) -> Statistic:
        return Mean(scale=100.0)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        return TaskResult(
            task=self.name,
            primary="accuracy",
            metrics={"accuracy": mean_metric(values, scale=100.0)},
            breakdowns={"category": grouped_mean_metrics(values, [s.meta["category"] for s in samples], scale=100.0)},
        )


class ExactMatchScorer(Scorer):
    batch_size = 16

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        out = []
        for sample, pred in batch:
            said = str(pred.output).strip().lower()
            ok = said == str(sample.target).lower()
            out.append(
                SampleScore(
                    sample.id,
                    float(ok),
                    correct=ok,
                    reason=f"said {said!r}, gold {sample.target!r}",
                    details={"extracted": said},
                )
            )
        return out


class PaintTask(BaseTask):
    capability = Capability.GENERATE

    def samples(self, ctx: TaskContext) -> list[Sample]:
        path = ctx.data.path("paint.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return [
            Sample(f"{r['index']:05d}", GenerateRequest(r["prompt"], num_images=2), target=r["color"]) for r in rows
        ]

    def image_relpath(self, sample: Sample, index: int) -> str:
        return f"{sample.id}/samples/{index:04d}.png"

    def prepare_outputs(self, sample: Sample, images_root: Path) -> None:
        folder = images_root / sample.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.jsonl").write_text(json.dumps({"prompt": sample.request.prompt}) + "\n")  # type: ignore[union-attr]

    def scorer(self, ctx: TaskContext) -> Scorer:
        return MeanColorScorer()

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        return TaskResult(
            task=self.name, primary="accuracy", metrics={"accuracy": mean_metric([s.score for s in scores])}
        )


class MeanColorScorer(Scorer):
    batch_size = 4

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        out = []
        for sample, pred in batch:
            hits = []
            for path in pred.image_paths():
                arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).mean(axis=(0, 1))
                hits.append(list(COLORS)[int(arr.argmax())] == sample.target)
            out.append(SampleScore(sample.id, float(np.mean(hits)), correct=all(hits), details={"hits": hits}))
        return out


class PixelOptions(BaseModel):
    model_config = {"extra": "forbid"}
    fail_on: str | None = None  # requests whose text contains this raise ValueError
    oom_above: int = 0  # batches larger than this raise an out-of-memory error
    delay_s: float = 0.0  # sleep per batch (for kill tests)
    api_key: str | None = None  # must never reach the manifest


class FakeOutOfMemoryError(RuntimeError):
    pass


FakeOutOfMemoryError.__name__ = "OutOfMemoryError"


class PixelModel(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND, Capability.GENERATE})
    Options = PixelOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {Capability.GENERATE: ("height", "width")}
    loads: ClassVar[int] = 0
    batch_sizes: ClassVar[list[int]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        type(self).loads += 1

    def _check(self, texts: list[str]) -> None:
        opts = self.options
        assert isinstance(opts, PixelOptions)
        type(self).batch_sizes.append(len(texts))
        if opts.delay_s:
            time.sleep(opts.delay_s)
        if opts.oom_above and len(texts) > opts.oom_above:
            raise FakeOutOfMemoryError("CUDA out of memory (simulated)")
        for t in texts:
            if opts.fail_on and opts.fail_on in t:
                raise ValueError(f"cannot handle {t!r}")

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        self._check([r.text for r in requests])
        out = []
        for r in requests:
            arr = np.asarray(r.images[0].load(), dtype=np.float32).mean(axis=(0, 1))
            out.append(list(COLORS)[int(arr.argmax())])
        return out

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        self._check([r.prompt for r in requests])
        out = []
        for r in requests:
            images = []
            for seed in r.seeds:
                rng = random.Random(seed)
                word = next((c for c in COLORS if c in r.prompt), "red")
                color = COLORS[word] if rng.random() < 0.7 else COLORS[rng.choice(list(COLORS))]
                images.append(Image.new("RGB", (protocol.width or 8, protocol.height or 8), color))
            out.append(images)
        return out


def write_cards(
    root: Path, cache: Path, *, n_vqa: int = 24, n_paint: int = 6, model_options: dict | None = None
) -> Path:
    """Write test cards under ``root`` and their data into the cache folder ``cache`` (where
    ``$MING_EVAL_CACHE`` points), with the data files' real checksums in the cards."""
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "model_zoo").mkdir(parents=True, exist_ok=True)
    for task in ("color_vqa", "paint"):
        (cache / "data" / task).mkdir(parents=True, exist_ok=True)
    vqa = make_vqa_data(cache / "data" / "color_vqa" / "vqa.jsonl", n_vqa)
    paint = make_paint_data(cache / "data" / "paint" / "paint.jsonl", n_paint)
    (root / "tasks" / "color_vqa.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "color_vqa",
                "class": "tests.engine_plugins:ColorVqaTask",
                "capability": "understand",
                "description": "test VQA",
                "data": [{"name": "vqa.jsonl", "sha256": sha256(vqa)}],
            }
        )
    )
    (root / "tasks" / "paint.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "paint",
                "class": "tests.engine_plugins:PaintTask",
                "capability": "generate",
                "data": [{"name": "paint.jsonl", "sha256": sha256(paint)}],
            }
        )
    )
    (root / "model_zoo" / "pixel.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "pixel",
                "class": "tests.engine_plugins:PixelModel",
                "capabilities": ["understand", "generate"],
                "checkpoint": "none",
                "dtype": "float32",
                "options": model_options or {},
                "batch_size": {"understand": 4, "generate": 2},
                "protocol": {"understand": {"max_new_tokens": 8}, "generate": {"height": 8, "width": 8, "seed": 7}},
            }
        )
    )
    return root


__all__ = ["ColorVqaTask", "NoOptions", "PaintTask", "PixelModel", "write_cards"]
