import json

import pytest

from ming_eval.errors import RunStoreError
from ming_eval.store.jsonl import AppendedReader, JsonlWriter, parse_lines, read_jsonl


def test_partial_tail_is_skipped_then_cut_on_reopen(tmp_path):
    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as w:
        w.write({"id": "a"})
        w.write({"id": "b"})
    with path.open("a") as fh:
        fh.write('{"id": "c", "out')  # a kill in the middle of a write
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    with JsonlWriter(path) as w:
        w.write({"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]


def test_complete_json_without_newline_is_not_counted(tmp_path):
    # A write cut just before its newline parses, but the writer would cut it: it must not count as done.
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}')
    assert [r["id"] for r in read_jsonl(path)] == ["a"]
    with JsonlWriter(path) as w:
        w.write({"id": "b2"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b2"]


def test_corruption_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a"}\nGARBAGE\n{"id": "b"}\n')
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 2"):
        list(read_jsonl(path))


def test_numpy_values_serialise(tmp_path):
    import numpy as np

    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as w:
        w.write({"x": np.float32(0.5), "y": np.arange(3), "z": np.bool_(True)})
    assert next(read_jsonl(path)) == {"x": 0.5, "y": [0, 1, 2], "z": True}


def test_results_json_is_strict(tmp_path):
    import json
    import math

    from ming_eval.core.results import Metric
    from ming_eval.store.jsonl import write_json_atomic

    path = tmp_path / "r.json"
    write_json_atomic(path, {"m": Metric(float("nan"), n=0).to_dict(), "x": [float("inf")]})
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["x"] == [None] and math.isnan(Metric.from_dict(data["m"]).value)


def test_records_written_without_flush_reach_the_file_at_flush(tmp_path):
    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as w:
        w.write({"id": "a"}, flush=False)
        w.write({"id": "b"}, flush=False)
        w.flush()
        assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]  # another reader sees both
        w.write({"id": "c"})
        assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]


def test_lines_are_the_compact_json_of_the_record(tmp_path):
    import json
    from pathlib import Path

    from ming_eval.store.jsonl import dumps

    record = {"id": "é1", "out": ['x\n"y"', 1.5, None, True, float("nan")], "n": {"k": 2}, "p": Path("a/b")}
    expected = json.dumps({**record, "p": "a/b"}, ensure_ascii=False, separators=(",", ":"))
    assert dumps(record) == expected
    with JsonlWriter(tmp_path / "r.jsonl") as w:
        w.write(record)
    assert (tmp_path / "r.jsonl").read_text(encoding="utf-8") == expected + "\n"


def test_a_tail_cut_inside_a_character_is_skipped_and_bad_bytes_name_their_line(tmp_path):
    path = tmp_path / "r.jsonl"
    whole = '{"id": "a", "output": "中文"}\n'.encode()
    path.write_bytes(whole + whole[:-5])  # killed in the middle of a three-byte character
    assert [r["output"] for r in read_jsonl(path)] == ["中文"]
    path.write_bytes(whole + b'{"id": "b", "output": "\xff"}\n' + whole)
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 2 is not UTF-8"):
        list(read_jsonl(path))


def test_appended_reader_parses_only_what_was_appended_and_rereads_an_edited_file(tmp_path):
    path = tmp_path / "r.jsonl"
    parsed: list[str] = []

    def parse(p, number, recs):
        parsed.extend(rec["id"] for rec in recs)
        return [(number + i, rec["id"], rec["v"]) for i, rec in enumerate(recs)]

    reader = AppendedReader(parse)
    with JsonlWriter(path) as w:
        w.write({"id": "a", "v": 1})
        w.write({"id": "b", "v": 2})
    assert reader.read(path) == [(1, "a", 1), (2, "b", 2)]
    with path.open("a") as fh:
        fh.write('{"id": "c", "v": 3}\n{"id": "d", "v"')  # one record and a write cut short
    assert reader.read(path) == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]
    assert parsed == ["a", "b", "c"]  # the first two were not parsed again
    with JsonlWriter(path) as w:  # reopening cuts the partial line
        w.write({"id": "d", "v": 4})
    assert reader.read(path)[-1] == (4, "d", 4) and parsed == ["a", "b", "c", "d"]
    # an earlier record edited in place (same length, same inode): everything is parsed again
    path.write_text(path.read_text().replace('"v":2', '"v":7'))
    assert reader.read(path)[1] == (2, "b", 7) and parsed[-4:] == ["a", "b", "c", "d"]
    with path.open("a") as fh:
        fh.write("GARBAGE\n")
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 5 is not valid JSON"):
        reader.read(path)


