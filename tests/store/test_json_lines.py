"""The one reader of other tools' JSON-lines files (lmms-eval logs, GenEval's results.jsonl and its
metadata): lines end at a newline only, and every message names the file and the line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.metadata import load_metadata
from ming_eval.tasks.geneval.upstream import check_upstream_results
from ming_eval.tasks.vlm.lmms import read_lmms_log
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS
from tests.tasks.geneval.test_upstream import results_file

SEP = "\u2028"  # a line separator for str.splitlines, an ordinary character inside a JSON string


def _lmms(path: Path) -> list[str]:
    rows = [{"doc_id": i, "doc": {"question": f"q{i}{SEP}more"}, "filtered_resps": [f"A{i}"]} for i in range(3)]
    return [json.dumps(r, ensure_ascii=False) for r in rows]


def _upstream(path: Path) -> list[str]:
    results_file(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["filename"] = f"outputs/00000/samples/a{SEP}b.png"
    return [json.dumps(r, ensure_ascii=False) for r in rows]


def _metadata(path: Path) -> list[str]:
    rows = [dict(r) for r in SELFTEST_PROMPTS]
    rows[0]["prompt"] = f"a photo{SEP}of a cat"
    return [json.dumps(r, ensure_ascii=False) for r in rows]


READERS: dict[str, tuple[Callable[[Path], list[str]], Callable[[Path], Any]]] = {
    "lmms-eval log": (_lmms, read_lmms_log),
    "GenEval results.jsonl": (_upstream, check_upstream_results),
    "GenEval metadata": (_metadata, load_metadata),
}


@pytest.mark.parametrize("kind", READERS)
def test_a_line_separator_inside_a_string_does_not_cut_the_line(tmp_path: Path, kind: str) -> None:
    make, read = READERS[kind]
    path = tmp_path / "file.jsonl"
    lines = make(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read(path)
    if kind == "lmms-eval log":
        assert [g.doc_id for g in got] == [0, 1, 2] and got[1].text == "A1"
        assert got[1].record["doc"]["question"] == f"q1{SEP}more"
    elif kind == "GenEval metadata":
        assert len(got) == len(SELFTEST_PROMPTS) and got[0].prompt == f"a photo{SEP}of a cat"
    else:
        assert got.rows == len(lines) and got.ok


@pytest.mark.parametrize("kind", READERS)
def test_a_byte_that_is_not_utf8_names_the_file_and_line(tmp_path: Path, kind: str) -> None:
    make, read = READERS[kind]
    path = tmp_path / "file.jsonl"
    lines = [line.encode("utf-8") for line in make(path)]
    lines[1] = lines[1][:-2] + b"\xff" + lines[1][-2:]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as err:
        read(path)
    assert "cannot read " in err.value.message and f"{path}: line 2 is not UTF-8 text" in err.value.message
    assert "\n" not in err.value.message and err.value.hint  # one line, and what to pass instead


@pytest.mark.parametrize("kind", READERS)
def test_a_cut_short_line_names_the_file_and_line_with_the_callers_hint(tmp_path: Path, kind: str) -> None:
    make, read = READERS[kind]
    path = tmp_path / "file.jsonl"
    lines = make(path)
    path.write_text("\n".join([*lines[:2], lines[2][:10]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read(path)
    assert err.value.message.startswith(f"{path} line 3 is not valid JSON")
    hints = {"lmms-eval log": "lmms-eval --log_samples", "GenEval results.jsonl": "evaluate_images.py"}
    assert hints.get(kind, "GenEval metadata lines look like") in (err.value.hint or "")
