"""Check our rules against a results file of GenEval's own ``evaluate_images.py``.

Each row of upstream's ``results.jsonl`` records the detections its rules kept (``details``, most
confident first) beside its decision. For every tag that needs no colour (single_object, two_object,
counting, position) the decision follows from those detections alone, so we re-derive it with our
rules and count how often we agree. Rows that need CLIP colours are counted as skipped.

``ming-eval score geneval --upstream-results results.jsonl`` prints the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ming_eval.errors import DataError
from ming_eval.store.jsonl import read_json_lines
from ming_eval.tasks.geneval.constants import TAGS
from ming_eval.tasks.geneval.layout import GENEVAL_READS
from ming_eval.tasks.geneval.metadata import parse_line
from ming_eval.tasks.geneval.rules import ObjectMap, RuleOptions, evaluate, keep_ranked, objects_from_details
from ming_eval.tasks.geneval.summary import ImageRow, Summary, summarize

_POSITION_REASON = re.compile(r"^(expected .+ target, found )(.*)( target)$")
REQUIRED_COLUMNS = ("filename", "tag", "correct", "reason", "metadata", "details")


def normalise_reason(reason: str) -> str:
    """``reason`` with the relations of position failures sorted (upstream's order is a set's)."""
    lines = []
    for line in reason.split("\n"):
        m = _POSITION_REASON.match(line)
        if m:
            rels = sorted(r for r in m.group(2).split(" and ") if r)
            line = f"{m.group(1)}{' and '.join(rels)}{m.group(3)}"
        lines.append(line)
    return "\n".join(lines)


def refilter(objects: ObjectMap, tag: str, rules: RuleOptions) -> ObjectMap:
    """Apply the thresholds, the per-class cap and IoU suppression again, keeping upstream's order.

    Re-sorting would be wrong here: among equal scores upstream's order is what it recorded.
    """
    out: ObjectMap = {}
    for cls, objs in objects.items():
        if not objs:
            continue
        kept = [objs[i] for i in keep_ranked(np.stack([o.row for o in objs]), tag, rules)]
        if kept:
            out[cls] = kept
    return out


@dataclass
class Disagreement:
    line: int
    filename: str
    tag: str
    upstream_correct: bool
    ours_correct: bool
    upstream_reason: str
    ours_reason: str


@dataclass
class UpstreamCheck:
    """How our rules compare with an upstream results file, overall and per tag."""

    path: Path
    rows: int = 0
    checked: int = 0
    agree: int = 0
    reasons_differ: int = 0
    skipped_color: int = 0
    per_tag: dict[str, list[int]] = field(default_factory=dict)  # tag -> [rows, checked, agree]
    disagreements: list[Disagreement] = field(default_factory=list)
    #: metadata keys GenEval's evaluator does not read (and neither do we), e.g. a CoT pipeline's ``cot``
    ignored_keys: set[str] = field(default_factory=set)
    upstream: Summary | None = None
    rederived: Summary | None = None

    @property
    def ok(self) -> bool:
        return self.checked == self.agree


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    hint = "pass the results.jsonl written by GenEval's evaluate_images.py"
    rows = []
    for number, row in read_json_lines(path, hint=hint):
        missing = [c for c in REQUIRED_COLUMNS if not isinstance(row, dict) or c not in row]
        if missing:
            raise DataError(f"{path} line {number} lacks {', '.join(missing)}", hint=hint)
        rows.append((number, row))
    if not rows:
        raise DataError(f"{path} has no rows")
    return rows


def _json_field(value: Any, path: Path, number: int, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: '{name}' is not valid JSON ({exc.msg})") from exc
    return value


_READ_GROUP_KEYS = frozenset({"class", "count", "color", "position"})


def evaluated_metadata(raw: Any, ignored: set[str]) -> Any:
    """``raw`` without the keys GenEval's evaluator never reads (a rewritten-prompt or CoT pipeline
    adds ``cot``, ``final_prompt``, ...): upstream ignores them, so they are dropped here too, and
    their names are added to ``ignored`` so that the report can say so."""
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k in GENEVAL_READS}
    ignored.update(k for k in raw if k not in GENEVAL_READS)
    for key in ("include", "exclude"):
        groups = out.get(key)
        if isinstance(groups, list):
            ignored.update(
                f"{key}[].{k}" for g in groups if isinstance(g, dict) for k in g if k not in _READ_GROUP_KEYS
            )
            out[key] = [
                {k: v for k, v in g.items() if k in _READ_GROUP_KEYS} if isinstance(g, dict) else g for g in groups
            ]
    return out


def check_upstream_results(path: Path, rules: RuleOptions | None = None) -> UpstreamCheck:
    """Re-derive every colour-free decision of GenEval's ``results.jsonl`` from its detections."""
    rules = rules or RuleOptions()
    check = UpstreamCheck(path)
    theirs: list[ImageRow] = []
    ours: list[ImageRow] = []
    for number, row in _read_rows(path):
        check.rows += 1
        raw_meta = _json_field(row["metadata"], path, number, "metadata")
        meta = parse_line(evaluated_metadata(raw_meta, check.ignored_keys), 0, f"{path} line {number} metadata")
        tag = meta.tag
        stats = check.per_tag.setdefault(tag, [0, 0, 0])
        stats[0] += 1
        prompt_key = row["metadata"] if isinstance(row["metadata"], str) else json.dumps(raw_meta)
        upstream_correct = bool(row["correct"])
        theirs.append(ImageRow(prompt_key, tag, upstream_correct))
        if meta.needs_color:
            check.skipped_color += 1
            ours.append(ImageRow(prompt_key, tag, upstream_correct))
            continue
        try:
            objects = objects_from_details(_json_field(row["details"], path, number, "details"))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path} line {number}: malformed 'details' ({exc})") from exc
        correct, reason = evaluate(meta, refilter(objects, tag, rules), {}, rules)
        ours.append(ImageRow(prompt_key, tag, correct))
        check.checked += 1
        stats[1] += 1
        upstream_reason = str(row.get("reason") or "")
        if correct == upstream_correct:
            check.agree += 1
            stats[2] += 1
            if normalise_reason(reason) != normalise_reason(upstream_reason):
                check.reasons_differ += 1
        else:
            check.disagreements.append(
                Disagreement(number, str(row["filename"]), tag, upstream_correct, correct, upstream_reason, reason)
            )
    check.upstream = summarize(theirs)
    check.rederived = summarize(ours)
    return check


