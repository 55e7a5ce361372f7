"""A self-contained HTML page of a GenEval run: every prompt's images, pass or fail, and why.

The page sits in the task's folder (``<run>/geneval/report.html``) and links the images by relative
path, so the folder can be copied or served as it is.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ming_eval.core.results import SampleScore, TaskResult
from ming_eval.errors import RunStoreError
from ming_eval.store.jsonl import atomic_path, read_jsonl
from ming_eval.tasks.geneval.constants import TABLE_COLUMNS, TAGS

REPORT_NAME = "report.html"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table.summary{border-collapse:collapse;margin-bottom:1em}
table.summary td,table.summary th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
.prompt{border-top:1px solid #ddd;padding:.6em 0}
.prompt h3{font-size:1em;margin:.2em 0}
.tag{font-size:.8em;background:#eef;padding:.1em .4em;border-radius:.3em;margin-right:.4em}
.grid{display:flex;flex-wrap:wrap;gap:.6em}
figure{margin:0;width:196px}
figure img{width:192px;height:192px;object-fit:contain;border:4px solid #ccc;background:#f4f4f4}
figure.pass img{border-color:#2a2}
figure.fail img{border-color:#d33}
figcaption{font-size:.75em;white-space:pre-wrap}
.status{color:#b00;font-weight:bold}
.note{color:#a60}
"""

_SCRIPT = """
function applyFilter(){
  const tag=document.getElementById('tag').value, fails=document.getElementById('fails').checked;
  for(const el of document.querySelectorAll('.prompt')){
    const show=(!tag||el.dataset.tag===tag)&&(!fails||el.dataset.pass!=='all');
    el.style.display=show?'':'none';
  }
}
"""


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"


def _summary_table(result: TaskResult) -> str:
    keys = [*TAGS, "overall"]
    head = "".join(f"<th>{html.escape(TABLE_COLUMNS[k])}</th>" for k in keys)
    cells = "".join(f"<td>{_fmt(result.metrics[k].value if k in result.metrics else None)}</td>" for k in keys)
    extra = ""
    for key, label in (("image_accuracy", "images correct"), ("prompt_accuracy", "prompts with a correct image")):
        if key in result.metrics:
            extra += (
                f"<tr><th colspan=6 style='text-align:left'>{label}</th><td>{_fmt(result.metrics[key].value)}</td></tr>"
            )
    return f"<table class=summary><tr>{head}</tr><tr>{cells}</tr>{extra}</table>"


def _requirements(target: Mapping[str, Any]) -> str:
    parts = []
    for inc in target.get("include", []):
        text = f"{inc.get('count')} × {inc.get('color', '') + ' ' if inc.get('color') else ''}{inc.get('class')}"
        if inc.get("position"):
            text += f" ({inc['position'][0]} group {inc['position'][1]})"
        parts.append(text)
    for exc in target.get("exclude", []):
        parts.append(f"fewer than {exc.get('count')} × {exc.get('class')}")
    return "; ".join(parts)


def render_report(
    title: str,
    result: TaskResult,
    rows: Sequence[tuple[str, Mapping[str, Any], SampleScore]],
    image_src: Mapping[str, str],
) -> str:
    """The page for ``rows`` = (sample id, metadata target, score); ``image_src`` maps files to links."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _summary_table(result),
    ]
    for note in result.notes:
        out.append(f"<p class=note>{html.escape(note)}</p>")
    options = "".join(f"<option value='{t}'>{t}</option>" for t in TAGS)
    out.append(
        "<p><label>tag <select id=tag onchange=applyFilter()><option value=''>all</option>"
        f"{options}</select></label> <label><input type=checkbox id=fails onchange=applyFilter()> "
        "only prompts with a failed image</label></p>"
    )
    for sample_id, target, score in rows:
        tag = str(target.get("tag", ""))
        images = score.details.get("images") or []
        n_pass = sum(bool(i.get("correct")) for i in images)
        state = "all" if images and n_pass == len(images) and score.status == "ok" else "some"
        out.append(f"<div class=prompt data-tag='{html.escape(tag)}' data-pass='{state}'>")
        out.append(
            f"<h3><span class=tag>{html.escape(tag)}</span>{html.escape(sample_id)}: "
            f"{html.escape(str(target.get('prompt', '')))}</h3>"
            f"<div>{html.escape(_requirements(target))} — {n_pass}/{len(images)} correct</div>"
        )
        if score.status != "ok":
            out.append(f"<div class=status>{html.escape(score.status)}: {html.escape(score.reason)}</div>")
        out.append("<div class=grid>")
        for img in images:
            cls = "pass" if img.get("correct") else "fail"
            src = image_src.get(str(img.get("file")), str(img.get("file")))
            caption = "pass" if img.get("correct") else str(img.get("reason", ""))
            if img.get("colors"):
                caption += "\ncolours: " + "; ".join(", ".join(str(c) for c in v) for v in img["colors"].values())
            out.append(
                f"<figure class={cls}><a href='{html.escape(src)}'><img loading=lazy src='{html.escape(src)}' "
                f"alt='{html.escape(Path(str(img.get('file'))).name)}'></a>"
                f"<figcaption>{html.escape(Path(str(img.get('file'))).name)}: {html.escape(caption)}</figcaption>"
                "</figure>"
            )
        out.append("</div></div>")
    out.append("</body></html>")
    return "\n".join(out)


def image_links(task_dir: Path, files: Sequence[str]) -> dict[str, str]:
    """Links from ``task_dir`` to each image: run outputs live under ``images/``, imports anywhere."""
    links: dict[str, str] = {}
    for f in files:
        p = Path(f)
        target = p if p.is_absolute() else task_dir / "images" / p
        links[f] = Path(os.path.relpath(target, task_dir)).as_posix()
    return links


def write_report(
    task_dir: Path,
    title: str,
    result: TaskResult,
    rows: Sequence[tuple[str, Mapping[str, Any], SampleScore]],
) -> Path:
    files = [str(img.get("file")) for _, _, s in rows for img in (s.details.get("images") or [])]
    page = render_report(title, result, rows, image_links(task_dir, files))
    path = task_dir / REPORT_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def write_report_for_task_dir(task_dir: Path, title: str | None = None) -> Path:
    """Rebuild ``report.html`` from a finished task folder (``results.json``, ``scores.jsonl``,
    ``predictions.jsonl``) without scoring again, e.g. for runs scored with ``html_report: false``
    (a Python helper: no command calls it; ``ming-eval score RUN_DIR`` rewrites the page too)."""
    results_path = task_dir / "results.json"
    scores_path = task_dir / "scores.jsonl"
    preds_path = task_dir / "predictions.jsonl"
    for p in (results_path, scores_path, preds_path):
        if not p.is_file():
            raise RunStoreError(
                f"{task_dir} is not a scored GenEval task folder: {p.name} is missing",
                hint="run `ming-eval score RUN_DIR` first",
            )
    result = TaskResult.from_dict(json.loads(results_path.read_text()))
    targets = {str(r["id"]): r.get("target") or {} for r in read_jsonl(preds_path)}
    rows = []
    for rec in read_jsonl(scores_path):
        score = SampleScore.from_record(rec)
        rows.append((score.id, targets.get(score.id, {}), score))
    label = str(result.info.get("label", result.task))
    return write_report(task_dir, title or f"{label}: {result.task}", result, rows)
