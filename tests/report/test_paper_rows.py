"""Every row of the Ming-Lite-Uni report's Tables 2 and 3 is a baseline, cited as the report."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ming_eval.report.baselines import load_baselines_file
from tests.conftest import REPO_ROOT

BASELINES = REPO_ROOT / "reports" / "baselines" / "ming_lite_uni.yaml"
#: the report as text (not shipped: a paper), in the shared/ folder beside or above the checkout (the
#: main checkout and the worktrees under work/wt/ alike); MING_EVAL_PAPER_TEXT points elsewhere
_PAPER_IN_SHARED = "shared/docs/reference/paper/ming-lite-uni-2505.02471.txt"
PAPER = Path(
    os.environ.get("MING_EVAL_PAPER_TEXT")
    or next(
        (p for p in (d / _PAPER_IN_SHARED for d in (REPO_ROOT, *REPO_ROOT.parents)) if p.is_file()),
        REPO_ROOT / _PAPER_IN_SHARED,
    )
)
COLUMNS = {
    "understanding": ["avg", "mmb", "mms", "mmmu", "mathv", "hall", "ai2d", "mmvet"],
    "geneval": ["single_object", "two_object", "counting", "colors", "position", "color_attr", "overall"],
}


def _paper_rows(lines: list[str], caption: str, columns: list[str]) -> dict[str, dict[str, float]]:
    start = next(i for i, line in enumerate(lines) if line.startswith(caption))
    rows: dict[str, dict[str, float]] = {}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        _, name, *values = line.split("\t")
        numbers = {c: float(v) for c, v in zip(columns, values, strict=True) if v != "-"}
        rows[name] = numbers
    return rows


def _same_model(paper_name: str, ours: str) -> bool:
    """ "GPT-4o-20241120 [‡] OpenAI (2024)" is our "GPT-4o-20241120 (closed)"; "Ours (Ming-Lite-Uni)" ours published."""
    if paper_name.startswith("Ours"):
        return ours == "Ming-Lite-Uni (published)"
    base = ours.removesuffix(" (closed)").replace("PixArt-α", "PixArt- α")
    return re.match(re.escape(base) + r"( \[‡\])?( [A-Z]\w+.*\(\d{4}[a-z]?\))?$", paper_name) is not None


@pytest.mark.skipif(not PAPER.is_file(), reason="the report's text is not here (set MING_EVAL_PAPER_TEXT)")
@pytest.mark.parametrize(("table", "label"), [("understanding", "Table 2"), ("geneval", "Table 3")])
def test_every_row_of_the_report_is_a_cited_baseline(table: str, label: str) -> None:
    rows = _paper_rows(PAPER.read_text(encoding="utf-8").splitlines(), label + " ", COLUMNS[table])
    _, baselines = load_baselines_file(BASELINES)
    ours = [b for b in baselines if b.table == table]
    assert len(ours) == len(rows)
    for paper_name, values in rows.items():
        (match,) = [b for b in ours if _same_model(paper_name, b.model)]
        assert match.values == pytest.approx(values), paper_name
        for column in values:
            cited = match.citations[column]
            assert any(c.verified and c.source.kind == "paper" and c.source.table == label for c in cited), paper_name
            assert any(c.source.url == "https://arxiv.org/abs/2505.02471" for c in cited)  # a link in HTML


def test_the_geneval_chart_has_the_report_s_metaqueries_row() -> None:
    _, baselines = load_baselines_file(BASELINES)
    (row,) = [b for b in baselines if b.table == "geneval" and b.model == "MetaQueries"]
    assert row.values == {"overall": 0.61}
