"""Reading and checking GenEval metadata, original and rewritten."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from ming_eval.errors import DataError
from ming_eval.runner.plan import resolve_task
from ming_eval.tasks.geneval.metadata import (
    Include,
    check_rewritten,
    load_metadata,
    read_folder_metadata,
)
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, write_metadata
from tests.tasks.geneval.helpers import upstream_data_dir


def test_upstream_file_parses_with_expected_tag_blocks():
    folder = upstream_data_dir()
    if folder is None:
        pytest.skip("no upstream copy of evaluation_metadata.jsonl here")
    path = folder / "evaluation_metadata.jsonl"
    [pinned] = resolve_task("geneval").data_files()  # the card's sha256 is what runs check
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned.sha256
    prompts = load_metadata(path)
    assert len(prompts) == 553
    assert Counter(p.tag for p in prompts) == {
        "single_object": 80,
        "two_object": 99,
        "counting": 80,
        "colors": 94,
        "position": 100,
        "color_attr": 100,
    }
    # the folder metadata we write is the line as GenEval's generation script dumps it
    first = json.loads(path.read_text().splitlines()[0])
    assert json.dumps(dict(prompts[0].raw)) == json.dumps(first)
    assert prompts[0].sample_id == "00000"
    positions = [p for p in prompts if p.tag == "position"]
    assert all(p.include[1].position is not None and p.include[1].position[1] == 0 for p in positions)


def test_selftest_prompts_cover_every_tag(tmp_path):
    prompts = load_metadata(write_metadata(tmp_path / "m.jsonl", SELFTEST_PROMPTS))
    assert [p.tag for p in prompts] == ["single_object", "two_object", "counting", "colors", "position", "color_attr"]
    assert prompts[4].include[1] == Include("bus", 1, None, ("below", 0))
    assert prompts[2].exclude[0].count == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"tag": "single_object", "include": [{"class": "unicorn", "count": 1}], "prompt": "x"}', "unicorn"),
        ('{"tag": "colors", "include": [{"class": "cat", "count": 1, "color": "teal"}], "prompt": "x"}', "teal"),
        ('{"tag": "counting", "include": [{"class": "cat", "count": 0}], "prompt": "x"}', "positive integer"),
        ('{"tag": "counting", "include": [{"class": "cat", "count": true}], "prompt": "x"}', "positive integer"),
        ('{"tag": "nonsense", "include": [{"class": "cat", "count": 1}], "prompt": "x"}', "'tag'"),
        ('{"tag": "single_object", "include": [], "prompt": "x"}', "non-empty list"),
        ('{"tag": "single_object", "include": [{"class": "cat", "count": 1}]}', "'prompt'"),
        (
            '{"tag": "position", "include": [{"class": "cat", "count": 1, "position": ["left of", 0]}], "prompt": "x"}',
            "IndexError",
        ),
        (
            '{"tag": "position", "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, '
            '"position": ["beside", 0]}], "prompt": "x"}',
            "relation",
        ),
        (
            '{"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "x", "extra": 1}',
            "unknown keys",
        ),
        ('{"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "x"', "not valid JSON"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    good = json.dumps(SELFTEST_PROMPTS[0])
    path = tmp_path / "meta.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(DataError) as err:
        load_metadata(path)
    assert f"{path} line 2" in str(err.value)
    assert message in str(err.value)


def test_blank_line_and_empty_file(tmp_path):
    path = tmp_path / "meta.jsonl"
    path.write_text(json.dumps(SELFTEST_PROMPTS[0]) + "\n\n" + json.dumps(SELFTEST_PROMPTS[1]) + "\n")
    with pytest.raises(DataError, match="line 2: empty line"):
        load_metadata(path)
    path.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_metadata(path)


def test_rewritten_prompts_must_only_change_prompt(tmp_path):
    original = load_metadata(write_metadata(tmp_path / "orig.jsonl", SELFTEST_PROMPTS))
    rows = [dict(r) for r in SELFTEST_PROMPTS]
    for r in rows:
        r["prompt"] = "A detailed, long rewrite of: " + r["prompt"]
    rewritten = load_metadata(write_metadata(tmp_path / "long.jsonl", rows))
    check_rewritten(original, rewritten, tmp_path / "long.jsonl")  # passes

    rows[2] = {**rows[2], "include": [{"class": "vase", "count": 2}]}
    rows[5] = {**rows[5], "tag": "colors"}
    bad = load_metadata(write_metadata(tmp_path / "bad.jsonl", rows))
    with pytest.raises(DataError) as err:
        check_rewritten(original, bad, tmp_path / "bad.jsonl")
    text = str(err.value)
    assert "line 3 differs in include" in text and "line 6 differs in tag" in text
    assert "line 1 " not in text

    short = load_metadata(write_metadata(tmp_path / "short.jsonl", rows[:4]))
    with pytest.raises(DataError, match="it has 4 lines, the original has 6"):
        check_rewritten(original, short, tmp_path / "short.jsonl")


def test_folder_metadata(tmp_path):
    path = tmp_path / "metadata.jsonl"
    with pytest.raises(DataError, match="is missing"):
        read_folder_metadata(path)
    path.write_text(json.dumps(SELFTEST_PROMPTS[0]) + "\n" + json.dumps(SELFTEST_PROMPTS[1]) + "\n")
    with pytest.raises(DataError, match="not one JSON object"):
        read_folder_metadata(path)
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match="not an object"):
        read_folder_metadata(path)
    path.write_text(json.dumps(SELFTEST_PROMPTS[3]))
    assert read_folder_metadata(path) == SELFTEST_PROMPTS[3]
