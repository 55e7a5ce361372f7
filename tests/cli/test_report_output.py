"""What `ming-eval report` shows a reader: no finished task left out, our rows never taken for a
published one, sources as links, and a JSON document for scripts."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from ming_eval.cli.app import main
from tests.report.helpers import TaskData, geneval_data, model_block, understanding_scores, write_run

FORMATS = ("table", "md", "html", "latex", "csv")


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command, as a script would see them."""
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture()
def half_summary_run(tmp_path):
    """OCRBench and one language of MMBench v1.1: both feed a summary of the understanding layout,
    which shows nothing for them alone."""
    return write_run(
        tmp_path / "half",
        {
            "ocrbench": TaskData(understanding_scores(40, 0.75, 1)),
            "mmbench_test_en_v11": TaskData(understanding_scores(40, 0.5, 2)),
        },
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_tasks_no_table_shows_get_a_generic_table_with_their_scale(half_summary_run, fmt, capsys):
    code, out, err = cli(["report", str(half_summary_run), "-f", fmt, "-b", "paper"], capsys)
    assert code == 0, err
    ocr = sum(understanding_scores(40, 0.75, 1)) / 40 * 100
    mmb = sum(understanding_scores(40, 0.5, 2)) / 40 * 100
    if fmt == "csv":
        shown = {r["column"]: (float(r["value"]), r["scale"]) for r in csv.DictReader(io.StringIO(out))}
        assert shown == {"ocrbench": (ocr, "100"), "mmbench_test_en_v11": (mmb, "100")}
        return
    assert f"{ocr:.1f}" in out and f"{mmb:.1f}" in out
    assert "ocrbench" in out and "mmbench_test_en_v11" in out.replace(r"\_", "_")
    assert "0-100" in out  # the scale the values are on


@pytest.fixture()
def namesake_run(tmp_path):
    """A user's run whose model is called like a published row (Janus-Pro-7B, Table 4 of its report)."""
    block = model_block(name="janus-pro-7b")
    block["card"]["paper_name"] = "Janus-Pro-7B"
    return write_run(tmp_path / "runs" / "jp", {"geneval": geneval_data(3)}, model=block)


def _label_cells(fmt: str, out: str) -> list[str]:
    """Every row label a reader sees in the format's table body that names Janus-Pro-7B."""
    if fmt == "csv":
        return sorted({r["row"] for r in csv.DictReader(io.StringIO(out)) if "Janus-Pro-7B" in r["row"]})
    if fmt == "html":
        return sorted(set(re.findall(r"<td>(Janus-Pro-7B[^<]*)</td>", out)))
    if fmt == "latex":
        return sorted({m.strip() for m in re.findall(r"^(?:\\textbf\{)?(Janus-Pro-7B[^&}]*)", out, re.M)})
    if fmt == "md":
        return sorted({m.strip() for m in re.findall(r"\| \**(Janus-Pro-7B[^|*]*)\**\s*\|", out)})
    return sorted({m.strip() for m in re.findall(r"│ (Janus-Pro-7B[^│]*)│", out)})


@pytest.mark.parametrize("fmt", FORMATS)
def test_our_row_never_takes_a_published_rows_name(namesake_run, fmt, capsys):
    code, out, err = cli(["report", str(namesake_run), "-f", fmt, "-b", "janus-pro", "-t", "geneval"], capsys)
    assert code == 0, err
    labels = _label_cells(fmt, out)
    # the published row and ours, apart; ours says which run it is
    assert len(labels) == 2, labels
    published, ours = sorted(labels, key=len)
    assert published == "Janus-Pro-7B"
    assert "this run" in ours and str(namesake_run).replace("_", r"\_" if fmt == "latex" else "_") in ours
    if fmt != "csv":  # the published numbers are still there, unchanged (0.80 overall, 0.79 position)
        assert "0.80" in out and "0.79" in out


def test_a_ming_lite_uni_run_is_told_from_the_papers_own_row(tmp_path, capsys):
    # the paper's row is "Ming-Lite-Uni (published)"; a run of the model is labelled "Ming-Lite-Uni"
    run = write_run(tmp_path / "ming", {"geneval": geneval_data(3)})
    code, out, err = cli(["report", str(run), "-f", "csv", "-b", "paper", "-t", "geneval"], capsys)
    assert code == 0, err
    labels = {(r["kind"], r["row"]) for r in csv.DictReader(io.StringIO(out)) if "Ming-Lite-Uni" in r["row"]}
    assert labels == {("baseline", "Ming-Lite-Uni (published)"), ("ours", f"Ming-Lite-Uni (this run: {run})")}


def test_our_namesake_row_in_csv_is_ours_and_the_published_one_is_kept(namesake_run, capsys):
    code, out, err = cli(["report", str(namesake_run), "-f", "csv", "-b", "janus-pro", "-t", "geneval"], capsys)
    assert code == 0, err
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["column"] == "overall" and "Janus-Pro-7B" in r["row"]]
    by_kind = {r["kind"]: r for r in rows}
    assert len(rows) == 2 and by_kind["baseline"]["row"] == "Janus-Pro-7B" and by_kind["baseline"]["value"] == "0.8"
    assert by_kind["ours"]["row"].startswith("Janus-Pro-7B (this run: ")


