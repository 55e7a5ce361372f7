"""The DPG-Bench task: 1,065 dense prompts x 4 images, one 2x2 grid per prompt, graded by a VQA model.

Card: ``tasks/dpg_bench.yaml`` (the question file ``dpg_bench.csv`` of ELLA at 3c228f1, pinned by its
git blob id). Generation writes each image as a tile, ``images/tiles/<item_id>/<k>.png`` (so resume
is per image), and once a prompt's tiles are all on disk tiles them into ``images/grids/<item_id>.png``
-- upstream's layout: ELLA's ``compute_dpg_bench.py`` reads that folder as it is, and
``ming-eval score dpg_bench --images DIR`` reads a folder upstream's users made. A grid deleted or
replaced since is assembled again from the tiles on the next run; a tile deleted is generated again
and the grid re-made.

Scoring asks the grader of option ``grader`` (default the zoo card ``mplug-large``, upstream's
mPLUG-large; any understand-capable zoo card or ``endpoint:<model>``) every question about every
tile (:mod:`ming_eval.tasks.dpg_bench.scorer`); ``aggregate`` computes the benchmark's numbers from
the stored answers with :func:`~ming_eval.tasks.dpg_bench.scoring.score_dpg` (mode ``upstream``:
ELLA's script with its quirks; ``fixed``: corrected, never comparable with published numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ming_eval.cards.schema import DataFile, GenerateProtocol, TaskCard, UnderstandProtocol
from ming_eval.core.results import JUDGE_UNAVAILABLE, Metric, Prediction, SampleScore, Status, TaskResult, file_stats
from ming_eval.core.sample import Capability, GenerateRequest, Sample
from ming_eval.core.statistic import Mean, Statistic
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.data.files import file_digest
from ming_eval.errors import DataError
from ming_eval.graders.base import DecodeSettings
from ming_eval.store.imports import IMPORT_STATE, check_earlier_import, read_import_state
from ming_eval.store.jsonl import write_json_atomic
from ming_eval.store.run_store import TaskStore
from ming_eval.tasks.dpg_bench.folder import scan_image_folder
from ming_eval.tasks.dpg_bench.grid import MAX_TILES, grid_size, write_grid
from ming_eval.tasks.dpg_bench.questions import DpgQuestions, read_dpg_questions
from ming_eval.tasks.dpg_bench.scorer import COUNTED, DpgScorer, DpgScorerSettings, answers_of
from ming_eval.tasks.dpg_bench.scoring import score_dpg

log = logging.getLogger(__name__)

CSV_FILE = "dpg_bench.csv"
#: images per prompt in the published protocol (ELLA's dist_eval.sh: PIC_NUM=4)
DEFAULT_IMAGES_PER_PROMPT = 4
GRID_DIR = "grids"
TILE_DIR = "tiles"
#: the L1 categories, the columns of the published tables
L1_CATEGORIES = ("global", "entity", "attribute", "relation", "other")


class DpgBenchOptions(BaseModel):
    """Options of the DPG-Bench task card (``-o dpg_bench.KEY=VALUE`` on the command line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: upstream: ELLA's scoring with its quirks (comparable); fixed: corrected (never comparable)
    mode: Literal["upstream", "fixed"] = "upstream"
    #: a question file of one's own in dpg_bench.csv's format in place of the pinned one (results
    #: are then never comparable with published numbers)
    questions_file: str | None = None
    #: the VQA grader: a zoo card name, ``endpoint:<model>``, or a mapping (see ming_eval.graders.base)
    grader: str | dict[str, Any] = "mplug-large"
    #: tiles per prompt when the model card's protocol does not set ``images_per_prompt`` (1-4)
    images_per_prompt: int | None = Field(None, ge=1, le=MAX_TILES)
    #: side in pixels of one tile of the grids (upstream's ``--resolution``); needed to score a
    #: folder (``--images``); our own runs read it from the tiles they wrote
    resolution: int | None = Field(None, ge=1)

    @field_validator("questions_file")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else str(Path(value).expanduser().resolve())

    #: the longest answer asked of graders that honour it (a VLM); mPLUG decodes by its own config
    max_answer_tokens: int = Field(16, ge=1)
    #: prompts per scorer call (each asks tiles x questions of the grader in one batch)
    prompts_per_batch: int = Field(8, ge=1)


class DpgBenchTask(BaseTask):
    capability = Capability.GENERATE
    Options = DpgBenchOptions
    scoring_version = "1"
    unscored_options = ("prompts_per_batch",)

    def __init__(self, card: TaskCard, options: BaseModel) -> None:
        super().__init__(card, options)
        assert isinstance(options, DpgBenchOptions)
        self.opts: DpgBenchOptions = options
        #: (path, size, mtime, inode) and the parse of the question file (see :meth:`questions`)
        self._questions: tuple[tuple[Path, int, int, int], DpgQuestions] | None = None

    # -- data ------------------------------------------------------------------------------------
    def data_files(self) -> list[DataFile]:
        return [] if self.opts.questions_file is not None else list(self.card.data)

    def questions(self, ctx: TaskContext) -> DpgQuestions:
        """The question file, parsed once per task while it is unchanged: a run asks for it when it
        builds the samples, the scorer and the result."""
        if self.opts.questions_file is None:
            path = ctx.data.path(CSV_FILE)
        else:
            path = Path(self.opts.questions_file)
            if not path.is_file():
                raise DataError(
                    f"questions_file {path} does not exist",
                    hint=f"pass -o {self.name}.questions_file=PATH, a CSV in dpg_bench.csv's format",
                )
        try:
            st = path.stat()
        except OSError:  # read_dpg_questions names the file it cannot read
            return read_dpg_questions(path)
        key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
        if self._questions is None or self._questions[0] != key:
            self._questions = (key, read_dpg_questions(path))
        return self._questions[1]

    def images_per_prompt(self, ctx: TaskContext) -> int:
        from_card = getattr(ctx.protocol, "images_per_prompt", None)
        return int(from_card or self.opts.images_per_prompt or DEFAULT_IMAGES_PER_PROMPT)

    def check_protocol(self, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        n = getattr(protocol, "images_per_prompt", None)
        if n is not None and n > MAX_TILES:
            return [f"images_per_prompt {n}: DPG-Bench's grid holds at most {MAX_TILES} images per prompt"]
        height, width = getattr(protocol, "height", None), getattr(protocol, "width", None)
        if height is not None and width is not None and height != width:
            return [f"{width}x{height} images: DPG-Bench tiles square images (set height = width for this task)"]
        return super().check_protocol(protocol)

    def samples(self, ctx: TaskContext) -> list[Sample]:
        n = self.images_per_prompt(ctx)
        return [
            Sample(
                item_id,
                GenerateRequest(prompt.text, num_images=n),
                target={"questions": len(prompt.questions)},
                meta={"index": index},
            )
            for index, (item_id, prompt) in enumerate(self.questions(ctx).prompts.items())
        ]

    # -- generation outputs in upstream's layout --------------------------------------------------
    def image_relpath(self, sample: Sample, index: int) -> str:
        return f"{TILE_DIR}/{sample.id}/{index}.png"

    def finish_outputs(self, sample: Sample, images_root: Path, relpaths: list[str]) -> list[str]:
        """Tile the prompt's images into ``grids/<item_id>.png``; the record lists the grid, then the tiles."""
        grid = f"{GRID_DIR}/{sample.id}.png"
        tiles = []
        for rel in relpaths:
            with Image.open(images_root / rel) as opened:
                opened.load()
                tiles.append(opened.copy())
        write_grid(images_root / grid, tiles, item_id=sample.id)
        return [grid, *relpaths]

    def import_outputs(
        self, source: Path, samples: Sequence[Sample], store: TaskStore, *, allow_incomplete: bool = False
    ) -> int:
        """Record the grids of a folder in upstream's layout (one ``<item_id>.png`` per prompt)."""
        resolution = self.opts.resolution
        if resolution is None:
            raise DataError(
                f"scoring the DPG-Bench folder {source} needs the tile resolution of its grids",
                hint=f"pass -o {self.name}.resolution=N: the side in pixels of one tile (upstream's --resolution)",
            )
        n = samples[0].request.num_images if samples and isinstance(samples[0].request, GenerateRequest) else 0
        scan = scan_image_folder(source, [s.id for s in samples])
        expected = grid_size(resolution, n)
        problems: dict[str, str] = {}
        for item_id, path in scan.images.items():
            problem = _grid_problem(path, expected)
            if problem is not None:
                problems[item_id] = problem
        if (scan.missing or problems) and not allow_incomplete:
            first = next(iter(problems.values()), None)
            shown = f"; first problem: {first}" if first else f" (e.g. {', '.join(scan.missing[:3])}.png)"
            raise DataError(
                f"DPG-Bench folder {source}: {len(scan.missing)} of {len(samples)} prompts without an image and "
                f"{len(problems)} unusable{shown}",
                hint="fix or regenerate them, or pass --allow-incomplete to score the rest (upstream silently "
                f"drops them); the tile resolution is -o {self.name}.resolution",
            )
        files = {
            path.name: [path.stat().st_size, path.stat().st_mtime_ns]
            for item_id, path in scan.images.items()
            if item_id not in problems
        }
        state = {"source": str(source.resolve()), "images_per_prompt": n, "resolution": resolution, "files": files}
        check_earlier_import(store.dir, state, source)
        writer = store.record_writer(0)
        try:
            for sample in samples:
                grid = scan.images.get(sample.id)
                if grid is not None and sample.id not in problems:
                    output = [str(grid.resolve())]
                    writer.write(Prediction(sample.id, Status.OK, output=output, files=file_stats([grid])).to_record())
        finally:
            writer.close()
        write_json_atomic(store.dir / IMPORT_STATE, {**state, "missing": list(scan.missing), "unusable": problems})
        return len(files)

    def grader_specs(self) -> list[Any]:
        return [self.opts.grader]

    # -- scoring ---------------------------------------------------------------------------------
    def scoring_fingerprint(self) -> dict[str, Any]:
        fp = super().scoring_fingerprint()
        path = self.opts.questions_file
        if path is not None and Path(path).is_file():
            fp["questions_sha256"] = file_digest(Path(path), "sha256")
        return fp

    def sample_groups(self, sample: Sample) -> dict[str, str]:
        # the scorer stores "no" for a prompt that upstream's own script drops (scoring.py)
        return {COUNTED: "yes"}

    def headline(self) -> Statistic:
        # the mean prompt score x 100 over the prompts upstream counts
        return Mean(where={COUNTED: "yes"}, scale=100.0)

    def scorer(self, ctx: TaskContext) -> Scorer:
        opts = self.opts
        settings = DpgScorerSettings(
            mode=opts.mode,
            tiles=self.images_per_prompt(ctx),
            resolution=opts.resolution,
            decode=DecodeSettings(max_tokens=opts.max_answer_tokens, temperature=0.0),
            prompts_per_batch=opts.prompts_per_batch,
        )
        grader = ctx.graders.get(opts.grader, where=f"task {self.name} option grader")
        return DpgScorer(grader, self.questions(ctx), settings)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        from ming_eval.stats.headline import headline_metric, score_keys

        statistic = self.headline()
        keys, _ = score_keys(statistic, scores, self.name)
        primary = headline_metric(statistic, [s.score for s in scores], keys)
        answers = {s.id: answers_of(s.details) for s in scores if s.status == "ok" and "answers" in s.details}
        dpg = score_dpg(self.questions(ctx), answers, mode=self.opts.mode, allow_incomplete=True)
        metrics = {"overall": primary}
        for category, value in dpg.l1.items():
            metrics[category] = Metric(value=value, n=len(dpg.prompts), scale=100.0)
        result = TaskResult(
            task=self.name,
            primary="overall",
            metrics=metrics,
            breakdowns={
                "l1": {c: Metric(value=v, n=len(dpg.prompts), scale=100.0) for c, v in dpg.l1.items()},
                "l2": {c: Metric(value=v, n=len(dpg.prompts), scale=100.0) for c, v in dpg.l2.items()},
            },
        )
        graders = sorted({str(s.details["judge"]) for s in scores if s.details.get("judge")})
        result.judge = ", ".join(graders) or None
        tiles = samples[0].request.num_images if samples and isinstance(samples[0].request, GenerateRequest) else 0
        result.info.update(
            {
                "label": "DPG-Bench" if self.opts.mode == "upstream" else "DPG-Bench (fixed scoring)",
                "mode": self.opts.mode,
                "images_per_prompt": tiles,
                "answered_overall": dpg.overall,
            }
        )
        if self.opts.resolution is not None:
            result.info["resolution"] = self.opts.resolution
        if len(graders) > 1:
            result.comparable = False
            result.notes.append(f"scores of {len(graders)} different graders are mixed: {', '.join(graders)}")
        if self.opts.questions_file is not None:
            result.comparable = False
            result.info["questions_file"] = self.opts.questions_file
            result.notes.append(f"questions from {self.opts.questions_file}, not DPG-Bench's pinned dpg_bench.csv")
        if self.opts.mode == "fixed":
            result.comparable = False
            result.notes.append(
                "fixed scoring (every question asked, zeroing through all ancestors, categories over every "
                "tile): not comparable with published DPG-Bench numbers"
            )
        if tiles != DEFAULT_IMAGES_PER_PROMPT:
            result.comparable = False
            result.notes.append(f"{tiles} images per prompt; the published protocol uses {DEFAULT_IMAGES_PER_PROMPT}")
        if dpg.dropped:
            result.info["dropped_by_upstream"] = dpg.dropped
            result.notes.append(
                f"{len(dpg.dropped)} prompt(s) left out of the overall as upstream's script leaves them out: "
                + "; ".join(f"{k}: {v}" for k, v in dpg.dropped.items())
            )
        unavailable = sum(s.status == JUDGE_UNAVAILABLE for s in scores)
        if unavailable:
            result.comparable = False
            result.notes.append(
                f"{unavailable} prompts were not graded (grader unavailable) and count 0 for now; "
                "`ming-eval score RUN` asks again"
            )
        result.notes.extend(_import_notes(ctx.work_dir))
        return result


def _grid_problem(path: Path, expected: tuple[int, int]) -> str | None:
    """Why the grid at ``path`` cannot be scored (not an image, wrong size), from its header; None if fine."""
    try:
        with Image.open(path) as img:
            size = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return f"{path} is not a readable image ({type(exc).__name__}: {exc})"
    if size != expected:
        return f"{path} is {size[0]}x{size[1]}; the grid must be {expected[0]}x{expected[1]}"
    return None


def _import_notes(work_dir: Path | None) -> list[str]:
    state = read_import_state(work_dir, hint="score the folder again into a new --out directory")
    if state is None or work_dir is None:
        return []
    missing, unusable = list(state.get("missing") or []), dict(state.get("unusable") or {})
    if not missing and not unusable:
        return []
    return [
        f"scored an incomplete folder ({state.get('source')}): {len(missing)} prompts without an image, "
        f"{len(unusable)} unusable (listed in {work_dir / IMPORT_STATE}); upstream drops them silently"
    ]
