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
from typing import Any, ClassVar

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel

from ming_eval.cards.schema import GenerateProtocol, NoOptions, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.results import JUDGE_UNAVAILABLE, Prediction, SampleScore, TaskResult
from ming_eval.core.sample import (
    Capability,
    EditRequest,
    GenerateRequest,
    ImagePart,
    ImageRef,
    Sample,
    TextPart,
    UnderstandRequest,
)
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.graders.base import DecodeSettings, Grader
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


def write_task_card(root: Path, name: str, cls: str, capability: str, data: Path, **fields: Any) -> None:
    """The card of task ``name`` (class ``tests.engine_plugins:<cls>``) over the one data file ``data``."""
    card = {"name": name, "class": f"tests.engine_plugins:{cls}", "capability": capability, **fields}
    card["data"] = [{"name": data.name, "sha256": sha256(data)}]
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(card))


def write_model_card(root: Path, name: str, cls: str, capabilities: list[str], **fields: Any) -> None:
    """The zoo card of model ``name`` (class ``module:Class``), no checkpoint, float32."""
    card = {"name": name, "class": cls, "capabilities": capabilities, "checkpoint": "none", "dtype": "float32"}
    (root / "model_zoo").mkdir(parents=True, exist_ok=True)
    (root / "model_zoo" / f"{name}.yaml").write_text(yaml.safe_dump({**card, **fields}))


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
    for task in ("color_vqa", "paint"):
        (cache / "data" / task).mkdir(parents=True, exist_ok=True)
    vqa = make_vqa_data(cache / "data" / "color_vqa" / "vqa.jsonl", n_vqa)
    paint = make_paint_data(cache / "data" / "paint" / "paint.jsonl", n_paint)
    write_task_card(root, "color_vqa", "ColorVqaTask", "understand", vqa, description="test VQA")
    write_task_card(root, "paint", "PaintTask", "generate", paint)
    write_model_card(
        root,
        "pixel",
        "tests.engine_plugins:PixelModel",
        ["understand", "generate"],
        options=model_options or {},
        batch_size={"understand": 4, "generate": 2},
        protocol={"understand": {"max_new_tokens": 8}, "generate": {"height": 8, "width": 8, "seed": 7}},
    )
    return root


# -- a grader-scored task ---------------------------------------------------------------------------
# ``GradedPaintTask`` scores PaintTask-style images by asking a grader from the context which colour
# dominates each image (as DPG-Bench asks a VQA model about generated images). ``PixelGrader`` is a
# PixelModel with its own counters, so tests can tell grader loads and calls from the model's.

GRADER_QUESTION = "Which colour dominates the image? Answer with one word."


class GradedPaintOptions(BaseModel):
    model_config = {"extra": "forbid"}
    #: a grader spec: a zoo card name, ``endpoint:<model>``, or a mapping (see ``ming_eval.graders.base``)
    grader: str | dict[str, Any] = "pixel-grader"
    #: fraction of a sample's images the grader must find right for the sample to be correct
    pass_fraction: float = 1.0


class GradedPaintTask(PaintTask):
    Options = GradedPaintOptions

    def scorer(self, ctx: TaskContext) -> Scorer:
        opts = self.options
        assert isinstance(opts, GradedPaintOptions)
        return GraderScorer(ctx.graders.get(opts.grader, where=f"task {self.name} option grader"), opts)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        return TaskResult(
            task=self.name, primary="accuracy", metrics={"accuracy": mean_metric([s.score for s in scores])}
        )


class GraderScorer(Scorer):
    batch_size = 4

    def __init__(self, grader: Grader, options: GradedPaintOptions) -> None:
        self.grader = grader
        self.options = options

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        requests, owner = [], []
        for i, (sample, pred) in enumerate(batch):
            assert isinstance(sample.request, GenerateRequest)
            question = f"{GRADER_QUESTION} (it was drawn for: {sample.request.prompt})"
            for path in pred.image_paths():
                requests.append(UnderstandRequest((ImagePart(ImageRef.from_path(path)), TextPart(question))))
                owner.append(i)
        replies = self.grader.grade(requests, DecodeSettings(max_tokens=4))
        out = []
        for i, (sample, _) in enumerate(batch):
            mine = [r for r, o in zip(replies, owner, strict=True) if o == i]
            failed = next((r.error for r in mine if not r.ok), None)
            details = {"grader": self.grader.identity, "replies": [r.text for r in mine]}
            if failed is not None:
                status = JUDGE_UNAVAILABLE
                out.append(SampleScore(sample.id, 0.0, correct=None, reason=failed, status=status, details=details))
                continue
            hits = [str(r.text).strip() == sample.target for r in mine]
            frac = sum(hits) / len(hits)
            out.append(SampleScore(sample.id, frac, correct=frac >= self.options.pass_fraction, details=details))
        return out


class PixelGrader(PixelModel):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    loads: ClassVar[int] = 0
    batch_sizes: ClassVar[list[int]] = []