# -- footnotes: sources, as links -------------------------------------------------------------
JANUS_PRO = "https://arxiv.org/abs/2501.17811"
JANUS_PRO_TITLE = "Janus-Pro: Unified Multimodal Understanding and Generation with Data and Model Scaling"


@pytest.mark.parametrize(
    ("fmt", "cited"),
    [
        ("html", f'Source: <a href="{JANUS_PRO}">{JANUS_PRO_TITLE} (arXiv:2501.17811), Table 4'),
        ("md", f"Source: [{JANUS_PRO_TITLE} (arXiv:2501.17811), Table 4"),
        ("latex", f"% Source: {JANUS_PRO_TITLE} (arXiv:2501.17811), Table 4"),
    ],
)
def test_footnotes_cite_each_papers_title_and_link(namesake_run, fmt, cited, capsys):
    code, out, err = cli(["report", str(namesake_run), "-f", fmt, "-b", "janus-pro", "-t", "geneval"], capsys)
    assert code == 0, err
    line = next(line for line in out.splitlines() if cited in line)
    assert (f"]({JANUS_PRO})" if fmt == "md" else JANUS_PRO) in line
    assert "Janus-Pro-7B" in line and "SDXL" in line  # the rows it is the source of


@pytest.mark.parametrize("fmt", ["table", "md", "html", "latex"])
def test_footnotes_carry_no_working_notes(namesake_run, fmt, capsys):
    code, out, err = cli(
        ["report", str(namesake_run), "-f", fmt, "-b", "all", "-t", "geneval", "--sources"]
        if fmt == "table"
        else ["report", str(namesake_run), "-f", fmt, "-b", "all", "-t", "geneval"],
        capsys,
    )
    assert code == 0, err
    text = " ".join(out.split())
    # how a number was transcribed belongs in the baselines file, not under a table
    for working_note in ("not read here", "docs/reference", "lists these values as", "the dagger is from"):
        assert working_note not in text
    assert "Source: " in text and "Emerging Properties in Unified Multimodal Pretraining (arXiv:2505.14683)" in text


def test_every_shipped_paper_source_has_a_title_and_a_link():
    from ming_eval.report.baselines import load_catalog

    papers = {
        c.source
        for entries in load_catalog().sets.values()
        for b in entries
        for cs in b.citations.values()
        for c in cs
        if c.source.kind == "paper"
    }
    assert papers
    for source in papers:
        link = source.link()
        assert source.title and source.title in link.text and link.url and link.url.startswith("https://"), source


# -- --format json ----------------------------------------------------------------------------
REASON = "option judge='gpt-4o', not the protocol's 'gpt-4o-mini'"


def _mark_not_comparable(run_dir, task: str) -> None:
    from ming_eval.report.runs import open_run

    result = open_run(run_dir).results[task]
    result.mark_not_comparable(REASON)
    (run_dir / task / "results.json").write_text(json.dumps(result.to_dict()))


