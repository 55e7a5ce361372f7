"""The WISE tasks: 1,000 world-knowledge prompts, one image each, graded by a VLM judge.

Cards: ``tasks/wise.yaml`` (legacy, the published protocol), ``tasks/wise_rewritten.yaml`` (legacy with
upstream's rewritten prompts, labelled and never comparable with the original prompts) and
``tasks/wise_verified.yaml`` (WISE_Verified: other prompts, judge and arithmetic). The images are
stored as upstream's scripts read them: ``<prompt_id>.png`` in one folder, which ``ming-eval score
wise --images DIR`` also imports. The judge is any grader of the engine's service (an
OpenAI-compatible endpoint by default), so replies are cached by image digest, an outage leaves the
sample ``judge_unavailable`` for the next run, and the judge's identity is recorded with every score
and printed with the result. See :mod:`ming_eval.tasks.wise.protocol` for what is upstream's.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ming_eval.cards.schema import DataFile, GenerateProtocol, TaskCard, UnderstandProtocol
from ming_eval.core.results import (
    JUDGE_UNAVAILABLE,
    SCORING_FAILED,
    Metric,
    Prediction,
    SampleScore,
    Status,
    TaskResult,
)
from ming_eval.core.sample import Capability, GenerateRequest, ImagePart, ImageRef, Sample, TextPart, UnderstandRequest
from ming_eval.core.statistic import Statistic, WeightedMeanOfMeans
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.data.files import file_digest
from ming_eval.errors import CardError, DataError, MingEvalError
from ming_eval.graders.base import DecodeSettings, EndpointSpec, Grader, parse_spec
from ming_eval.stats.bootstrap import mean_metric
from ming_eval.store.run_store import TaskStore
from ming_eval.tasks.vlm.judge_prompts import open_source
from ming_eval.tasks.wise.protocol import (
    JUDGE_OUT_OF_SCALE,
    JUDGE_UNPARSED,
    MAX_ATTEMPTS,
    VERSIONS,
    JudgePrompt,
    Version,
    read_judge_prompt,
)

log = logging.getLogger(__name__)

#: upstream's three prompt files, in the order its README runs them; suffix per prompt set
PROMPT_FILES = ("cultural_common_sense", "spatio-temporal_reasoning", "natural_science")
_SUFFIX = {
    ("legacy", "original"): "",
    ("legacy", "rewritten"): "_rewrite",
    ("legacy", "custom"): "",
    ("verified", "original"): "_verified",
    ("verified", "custom"): "_verified",
}
#: judge-spec fields that change speed, not replies: left out of the scoring fingerprint
_JUDGE_SPEED_FIELDS = ("max_concurrency", "timeout_s", "max_retries")
_IMAGE_NAME = re.compile(r"^(\d+)\.png$")


class WiseOptions(BaseModel):
    """Options of the WISE task cards (``-o wise.KEY=VALUE``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal["legacy", "verified"]
    #: original: the card's pinned prompts; rewritten: upstream's rewritten prompts (legacy only);
    #: custom: the version's three prompt files, in upstream's format, from ``prompts_dir`` (results
    #: not comparable)
    prompt_set: Literal["original", "rewritten", "custom"] = "original"
    prompts_dir: str | None = None
    #: the judge: a grader spec (``{model, base_url, api_key_env, max_concurrency}`` for an
    #: OpenAI-compatible endpoint, ``endpoint:<model>``, or a zoo card name); null: no judge, every
    #: image is left ``judge_unavailable`` (an offline check of the generation side)
    judge: str | dict[str, Any] | None

    @field_validator("prompts_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else str(Path(value).expanduser().resolve())

    @model_validator(mode="after")
    def _dir_fits_set(self) -> WiseOptions:
        if (self.prompt_set == "custom") != (self.prompts_dir is not None):
            raise ValueError("prompts_dir goes with prompt_set 'custom' (and only with it)")
        return self

    #: prompts per scorer call: their judge requests run concurrently
    prompts_per_batch: int = 256


class WiseTask(BaseTask):
    capability = Capability.GENERATE
    Options = WiseOptions
    scoring_version = "1"
    unscored_options = ("prompts_per_batch",)

    def __init__(self, card: TaskCard, options: BaseModel) -> None:
        super().__init__(card, options)
        assert isinstance(options, WiseOptions)
        self.opts: WiseOptions = options
        key = (options.version, options.prompt_set)
        if key not in _SUFFIX:
            raise CardError(
                f"task {card.name}: WISE_Verified has no rewritten prompt set",
                hint="use prompt_set: original with version verified",
            )
        for field in ("version", "prompt_set"):
            own = card.options.get(field)
            if own is not None and own != getattr(options, field) and getattr(options, field) != "custom":
                raise CardError(
                    f"task {card.name} is WISE {field} {own!r}; results for {getattr(options, field)!r} are another "
                    "benchmark and must not share its column",
                    hint="run the task wise, wise_rewritten or wise_verified instead",
                )
        if options.judge is not None:
            parse_spec(options.judge, f"task {card.name} option judge")  # a bad spec is a card error now
        self.version: Version = VERSIONS[options.version]

    def check_protocol(self, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        n = getattr(protocol, "images_per_prompt", None)
        if n not in (None, 1):
            return [
                f"WISE judges one image per prompt (named <prompt_id>.png); the model card asks for "
                f"images_per_prompt {n}: set it per task in the card "
                f"(tasks: {{{self.name}: {{generate: {{images_per_prompt: 1}}}}}})"
            ]
        return super().check_protocol(protocol)

    # -- prompts -----------------------------------------------------------------------------
    def prompt_files(self) -> list[str]:
        suffix = _SUFFIX[(self.opts.version, self.opts.prompt_set)]
        return [f"{name}{suffix}.json" for name in PROMPT_FILES]

    def data_files(self) -> list[DataFile]:
        if self.opts.prompt_set != "custom":
            return list(self.card.data)
        return [f for f in self.card.data if f.name == self.version.source and self.opts.judge is not None]

    def prompt_path(self, ctx: TaskContext, name: str) -> Path:
        if self.opts.prompts_dir is None:
            return ctx.data.path(name)
        path = Path(self.opts.prompts_dir) / name
        if not path.is_file():
            raise DataError(
                f"prompts_dir {self.opts.prompts_dir} has no {name}",
                hint=f"a custom WISE {self.version.name} prompt set is the files {', '.join(self.prompt_files())}",
            )
        return path

    def samples(self, ctx: TaskContext) -> list[Sample]:
        rows: dict[int, Sample] = {}
        for name in self.prompt_files():
            path = self.prompt_path(ctx, name)
            for row in _read_rows(path):
                pid = row["prompt_id"]
                where = f"{path}: prompt_id {pid}"
                category = self.version.category(pid)
                if category is None:
                    first, last = self.version.ranges[0][1], self.version.ranges[-1][2]
                    raise DataError(
                        f"{where} is not a prompt id of WISE {self.version.name} ({first}-{last})",
                        hint="use the card's pinned prompt files",
                    )
                if pid in rows:
                    raise DataError(f"{where} appears twice", hint="use the card's pinned prompt files")
                rows[pid] = Sample(
                    str(pid),
                    GenerateRequest(row["Prompt"], num_images=1),
                    target={"Prompt": row["Prompt"], "Explanation": row["Explanation"]},
                    meta={"category": category, "subcategory": str(row.get("Subcategory", ""))},
                )
        return [rows[k] for k in sorted(rows)]

    def sample_breakdown(self, sample: Sample) -> dict[str, str]:
        return {"category": str(sample.meta["category"])}

    # -- images in upstream's layout ---------------------------------------------------------
    def image_relpath(self, sample: Sample, index: int) -> str:
        if index != 0:
            raise MingEvalError(f"task {self.name} takes one image per prompt; got image {index} of {sample.id}")
        return f"{sample.id}.png"

    def import_outputs(
        self, source: Path, samples: Sequence[Sample], store: TaskStore, *, allow_incomplete: bool = False
    ) -> int:
        """Record a folder of ``<prompt_id>.png`` (upstream's layout, any tool's images) as outputs."""
        if not source.is_dir():
            raise DataError(f"{source} is not a folder", hint="pass the folder that holds 1.png ... 1000.png")
        by_id = {s.id: s for s in samples}
        found: dict[str, Path] = {}
        unknown: list[str] = []
        for path in sorted(source.iterdir()):
            match = _IMAGE_NAME.match(path.name)
            if match is None or not path.is_file():
                continue  # upstream reads only <prompt_id>.png; other files are not its outputs
            pid = str(int(match.group(1)))
            if self.version.category(int(pid)) is None:
                unknown.append(path.name)
            elif pid in by_id:
                found[pid] = path
        if unknown:
            raise DataError(
                f"{source} holds {len(unknown)} images named by no WISE {self.version.name} prompt id "
                f"(e.g. {', '.join(unknown[:5])})",
                hint="images must be named <prompt_id>.png with ids from the prompt files; move the others out",
            )
        missing = [s.id for s in samples if s.id not in found]
        if missing and not allow_incomplete:
            raise DataError(
                f"{source} lacks the images of {len(missing)} of {len(samples)} prompts "
                f"(e.g. {', '.join(m + '.png' for m in missing[:5])})",
                hint="generate them, or pass --allow-incomplete to score the others (the result is then "
                "marked incomplete)",
            )
        writer = store.record_writer(0)
        try:
            for pid, path in found.items():
                writer.write(Prediction(pid, Status.OK, output=[str(path.resolve())]).to_record())
        finally:
            writer.close()
        return len(found)

    # -- scoring -----------------------------------------------------------------------------
    def judge_spec(self) -> Any:
        """The judge's grader spec; an endpoint sends the system prompt as upstream's scripts build it
        (a one-item list of one text part)."""
        if self.opts.judge is None:
            return None
        spec = parse_spec(self.opts.judge, f"task {self.name} option judge")
        if isinstance(spec, EndpointSpec):
            spec = spec.model_copy(update={"system_content": "parts"})
        return spec

    def grader_specs(self) -> list[Any]:
        return [] if self.opts.judge is None else [self.opts.judge]

    def scoring_fingerprint(self) -> dict[str, Any]:
        fp = super().scoring_fingerprint()
        options = dict(fp["options"])
        spec = self.judge_spec()
        if spec is not None:
            judge = spec.model_dump(mode="json")
            for key in _JUDGE_SPEED_FIELDS:
                judge.pop(key, None)
            options["judge"] = judge
        if self.opts.prompts_dir is not None:
            options["prompts_sha256"] = {
                n: file_digest(Path(self.opts.prompts_dir) / n, "sha256")
                for n in self.prompt_files()
                if (Path(self.opts.prompts_dir) / n).is_file()
            }
        fp["options"] = options
        return fp

    def headline(self) -> Statistic:
        return WeightedMeanOfMeans(by="category", weights=dict(self.version.weights))

    def scorer(self, ctx: TaskContext) -> Scorer:
        if self.opts.judge is None:
            return NoJudgeScorer()
        prompt = read_judge_prompt(open_source(ctx.data, self.version.source))
        grader = ctx.graders.get(self.judge_spec(), where=f"task {self.name} option judge")
        return WiseScorer(self.version, prompt, grader, self.opts.prompts_per_batch)

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        version = self.version
        metrics: dict[str, Metric] = {"wiscore": self.headline_metric(samples, scores)}
        categories = np.array([str(s.meta["category"]) for s in samples], dtype=object)
        values = np.array([s.score for s in scores], dtype=np.float64)
        for name, _first, _last in version.ranges:
            mask = categories == name
            metrics[name.lower()] = mean_metric(values[mask]) if mask.any() else _nan_metric()
        ok = [s for s in scores if s.status == "ok"]
        for key in version.keys if version.name == "legacy" and ok else ():  # mean 0-2 grades of judged images
            metrics[key] = mean_metric([float(s.details["grades"][key]) for s in ok])
        judges = sorted({str(s.details["judge"]) for s in scores if "judge" in s.details})
        spec = self.judge_spec()
        judge = ", ".join(judges) or ("no judge" if spec is None else str(spec.model_dump().get("model", spec)))
        label = (
            version.label
            + {"original": "", "rewritten": " (rewritten prompts)", "custom": " (custom prompts)"}[self.opts.prompt_set]
        )
        notes = [f"{label}: judged by {judge}"]
        by_status: dict[str, int] = {}
        for s in scores:
            by_status[s.status] = by_status.get(s.status, 0) + 1
        unscored = {k: v for k, v in by_status.items() if k != "ok"}
        if unscored:
            listed = ", ".join(f"{v} {k}" for k, v in sorted(unscored.items()))
            notes.append(
                f"{listed}: WiScore 0 here; upstream gives no overall for an incomplete set, so the result "
                "is not comparable (replies are in scores.jsonl)"
            )
        if self.opts.prompt_set != "original":
            notes.append(f"{self.opts.prompt_set} prompts: not comparable with WISE on the original prompts")
        protocol_judge = spec is not None and getattr(spec, "model", None) == version.judge_model
        if spec is not None and not protocol_judge:
            notes.append(f"judged by {judge}, not the protocol's {version.judge_model}: not comparable")
        return TaskResult(
            task=self.name,
            primary="wiscore",
            metrics=metrics,
            breakdowns={"category": {name.lower(): metrics[name.lower()] for name, _f, _l in version.ranges}},
            counts={"n": len(samples), **by_status},
            notes=notes,
            info={
                "label": label,
                "version": version.name,
                "prompt_set": self.opts.prompt_set,
                "judge": judge,
                "weights": dict(version.weights),
            },
            comparable=not unscored and self.opts.prompt_set == "original" and protocol_judge,
        )


def _nan_metric() -> Metric:
    return Metric(value=float("nan"), n=0)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """Upstream's prompt file: a JSON list of rows with an integer prompt_id, Prompt and Explanation."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read WISE prompts {path}: {exc}", hint="use the card's pinned prompt files") from exc
    if not isinstance(data, list):
        raise DataError(f"{path} is not a JSON list of prompts", hint="use the card's pinned prompt files")
    for i, row in enumerate(data):
        ok = (
            isinstance(row, dict)
            and isinstance(row.get("prompt_id"), int)
            and isinstance(row.get("Prompt"), str)
            and isinstance(row.get("Explanation"), str)
        )
        if not ok:
            raise DataError(
                f"{path}: entry {i} lacks an integer prompt_id, a Prompt or an Explanation",
                hint="use the card's pinned prompt files",
            )
    return data


class WiseScorer(Scorer):
    """Asks the judge about each image, up to :data:`MAX_ATTEMPTS` times until the reply is readable.

    All requests of a batch go to the grader in one call (an endpoint runs them concurrently), attempt
    by attempt; an attempt is part of the reply cache key, so a re-scored run asks nothing again."""

    def __init__(self, version: Version, prompt: JudgePrompt, grader: Grader, batch_size: int) -> None:
        self.version = version
        self.prompt = prompt
        self.grader = grader
        self.batch_size = batch_size
        self.settings = DecodeSettings(max_tokens=version.max_tokens, temperature=0.0, extra=version.extra_body)

    def _request(self, sample: Sample, pred: Prediction) -> UnderstandRequest:
        paths = pred.image_paths()
        if len(paths) != 1:
            raise DataError(f"sample {sample.id}: expected one image, found {len(paths)}")
        image = ImageRef.from_path(paths[0]).load()  # decoded once, here, so a bad file fails only its sample
        text = self.prompt.render(str(sample.target["Prompt"]), str(sample.target["Explanation"]))
        ref = ImageRef(str(paths[0]), lambda: image)
        return UnderstandRequest((TextPart(text), ImagePart(ref)), system=self.prompt.system)

    def _try_request(self, sample: Sample, pred: Prediction) -> UnderstandRequest | str:
        """The judge request, or why there is none (a missing or undecodable image)."""
        try:
            return self._request(sample, pred)
        except MingEvalError as exc:
            return exc.message

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        out: list[SampleScore | None] = [None] * len(batch)
        requests: dict[int, UnderstandRequest] = {}
        # images decode on threads (PIL releases the GIL), so a large batch is not read one file at a time
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(batch)))) as pool:
            built = list(pool.map(lambda item: self._try_request(*item), batch))
        for i, ((sample, _pred), made) in enumerate(zip(batch, built, strict=True)):
            if isinstance(made, UnderstandRequest):
                requests[i] = made
            else:
                out[i] = SampleScore(sample.id, 0.0, status=SCORING_FAILED, reason=made)
        replies: dict[int, list[str]] = {i: [] for i in requests}
        pending = sorted(requests)
        for attempt in range(MAX_ATTEMPTS):
            if not pending:
                break
            answers = self.grader.grade([requests[i] for i in pending], self.settings, attempt=attempt)
            still: list[int] = []
            for i, reply in zip(pending, answers, strict=True):
                sample = batch[i][0]
                if not reply.ok or reply.text is None:
                    out[i] = self._verdict(sample, JUDGE_UNAVAILABLE, replies[i], reason=f"judge: {reply.error}")
                    continue
                replies[i].append(reply.text)
                grades = self.version.read(reply.text)
                if not set(self.version.keys) <= set(grades):
                    still.append(i)
                elif any(not 0 <= grades[k] <= self.version.scale_max for k in self.version.keys):
                    shown = ", ".join(f"{k} {grades[k]:g}" for k in self.version.keys)
                    reason = f"grade outside 0-{self.version.scale_max:g} ({shown})"
                    out[i] = self._verdict(sample, JUDGE_OUT_OF_SCALE, replies[i], reason=reason, grades=grades)
                else:
                    out[i] = self._verdict(sample, "ok", replies[i], grades=grades)
            pending = still
        for i in pending:
            reason = f"no readable {' / '.join(self.version.keys)} in {MAX_ATTEMPTS} replies"
            out[i] = self._verdict(batch[i][0], JUDGE_UNPARSED, replies[i], reason=reason)
        return [s for s in out if s is not None]

    def _verdict(
        self,
        sample: Sample,
        status: str,
        replies: list[str],
        *,
        reason: str = "",
        grades: dict[str, float] | None = None,
    ) -> SampleScore:
        details: dict[str, Any] = {"judge": self.grader.identity, "replies": list(replies)}
        score = 0.0
        if grades is not None:
            details["grades"] = {k: grades[k] for k in self.version.keys if k in grades}
            if status == "ok":
                score = self.version.wiscore(grades)
        if not math.isfinite(score):
            score = 0.0
        return SampleScore(sample.id, score, correct=None, reason=reason, status=status, details=details)


class NoJudgeScorer(Scorer):
    """Option ``judge: null``: nothing is judged; every image is ``judge_unavailable``."""

    def score(self, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
        reason = "no judge (option judge is null); set the task option judge to score"
        return [SampleScore(s.id, 0.0, status=JUDGE_UNAVAILABLE, reason=reason) for s, _ in batch]