def test_lines_decoded_together_give_what_each_line_gives_alone(tmp_path):
    path = tmp_path / "r.jsonl"
    # line 1 is left open inside a list and line 3 holds two objects: decoded as one list they would
    # give three records for three lines; each line alone does not parse, and line 1 is reported
    path.write_text('{"id": "a", "v": [[1\n2]]}\n{"id": "b"}, {"id": "c"}\n')
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 1 is not valid JSON"):
        read_jsonl(path).__next__()
    path.write_text('{"id": "a", "v": [1]}\n{"id": "b"}\n[2]\n')
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 3 is not a JSON object"):
        list(read_jsonl(path))
    # blank lines are skipped; a text holding "}, {" is read as it is
    path.write_text('\ufeff{"id": "a"}\n\n \t\n{"id": "b", "s": "}, {"}\n{"id": "c", "v": [{"x": 1}, {"y": 2}]}\n')
    assert list(read_jsonl(path)) == [
        {"id": "a"},
        {"id": "b", "s": "}, {"},
        {"id": "c", "v": [{"x": 1}, {"y": 2}]},
    ]


def _line_by_line(data: bytes) -> list[object] | tuple[str, int]:
    """The records of ``data`` decoded one line at a time (the definition), or the first bad line."""
    out: list[object] = []
    for number, raw in enumerate(data.decode().split("\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            return ("not valid JSON", number)
        if not isinstance(rec, dict):
            return ("not a JSON object", number)
        out.append(rec)
    return out


def test_lines_decoded_together_equal_lines_decoded_alone_for_every_mix_of_odd_lines(tmp_path):
    # lines left open inside a list or an object, lines closing them, lines with two objects apart by
    # any JSON whitespace, lines that are not objects, blank lines: in any order, the one-call decoding
    # gives what each line alone gives (or names the same first bad line)
    import random
    import re

    ws = ["", " ", "\t", "\r", " \t"]
    rng = random.Random(0)

    def line() -> str:
        a, b = rng.choice(ws), rng.choice(ws)
        two = '{"id":1}' + a + "," + b + '{"id":2}'
        one = f'{{"id":{rng.randrange(9)}}}'
        shapes = [one, two, '{"id":3,"v":[1', "2]}", '{"id":4,"v":{"a":1', '"b":2}', "[3]", a]
        return rng.choice(shapes)

    for _ in range(3000):
        data = ("\n".join(line() for _ in range(rng.randint(1, 5))) + "\n").encode()
        try:
            got: object = parse_lines(data, tmp_path / "r.jsonl")
        except RunStoreError as exc:
            found = re.search(r"line (\d+) is (not valid JSON|not a JSON object)", str(exc))
            assert found is not None
            got = (found.group(2), int(found.group(1)))
        assert got == _line_by_line(data), data


@pytest.mark.parametrize(
    "value", ["9" * 5000, "[" * 100_000 + "]" * 100_000], ids=["an integer too long", "lists nested too deep"]
)
def test_a_line_that_parses_to_no_python_value_names_its_file_and_line(tmp_path, value):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "v": ' + value + "}\n")
    with pytest.raises(RunStoreError, match=r"r.jsonl: line 2 is not valid JSON \(.+\)"):
        list(read_jsonl(path))