def test_report_json_rows_for_scripts(namesake_run, half_summary_run, capsys):
    from ming_eval.report.runs import open_run

    _mark_not_comparable(half_summary_run, "ocrbench")
    code, out, err = cli(["report", str(namesake_run), str(half_summary_run), "-f", "json", "-b", "janus-pro"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "ming-eval-report/1"
    rows = {(r["model"], r["column"]): r for r in doc["rows"]}
    # the published row, with its source and link, apart from ours
    published = rows[("Janus-Pro-7B", "overall")]
    assert published["kind"] == "baseline" and published["value"] == 0.8 and published["scale"] == 1
    assert published["urls"] == ["https://arxiv.org/abs/2501.17811"] and published["interval"] is None
    ours = next(r for r in doc["rows"] if r["kind"] == "ours" and r["column"] == "overall" and r["task"] == "geneval")
    stored = open_run(namesake_run).results["geneval"].metrics["overall"]
    assert ours["model"] == f"Janus-Pro-7B (this run: {namesake_run})" and ours["run"] == str(namesake_run)
    assert ours["value"] == pytest.approx(stored.value) and ours["comparable"] is True
    assert ours["interval"]["low"] == pytest.approx(stored.ci_low) and ours["n"] == stored.n
    # a task no layout shows, on its own scale, and not comparable with the reason
    ocr = next(r for r in doc["rows"] if r["task"] == "ocrbench")
    assert ocr["scale"] == 100 and ocr["value"] == pytest.approx(
        open_run(half_summary_run).results["ocrbench"].primary_metric.value
    )
    assert ocr["comparable"] is False and ocr["not_comparable_because"] == [f"ocrbench: {REASON}"]
    assert any(s["url"] == "https://arxiv.org/abs/2501.17811" for t in doc["tables"] for s in t["sources"])


def test_leaderboard_json_rows_for_scripts(namesake_run, tmp_path, capsys):
    limited = write_run(tmp_path / "runs" / "small", {"mmstar": TaskData([1.0, 0.0, 1.0, 1.0])}, limit=4)
    _mark_not_comparable(limited, "mmstar")
    code, out, err = cli(["leaderboard", str(tmp_path / "runs"), "-f", "json", "--sort", "geneval"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "ming-eval-leaderboard/1" and doc["skipped"] == []
    by_run = {(r["run"], r["task"]): r for r in doc["rows"]}
    mmstar = by_run[("small", "mmstar")]
    assert mmstar["value"] == pytest.approx(75.0) and mmstar["scale"] == 100 and mmstar["metric"] == "overall"
    assert mmstar["comparable"] is False and mmstar["not_comparable_because"] == [f"mmstar: {REASON}"]
    geneval = by_run[("jp", "geneval")]
    assert geneval["comparable"] is True and geneval["scale"] == 1 and geneval["path"] == str(namesake_run)
    assert geneval["interval"]["low"] <= geneval["value"] <= geneval["interval"]["high"]


def test_compare_json_rows_for_scripts(tmp_path, capsys):
    base = understanding_scores(300, 0.7, 1)
    new = list(base)
    for i in [i for i, v in enumerate(base) if v == 1.0][:30]:
        new[i] = 0.0
    a = write_run(tmp_path / "base", {"mmstar": TaskData(base), "ai2d_test": TaskData(base)})
    b = write_run(tmp_path / "new", {"mmstar": TaskData(new), "ai2d_test": TaskData(base)})
    code, out, err = cli(["compare", str(a), str(b), "-f", "json", "--fail-on-regression"], capsys)
    assert code == 1, err  # the exit code of every format
    doc = json.loads(out)
    assert doc["schema"] == "ming-eval-compare/1" and doc["regressions"] == ["mmstar"]
    assert doc["base"]["run"] == str(a) and doc["new"]["run"] == str(b)
    mmstar = next(r for r in doc["rows"] if r["task"] == "mmstar" and r["category"] is None)
    assert mmstar["delta"] == pytest.approx(-10.0) and mmstar["scale"] == 100 and mmstar["regression"] is True
    assert mmstar["interval"]["low"] < mmstar["delta"] < mmstar["interval"]["high"] < 0
    assert mmstar["value_base"] == pytest.approx(sum(base) / 3) and mmstar["comparable"] is True


def test_an_unknown_table_name_is_an_error_with_a_suggestion(half_summary_run, capsys):
    code, out, err = cli(["report", str(half_summary_run), "-t", "genevl"], capsys)
    assert code == 2 and out == ""
    assert "unknown table 'genevl'" in err and "did you mean 'geneval'" in err
    code, out, err = cli(["report", str(half_summary_run), "-t", "other", "-f", "md"], capsys)
    assert code == 0 and "### Other tasks (0-100)" in out, err


def test_a_stored_nan_confidence_is_null_in_json_and_no_crash_in_tables(tmp_path, capsys):
    """A results file holding NaN where a confidence level belongs (Python's json writes NaN): every
    format still renders; JSON, which has no NaN, says null."""
    run = write_run(tmp_path / "runs" / "a", {"mmstar": TaskData([1.0, 0.0, 1.0, 1.0])})
    path = run / "mmstar" / "results.json"
    stored = json.loads(path.read_text())
    stored["metrics"]["overall"]["confidence"] = float("nan")
    path.write_text(json.dumps(stored))
    for args in (["report", str(run), "-f", "json"], ["leaderboard", str(tmp_path / "runs"), "-f", "json"]):
        code, out, err = cli(args, capsys)
        assert code == 0, err
        row = next(r for r in json.loads(out)["rows"] if r["task"] == "mmstar" and r["kind"] == "ours")
        assert row["interval"]["confidence"] is None and row["value"] == pytest.approx(75.0)
    for fmt in FORMATS:
        code, out, err = cli(["report", str(run), "-f", fmt, "--ci"], capsys)
        assert code == 0 and "Traceback" not in err, err


def test_out_is_written_into_a_new_folder_and_an_unwritable_one_is_a_clear_error(half_summary_run, tmp_path, capsys):
    for fmt in ("table", "md"):
        target = tmp_path / "new" / fmt / "report.txt"
        code, out, err = cli(["report", str(half_summary_run), "-f", fmt, "--out", str(target)], capsys)
        assert code == 0 and out == "", err
        assert "ocrbench" in target.read_text()
        # a folder where the file should be: one line naming it, no traceback
        code, out, err = cli(["report", str(half_summary_run), "-f", fmt, "--out", str(tmp_path)], capsys)
        assert code == 2 and "Traceback" not in err and f"cannot write {tmp_path}" in err, err
    for args in (
        ["leaderboard", str(half_summary_run), "--csv", str(tmp_path)],
        ["compare", str(half_summary_run), str(half_summary_run), "--markdown", str(tmp_path)],
    ):
        code, out, err = cli(args, capsys)
        assert code == 2 and "Traceback" not in err and f"cannot write {tmp_path}" in err, err
