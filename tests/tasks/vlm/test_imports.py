"""VLMEvalKit prediction files scored as runs (``ming-eval score TASK --predictions FILE``).

The files are made the way VLMEvalKit's ``run.py`` makes them: the benchmark TSV read with pandas,
the ``image`` column dropped, a ``prediction`` column of strings added, and the frame dumped as .xlsx
(``to_excel(index=False)``) or as .tsv/.csv with every cell quoted (``csv.QUOTE_ALL``).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pytest

from ming_eval.data.files import file_digest
from ming_eval.errors import DataError, MingEvalError
from ming_eval.runner.rescore import rescore, score_external
from ming_eval.store.run_store import RunStore
from ming_eval.testing.fixtures.vlm import make_mathvista, make_mcq, make_mmmu, make_ocrbench
from tests.cli.test_cli import run_cli
from tests.tasks.vlm.helpers import load, score

pytest.importorskip("openpyxl")


def vlmevalkit_file(tsv: Path, out: Path, outputs: Mapping[str, str], *, drop: tuple[str, ...] = ()) -> Path:
    """The prediction file VLMEvalKit writes for ``tsv`` and ``outputs`` (index -> answer text)."""
    frame = pd.read_csv(tsv, sep="\t")
    frame = frame.drop(columns=["image", *drop])
    frame["prediction"] = [str(outputs.get(str(i), "")) for i in frame["index"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".xlsx":
        frame.to_excel(out, index=False)
    else:
        frame.to_csv(out, sep="\t" if out.suffix == ".tsv" else ",", index=False, quoting=csv.QUOTE_ALL)
    return out


MCQ_OUTPUTS = {"0": "A", "1": "The answer is B", "2": "C. purple", "3": "None", "4": "", "5": "D"}


def _reference(task_name: str, tmp_path: Path, make: Callable[[Path], Path], outputs: Mapping[str, str], **opts):
    task, samples, ctx = load(task_name, tmp_path / "ref", make, **opts)
    _, result = score(task, ctx, samples, outputs)
    return result


@pytest.mark.parametrize("suffix", [".xlsx", ".tsv", ".csv"])
def test_a_prediction_file_scores_as_the_same_outputs_of_our_own_run(tmp_path, suffix):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6, with_hint=False)
    ref = _reference("mmstar", tmp_path, lambda p: make_mcq(p, n=6), MCQ_OUTPUTS, judge="exact_matching")
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / f"Model_MMStar{suffix}", MCQ_OUTPUTS)
    tsv.unlink()  # neither the TSV nor images are needed
    out = tmp_path / "run"
    result = score_external(
        "mmstar", pred, out, task_options={"judge": "exact_matching"}, predictions=True, argv=["t"]
    )["mmstar"]
    assert result.primary_metric.value == pytest.approx(ref.primary_metric.value)
    assert result.counts["n"] == 6
    assert result.breakdowns == ref.breakdowns
    stored = {k: p.output for k, p in RunStore(out).task("mmstar").read_predictions().items()}
    assert stored["3"] == "None" and stored["4"] == ""  # the answers as written, not pandas' NaN
    assert any("not cross-checked" in n for n in result.notes)
    # an ordinary run: score again (from the copy in the run, the original file gone) and report
    pred.unlink()
    again = rescore(out, argv=["t"])["mmstar"]
    assert again.primary_metric.value == pytest.approx(ref.primary_metric.value)


def test_cli_imports_and_reports(tmp_path, capsys):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    out = tmp_path / "run"
    code, text = run_cli(
        ["score", "mmstar", "--predictions", str(pred), "--out", str(out), "-o", "mmstar.judge=exact_matching"], capsys
    )
    assert code == 0, text
    assert "imported 6 predictions" in text
    code, text = run_cli(["report", str(out)], capsys)
    assert code == 0, text
    assert "mmstar" in text.lower()


def test_list_valued_cells_and_nan_metadata(tmp_path):
    """MathVista's ``skills``/``choices`` and OCRBench's answers are list strings like "['a', 'b']"."""
    outputs = {"1": "B", "2": "2", "3": "2.5", "4": "red", "5": "(B) 1/3", "6": "12", "7": "6.5", "8": "red"}
    tsv = make_mathvista(tmp_path / "data" / "MathVista_MINI.tsv")
    _, ref_samples, _ = load("mathvista_mini", tmp_path / "ref", make_mathvista)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_MathVista_MINI.xlsx", outputs)
    from ming_eval.runner.plan import resolve_task

    task = resolve_task("mathvista_mini")
    work = tmp_path / "w"
    work.mkdir()
    shutil.copyfile(pred, work / "imported_predictions.xlsx")
    task = resolve_task("mathvista_mini", task.prediction_import_options(pred))
    from ming_eval.cards.schema import UnderstandProtocol
    from ming_eval.core.task import TaskContext
    from ming_eval.runner.plan import task_data_files

    ctx = TaskContext(protocol=UnderstandProtocol(), data=task_data_files(task), work_dir=work)
    samples = task.samples(ctx)
    assert [(s.id, s.target, s.meta) for s in samples] == [(s.id, s.target, s.meta) for s in ref_samples]

    ocr_outputs = {str(i): f"it says word{i}" for i in range(6)}
    tsv = make_ocrbench(tmp_path / "data" / "OCRBench.tsv")
    ref = _reference("ocrbench", tmp_path / "o", make_ocrbench, ocr_outputs)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_OCRBench.csv", ocr_outputs)
    result = score_external("ocrbench", pred, tmp_path / "orun", predictions=True, argv=["t"])["ocrbench"]
    assert result.primary_metric.value == pytest.approx(ref.primary_metric.value)


def _import(tmp_path: Path, pred: Path, task: str = "mmstar", options: dict | None = None, **kw) -> dict:
    options = {"judge": "exact_matching", **(options or {})}
    return score_external(task, pred, tmp_path / "run", task_options=options, predictions=True, argv=["t"], **kw)


@pytest.fixture
def mmstar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """MMStar's TSV (6 rows) in ``$LMUData``, and the task option that pins its md5."""
    lmu = tmp_path / "LMUData"
    tsv = make_mcq(lmu / "MMStar.tsv", n=6)
    monkeypatch.setenv("LMUData", str(lmu))
    return tsv, {"data_md5": file_digest(tsv, "md5")}