def write_graded_cards(root: Path, cache: Path, *, grader_options: dict | None = None, grader_batch: int = 4) -> Path:
    """Add to the cards of :func:`write_cards` the task ``graded_paint`` (paint's data) and the grader
    card ``pixel-grader``; call again to change the grader's options."""
    paint = cache / "data" / "paint" / "paint.jsonl"
    (cache / "data" / "graded_paint").mkdir(parents=True, exist_ok=True)
    (cache / "data" / "graded_paint" / "paint.jsonl").write_bytes(paint.read_bytes())
    write_task_card(root, "graded_paint", "GradedPaintTask", "generate", paint)
    write_model_card(
        root,
        "pixel-grader",
        "tests.engine_plugins:PixelGrader",
        ["understand"],
        options=grader_options or {},
        batch_size={"understand": grader_batch},
    )
    return root


# -- editing: a recolouring task and a model that recolours ------------------------------------------
# ``RecolourTask`` (edit): a JSONL of base64 PNGs, each with an instruction to recolour it; N edits per
# image, written as ``<id>/edit-<k>.png``, scored by the edited image's mean colour (and its size, which
# an edit keeps). ``PixelEditor`` is ``PixelModel`` plus editing: each edit repaints the input in the
# instruction's colour (or, with probability 0.3, another one) with a little noise, all drawn from that
# image's seed, so an edit is reproducible alone and in any batch. ``write_edit_cards`` adds both cards.


def make_recolour_data(path: Path, n: int) -> Path:
    names = list(COLORS)
    with path.open("w") as fh:
        for i in range(n):
            shown, wanted = names[i % 3], names[(i + 1) % 3]
            row = {"index": i, "image": png_b64(COLORS[shown], 12 + i), "instruction": f"make it {wanted}"}
            fh.write(json.dumps({**row, "color": wanted}) + "\n")
    return path


class RecolourTask(BaseTask):
    capability = Capability.EDIT

    def samples(self, ctx: TaskContext) -> list[Sample]:
        path = ctx.data.path("recolour.jsonl")
        out = []
        for line_no, line in enumerate(path.read_text().splitlines()):
            row = json.loads(line)
            image = ImageRef.from_base64(row["image"], f"{path.name} row {line_no + 1}")
            request = EditRequest(image, row["instruction"], num_images=2)
            out.append(Sample(f"{row['index']:03d}", request, target=row["color"]))
        return out

    def image_relpath(self, sample: Sample, index: int) -> str:
        return f"{sample.id}/edit-{index}.png"

    def scorer(self, ctx: TaskContext) -> Scorer:
        return RecolourScorer()

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        values = [s.score for s in scores]
        return TaskResult(task=self.name, primary="accuracy", metrics={"accuracy": mean_metric(values, scale=100.0)})


class RecolourScorer(Scorer):
    batch_size = 4

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        out = []
        for sample, pred in batch:
            assert isinstance(sample.request, EditRequest)
            size = sample.request.image.load().size
            hits = []
            for path in pred.image_paths():
                with Image.open(path) as img:
                    mean = np.asarray(img.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))
                    hits.append(img.size == size and list(COLORS)[int(mean.argmax())] == sample.target)
            out.append(SampleScore(sample.id, float(np.mean(hits)), correct=all(hits), details={"hits": hits}))
        return out


class PixelEditor(PixelModel):
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.UNDERSTAND, Capability.GENERATE, Capability.EDIT}
    )
    edit_batches: ClassVar[list[list[str]]] = []  # instruction + seed of every request of every batch

    def edit(self, requests: Sequence[EditRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        self._check([r.instruction for r in requests])
        type(self).edit_batches.append([f"{r.instruction} {list(r.seeds)}" for r in requests])
        out = []
        for r in requests:
            source = np.asarray(r.image.load().convert("RGB"), dtype=np.int16)
            word = next((c for c in COLORS if c in r.instruction), "red")
            images = []
            for seed in r.seeds:
                rng = np.random.default_rng(seed)
                color = COLORS[word] if rng.random() < 0.7 else COLORS[list(COLORS)[int(rng.integers(3))]]
                noise = rng.integers(-4, 5, size=source.shape)
                pixels = np.clip(np.asarray(color, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
                images.append(Image.fromarray(pixels, "RGB"))
            out.append(images)
        return out


def write_edit_cards(root: Path, cache: Path, *, n: int = 6, model_options: dict | None = None) -> Path:
    """Add the ``recolour`` task card (data in ``cache``) and the ``pixel-editor`` model card to ``root``."""
    (cache / "data" / "recolour").mkdir(parents=True, exist_ok=True)
    data = make_recolour_data(cache / "data" / "recolour" / "recolour.jsonl", n)
    write_task_card(root, "recolour", "RecolourTask", "edit", data)
    write_model_card(
        root,
        "pixel-editor",
        "tests.engine_plugins:PixelEditor",
        ["edit"],
        options=model_options or {},
        batch_size={"edit": 2},
        protocol={"edit": {"seed": 11}},
    )
    return root


__all__ = [
    "ColorVqaTask",
    "GradedPaintTask",
    "NoOptions",
    "PaintTask",
    "PixelEditor",
    "PixelGrader",
    "PixelModel",
    "RecolourTask",
    "write_cards",
    "write_edit_cards",
    "write_graded_cards",
    "write_model_card",
    "write_task_card",
]