def print_check(console: Console, check: UpstreamCheck, *, show: int = 10) -> None:
    """Tables for people: agreement per tag, both summaries, the first disagreements."""
    table = Table(title=f"our rules vs GenEval's decisions in {check.path}", title_style="bold")
    for col in ("tag", "images", "re-derived", "agree", "skipped (needs colour)"):
        table.add_column(col, justify="right" if col != "tag" else "left")
    for tag in [*TAGS, *sorted(t for t in check.per_tag if t not in TAGS)]:
        if tag not in check.per_tag:
            continue
        rows, checked, agree = check.per_tag[tag]
        table.add_row(tag, str(rows), str(checked), f"{agree}/{checked}" if checked else "-", str(rows - checked))
    table.add_row(
        "[bold]all[/]",
        str(check.rows),
        str(check.checked),
        f"[bold]{check.agree}/{check.checked}[/]",
        str(check.skipped_color),
    )
    console.print(table)
    if check.upstream is not None and check.rederived is not None:
        summary = Table(title="summary (as summary_scores.py, keyed by tag)", title_style="bold")
        summary.add_column("")
        for tag in check.upstream.tags:
            summary.add_column(tag, justify="right")
        summary.add_column("overall", justify="right")
        summary.add_column("images", justify="right")
        summary.add_column("prompts", justify="right")
        for name, s in (("GenEval's decisions", check.upstream), ("re-derived (colour tags kept)", check.rederived)):
            summary.add_row(
                name,
                *[f"{s.tags.get(t, float('nan')):.4f}" for t in check.upstream.tags],
                f"{s.overall:.5f}",
                f"{s.image_accuracy:.4f}",
                f"{s.prompt_accuracy:.4f}",
            )
        console.print(summary)
        up = check.upstream
        console.print(
            f"GenEval's decisions: {up.n_images} images of {up.n_prompts} prompts; correct images "
            f"{up.image_accuracy:.2%}, prompts with a correct image {up.prompt_accuracy:.2%}, overall "
            f"(mean of the tags) {up.overall:.5f}"
        )
        n = check.upstream.n_images
        if n % 553 or n // 553 < 1 or check.upstream.n_prompts != 553:
            console.print(
                f"[yellow]note[/] the file has {n} images of {check.upstream.n_prompts} prompts; a "
                "complete GenEval run has 553 prompts x N images"
            )
    if check.ignored_keys:
        console.print(
            f"[yellow]note[/] metadata keys GenEval's evaluator does not read were ignored: "
            f"{', '.join(sorted(check.ignored_keys))}"
        )
    if check.reasons_differ:
        console.print(f"[yellow]note[/] {check.reasons_differ} agreeing rows word their reason differently")
    for d in check.disagreements[:show]:
        console.print(
            f"[red]disagree[/] line {d.line} {d.filename} ({d.tag}): GenEval {d.upstream_correct} "
            f"({d.upstream_reason or 'no reason'}), ours {d.ours_correct} ({d.ours_reason or 'no reason'})"
        )
    if len(check.disagreements) > show:
        console.print(f"... and {len(check.disagreements) - show} more disagreements")
    if check.disagreements:
        console.print(
            "[yellow]hint[/] disagreements on counting only often mean the file was made with GenEval's "
            "first release (counting threshold 0.3): try -o geneval.counting_threshold=0.3"
        )


def run_upstream_check(task_name: str, path: Path, overrides: dict[str, Any] | None, console: Console) -> bool:
    """``ming-eval score TASK --upstream-results FILE``: check, print, and say whether all agree."""
    from ming_eval.errors import MingEvalError
    from ming_eval.runner.plan import resolve_task
    from ming_eval.tasks.geneval.task import GenEvalTask

    task = resolve_task(task_name, overrides)
    if not isinstance(task, GenEvalTask):
        raise MingEvalError(
            f"--upstream-results is for GenEval tasks; {task_name} is not one",
            hint="ming-eval score geneval --upstream-results results.jsonl",
        )
    check = check_upstream_results(path, task.opts.rules())
    print_check(console, check)
    return check.ok


def image_folder_of(path: Path) -> Path:
    """The image folder a results file was made from: its ``filename`` entries are
    ``<folder>/<5-digit index>/samples/<n>.png``, relative to where GenEval ran (tried from here, then
    beside the results file)."""
    rows = _read_rows(path)
    number, row = rows[0]
    name = Path(str(row["filename"]))
    if len(name.parts) < 4 or name.parent.name != "samples":
        raise DataError(
            f"{path} line {number}: filename {name} is not <folder>/<index>/samples/<n>.png",
            hint="score the image folder with --images DIR",
        )
    folder = name.parents[2]
    for candidate in [folder] if folder.is_absolute() else [Path.cwd() / folder, path.parent / folder]:
        if candidate.is_dir():
            return candidate
    raise DataError(
        f"the images of {path} are not at {folder} (from its filename column)",
        hint="pass the folder they are in with --images DIR instead of --upstream-results",
    )