def test_cross_checked_with_the_tsv_when_present(tmp_path, mmstar):
    tsv, md5 = mmstar
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.tsv", MCQ_OUTPUTS)
    # a changed answer: named by file, row and index
    frame = pd.read_csv(pred, sep="\t")
    frame.loc[2, "answer"] = "D" if frame.loc[2, "answer"] != "D" else "A"
    bad = tmp_path / "vk2" / "Model_MMStar.tsv"
    bad.parent.mkdir()
    frame.to_csv(bad, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    with pytest.raises(DataError, match=r"Model_MMStar.tsv row 3 \(index 2\): the answer"):
        _import(tmp_path / "a", bad, options=md5)
    # rows missing from the file: refused, or scored with --allow-incomplete
    frame = pd.read_csv(pred, sep="\t").iloc[:4]
    short = tmp_path / "vk3" / "Model_MMStar.tsv"
    short.parent.mkdir()
    frame.to_csv(short, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    with pytest.raises(DataError, match=r"2 of the 6 rows .* have no prediction: 4, 5"):
        _import(tmp_path / "b", short, options=md5)
    result = _import(tmp_path / "c", pred, options=md5)["mmstar"]
    assert not any("not cross-checked" in n for n in result.notes)


def test_bad_files_are_named(tmp_path):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    other = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_AI2D_TEST.xlsx", MCQ_OUTPUTS)
    with pytest.raises(DataError, match=r"for dataset AI2D_TEST, not MMStar.*") as err:
        _import(tmp_path / "a", other)
    assert "ming-eval score ai2d_test --predictions" in str(err.value)
    no_pred = tmp_path / "vk" / "Model_MMStar.csv"
    pd.read_csv(tsv, sep="\t").drop(columns=["image"]).to_csv(no_pred, index=False)
    with pytest.raises(DataError, match=r"lacks the column.*prediction"):
        _import(tmp_path / "b", no_pred)
    no_answer = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.tsv", MCQ_OUTPUTS, drop=("question",))
    with pytest.raises(DataError, match=r"lacks the column.*question"):
        _import(tmp_path / "c", no_answer)
    frame = pd.read_csv(vlmevalkit_file(tsv, tmp_path / "d" / "X_MMStar.tsv", MCQ_OUTPUTS), sep="\t")
    frame.loc[4, "index"] = 1
    dup = tmp_path / "vk" / "Dup_MMStar.tsv"
    frame.to_csv(dup, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    with pytest.raises(DataError, match=r"Dup_MMStar.tsv row 5 \(index 1\): index 1 appears again \(first at row 2\)"):
        _import(tmp_path / "e", dup)
    mv = make_mathvista(tmp_path / "data" / "MathVista_MINI.tsv")
    frame = pd.read_csv(vlmevalkit_file(mv, tmp_path / "h" / "X_MathVista_MINI.tsv", {}), sep="\t")
    frame.loc[3, "answer_type"] = None
    holed = tmp_path / "vk" / "Holed_MathVista_MINI.tsv"
    frame.to_csv(holed, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    with pytest.raises(DataError, match=r"Holed_MathVista_MINI.tsv row 4 \(index 4\): the 'answer_type' cell") as err:
        _import(tmp_path / "h2", holed, "mathvista_mini", options={"judge": None})
    assert "re-download" not in str(err.value)
    with pytest.raises(MingEvalError, match="geneval cannot import a prediction file"):
        score_external("geneval", dup, tmp_path / "f", predictions=True, argv=["t"])
    txt = tmp_path / "vk" / "preds.json"
    txt.write_text("{}")
    with pytest.raises(DataError, match=r"\.xlsx, \.tsv or \.csv"):
        _import(tmp_path / "g", txt)


def test_an_older_vlmevalkit_file_gets_the_matching_hint(tmp_path):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    old = vlmevalkit_file(tsv, tmp_path / "outputs" / "Model" / "T20250301_Gabc1234" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    new = vlmevalkit_file(tsv, tmp_path / "outputs" / "Model" / "T20260101-120000" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    notes = _import(tmp_path / "a", old)["mmstar"].notes
    assert any("-o mmstar.matching=v0.2" in n and "20250301" in n for n in notes)
    assert not any("matching=v0.2" in n for n in _import(tmp_path / "b", new)["mmstar"].notes)
    v02 = score_external(
        "mmstar",
        old,
        tmp_path / "c" / "run",
        task_options={"judge": "exact_matching", "matching": "v0.2"},
        predictions=True,
        argv=["t"],
    )["mmstar"]
    assert not any("matching=v0.2" in n for n in v02.notes)


def test_mmmu_questions_with_image_placeholders_import_without_images(tmp_path):
    """MMMU questions say ``<image 1>``; the file has no images, and none are needed to score."""
    tsv = make_mmmu(tmp_path / "data" / "MMMU_DEV_VAL.tsv")
    outputs = {
        str(i): o for i, o in zip(pd.read_csv(tsv, sep="\t")["index"], ["A", "B", "red", "C", "A", "x"], strict=True)
    }
    ref = _reference("mmmu_dev_val", tmp_path, make_mmmu, outputs, judge="exact_matching")
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_MMMU_DEV_VAL.xlsx", outputs)
    result = _import(tmp_path / "run", pred, "mmmu_dev_val")["mmmu_dev_val"]
    assert result.primary_metric.value == pytest.approx(ref.primary_metric.value)
    assert result.breakdowns == ref.breakdowns


# -- lmms-eval --log_samples ---------------------------------------------------------------------


def lmms_log(tsv: Path, out: Path, outputs: Mapping[str, str], *, keep_doc: bool = False) -> Path:
    """``{date}_samples_mmstar.jsonl`` as lmms-eval writes it: one JSON line per doc, with doc_id,
    target (a string), filtered_resps (the single response, unwrapped), the doc's hash, its metric
    entries (MMStar's carry ``question_id`` = the index) and, before lmms-eval 0.4, the doc itself."""
    frame = pd.read_csv(tsv, sep="\t")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for doc_id, row in enumerate(frame.drop(columns=["image"]).to_dict(orient="records")):
            text = outputs.get(str(row["index"]), "")
            entry = {"question_id": row["index"], "l2_category": row["l2-category"], "score": 0.0}
            record: dict = {"doc_id": doc_id, "target": str(row["answer"]), "filtered_resps": [text]}
            if keep_doc:
                record["doc"] = {k: (None if pd.isna(v) else v) for k, v in row.items()}
                record["resps"] = [[text]]
            record.update({"doc_hash": "0" * 64, "input": "<image>...", row["category"]: entry, "average": entry})
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


@pytest.mark.parametrize("keep_doc", [False, True])
def test_an_lmms_eval_log_scores_as_the_same_outputs(tmp_path, mmstar, keep_doc):
    tsv, md5 = mmstar
    ref = _reference("mmstar", tmp_path, lambda p: make_mcq(p, n=6), MCQ_OUTPUTS, judge="exact_matching")
    log = lmms_log(
        tsv, tmp_path / "logs" / "m" / "20260101_120000_samples_mmstar.jsonl", MCQ_OUTPUTS, keep_doc=keep_doc
    )
    result = _import(tmp_path / "a", log, options=md5)["mmstar"]
    assert result.primary_metric.value == pytest.approx(ref.primary_metric.value)
    assert any("lmms-eval's log" in n for n in result.notes)
    again = rescore(tmp_path / "a" / "run", argv=["t"])["mmstar"]
    assert again.primary_metric.value == pytest.approx(ref.primary_metric.value)


def test_bad_lmms_eval_logs_are_named(tmp_path, mmstar):
    tsv, md5 = mmstar
    other = lmms_log(tsv, tmp_path / "l" / "20260101_samples_mmbench_en_dev.jsonl", MCQ_OUTPUTS)
    with pytest.raises(
        DataError, match=r"log of task mmbench_en_dev, not of mmstar .*\n.*score it as task mmbench_dev_en"
    ):
        _import(tmp_path / "a", other, options=md5)
    good = lmms_log(tsv, tmp_path / "l" / "x_samples_mmstar.jsonl", MCQ_OUTPUTS)
    lines = good.read_text().splitlines()
    wrong = json.loads(lines[2])
    wrong["target"] = "Z"
    bad = tmp_path / "l2" / "x_samples_mmstar.jsonl"
    bad.parent.mkdir()
    bad.write_text("\n".join([*lines[:2], json.dumps(wrong), *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=r"x_samples_mmstar.jsonl line 3 \(doc_id 2\): the logged target 'Z'"):
        _import(tmp_path / "b", bad, options=md5)
    short = tmp_path / "l3" / "x_samples_mmstar.jsonl"
    short.parent.mkdir()
    short.write_text("\n".join(lines[:4]) + "\n")
    with pytest.raises(DataError, match=r"2 of the 6 samples .* are not in the log"):
        _import(tmp_path / "c", short, options=md5)
    with pytest.raises(DataError, match=r"lmms-eval logs can be imported for .*, not for task mmbench_test_en"):
        _import(tmp_path / "d", good, "mmbench_test_en")


def test_a_truncated_xlsx_is_a_one_line_error(tmp_path):
    from ming_eval.tasks.vlm.imported import read_prediction_file
    from ming_eval.tasks.vlm.kit_verdicts import read_kit_verdicts

    good = tmp_path / "Model_MMStar.xlsx"
    pd.DataFrame({"index": [1, 2], "question": ["q", "r"], "prediction": ["A", "B"]}).to_excel(good, index=False)
    cut = tmp_path / "cut" / "Model_MMStar.xlsx"
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[:200])  # a zip cut off: not a KeyError or ValueError of pandas
    with pytest.raises(DataError, match=r"cannot read .*Model_MMStar.xlsx as a VLMEvalKit prediction file"):
        read_prediction_file(cut, ["question"])
    verdicts = tmp_path / "cut" / "Model_MMStar_exact_matching_result.xlsx"
    verdicts.write_bytes(cut.read_bytes())
    with pytest.raises(DataError, match=r"cannot read .* as a VLMEvalKit verdict file"):
        pf = read_prediction_file(good, ["question"])
        read_kit_verdicts(verdicts, "mcq", "MMStar", pf, circular=False, rules="current")
