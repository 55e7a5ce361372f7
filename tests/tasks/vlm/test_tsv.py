"""The streaming TSV reader: VLMEvalKit's parsing rules, lazy images, and bad input."""

import base64
import io

import pandas as pd
import pytest
from PIL import Image

from ming_eval.cards.schema import DataFile
from ming_eval.data.files import DataFiles, file_digest
from ming_eval.errors import ChecksumError, DataError
from ming_eval.tasks.vlm.tsv import TsvTable, decode_vlmeval_image
from ming_eval.testing.fixtures.vlm import COLORS, make_mmbench, png_b64, write_tsv


def colour(ref):
    return ref.load().getpixel((0, 0))


def test_rows_values_and_pandas_missing_value_rules(tmp_path):
    path = write_tsv(
        tmp_path / "t.tsv",
        [
            {
                "index": 1,
                "question": 'He said "hi"\tand left\nearly',
                "A": "None",
                "B": "N/A",
                "C": "3",
                "D": "",
                "image": png_b64(COLORS["red"]),
            },
            {"index": 2, "question": "q2", "A": "x", "B": "y", "C": "4.50", "D": "z", "image": png_b64(COLORS["blue"])},
        ],
    )
    table = TsvTable.load(path)
    assert len(table) == 2
    first = table.rows[0]
    assert first["question"] == 'He said "hi"\tand left\nearly'  # quoting kept tabs and newlines
    # pandas turns "None", "N/A" and "" into NaN, as VLMEvalKit sees them
    assert all(pd.isna(first[c]) for c in ("A", "B", "D"))
    # a column of numbers is numeric, as pandas parses it: "4.50" reads 4.5
    assert table.rows[1]["C"] == 4.5 and str(table.rows[1]["C"]) == "4.5"
    assert "image" not in first  # images are never kept in memory
    assert colour(table.image_refs(0)[0]) == COLORS["red"]
    assert colour(table.image_refs(1)[0]) == COLORS["blue"]


def test_circular_copies_share_the_image_of_their_index(tmp_path):
    path = make_mmbench(tmp_path / "MMBench_DEV_EN.tsv", n_questions=3)
    table = TsvTable.load(path)
    by_index = {int(r["index"]): i for i, r in enumerate(table.rows)}
    copy = by_index[1_000_001]
    ref = table.image_refs(copy)[0]
    assert "stored with index 1" in ref.source
    assert ref.load().tobytes() == table.image_refs(by_index[1])[0].load().tobytes()


def test_multi_image_cells_and_rows_without_image(tmp_path):
    cell = str([png_b64(COLORS["red"]), png_b64(COLORS["green"]), png_b64(COLORS["blue"])])
    path = write_tsv(
        tmp_path / "m.tsv",
        [
            {"index": "a", "question": "q", "image": cell},
            {"index": "b", "question": "no image", "image": None},
            {"index": "c", "question": "q", "image": "a"},
        ],
    )
    table = TsvTable.load(path)
    assert [r["index"] for r in table.rows] == ["a", "c"] and table.dropped_no_image == 1
    assert [colour(r) for r in table.image_refs(0)] == [COLORS["red"], COLORS["green"], COLORS["blue"]]
    assert [colour(r) for r in table.image_refs(1)] == [COLORS["red"], COLORS["green"], COLORS["blue"]]
    assert table.image_refs(0)[2].source == "m.tsv index a image 3"


def test_image_path_tsv_without_image_column(tmp_path):
    Image.new("RGB", (4, 4), COLORS["green"]).save(tmp_path / "x.png")
    path = write_tsv(tmp_path / "local.tsv", [{"index": 1, "question": "q", "image_path": "x.png"}])
    table = TsvTable.load(path, image_root=tmp_path)
    assert colour(table.image_refs(0)[0]) == COLORS["green"]


def test_missing_columns_name_the_file_and_what_it_has(tmp_path):
    path = write_tsv(tmp_path / "bad.tsv", [{"index": 1, "prompt": "q", "image": png_b64((1, 2, 3))}])
    with pytest.raises(DataError, match=r"bad.tsv lacks the column\(s\) question, answer \(it has: index, prompt"):
        TsvTable.load(path, required=("index", "question", "answer"))


def test_reference_to_a_missing_row(tmp_path):
    path = write_tsv(tmp_path / "r.tsv", [{"index": 1, "question": "q", "image": "99"}])
    with pytest.raises(DataError, match=r"r\.tsv index 1: the image cell '99' names no row"):
        TsvTable.load(path)


def test_undecodable_image_names_the_row_when_loaded(tmp_path):
    bad = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20).decode()
    path = write_tsv(tmp_path / "u.tsv", [{"index": 7, "question": "q", "image": bad}])
    table = TsvTable.load(path)  # indexing never decodes images
    with pytest.raises(DataError, match=r"cannot decode image u\.tsv index 7"):
        table.image_refs(0)[0].load()


def test_truncated_file_is_reported(tmp_path):
    path = write_tsv(tmp_path / "t.tsv", [{"index": 5, "question": "q", "image": png_b64((1, 2, 3), 64)}])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 60])  # the download stopped inside the image
    table = TsvTable.load(path)
    with pytest.raises(DataError, match=r"cannot decode .*image t.tsv index 5"):
        table.image_refs(0)[0].load()


def test_too_many_fields(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("index\tquestion\timage\n1\tq\tabc\textra\n")
    with pytest.raises(DataError, match=r"x\.tsv"):
        TsvTable.load(path)


def test_alpha_is_dropped_like_vlmevalkit():
    buf = io.BytesIO()
    Image.new("RGBA", (2, 2), (10, 20, 30, 0)).save(buf, format="PNG")
    img = decode_vlmeval_image(buf.getvalue(), "x")
    # VLMEvalKit's convert("RGB") keeps the colour under a transparent pixel (no white background)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (10, 20, 30)


def test_checksum_mismatch_names_file_expected_actual_and_fix(tmp_path):
    path = make_mmbench(tmp_path / "MMBench_DEV_EN.tsv", n_questions=1)
    spec = DataFile(name="MMBench_DEV_EN.tsv", url="https://example.invalid/x.tsv", md5="0" * 32)
    files = DataFiles("mmbench_dev_en", [spec], search_dirs=[tmp_path])
    with pytest.raises(ChecksumError) as err:
        files.path("MMBench_DEV_EN.tsv")
    text = str(err.value)
    assert str(path) in text and "0" * 32 in text and file_digest(path, "md5") in text
    assert "ming-eval data download mmbench_dev_en" in text and "--data MMBench_DEV_EN.tsv=PATH" in text


def test_metadata_equals_pandas_reading_the_whole_file(tmp_path):
    """The one-pass reader gives exactly what ``pd.read_csv(path, sep="\\t")`` gives (VLMEvalKit's load),
    on awkward quoting, missing-value strings, numbers, short rows and unicode."""
    path = tmp_path / "awkward.tsv"
    img = png_b64((1, 2, 3))
    path.write_text(
        "index\tquestion\tA\tB\tanswer\timage\n"
        f'1\t"a ""quoted"" word"\tNA\t""\tA\t{img}\n'
        f'2\tab"c\t"tab\there"\t007\tB\t{img}\n'
        f'3\t"multi\nline\tcell"\t-nan\t1e3\tC\t{img}\n'
        f"4\t图中是什么\tnull\t 5 \tD\t{img}\n"
        f"5\tshort row\n",
        encoding="utf-8",
    )
    ours = TsvTable.load(path)
    theirs = pd.read_csv(path, sep="\t")
    theirs = theirs[~pd.isna(theirs["image"])].drop(columns=["image"]).to_dict(orient="records")
    assert len(ours.rows) == len(theirs) == 4 and ours.dropped_no_image == 1
    for mine, ref in zip(ours.rows, theirs, strict=True):
        assert mine.keys() == ref.keys()
        for key in ref:
            assert (pd.isna(mine[key]) and pd.isna(ref[key])) or (
                mine[key] == ref[key] and type(mine[key]) is type(ref[key])
            ), key


def _as_vlmevalkit_reads(path):
    theirs = pd.read_csv(path, sep="\t")
    return theirs[~pd.isna(theirs["image"])].drop(columns=["image"]).to_dict(orient="records")


def test_carriage_return_in_quoted_cell_and_lines_of_spaces_read_as_pandas_reads_them(tmp_path):
    """A quoted cell may hold a lone CR (pandas keeps it in the cell), and pandas skips a line of spaces
    as blank: a row made of it would make the numeric columns float ("1" shown as "1.0" in prompts)."""
    img = png_b64((1, 2, 3))
    path = tmp_path / "cr.tsv"
    path.write_bytes(
        f'index\tquestion\tA\tB\tanswer\timage\r\n1\t"line one\rline two"\t1\t2\t1\t{img}\r\n   \r\n'
        f"2\tq\t3\t4\t2\t{img}\r\n".encode()
    )
    ours = TsvTable.load(path)
    theirs = _as_vlmevalkit_reads(path)
    assert ours.rows == theirs and ours.dropped_no_image == 0
    assert ours.rows[0]["question"] == "line one\rline two" and type(ours.rows[0]["A"]) is int


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("1\tq\rsplit\t{img}\n", "line 2"),  # pandas ends the row at a CR outside quotes
        ('1\tq\t{img}\n2\t"q\t{img}\n', "line 3"),  # the quote is never closed: the file was cut
    ],
)
def test_rows_pandas_would_split_or_refuse_are_errors_naming_the_line(tmp_path, body, where):
    path = tmp_path / "bad.tsv"
    path.write_text("index\tquestion\timage\n" + body.format(img=png_b64((1, 2, 3))), encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad\.tsv.*{where}"):
        TsvTable.load(path)


def test_index_is_reused_until_the_file_changes(tmp_path, monkeypatch):
    rows = [{"index": i, "question": f"q{i}", "image": png_b64(COLORS["red"])} for i in range(3)]
    path = write_tsv(tmp_path / "r.tsv", rows)
    first = TsvTable.load(path)
    parsed = []
    real_read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: parsed.append(1) or real_read_csv(*a, **k))
    again = TsvTable.load(path)  # the stored index: the file is not parsed again
    assert parsed == [] and again.rows == first.rows and colour(again.image_refs(2)[0]) == COLORS["red"]
    rows.append({"index": 3, "question": "q3", "image": png_b64(COLORS["blue"])})
    write_tsv(path, rows)  # the file changed: indexed afresh, with the new row and its image
    changed = TsvTable.load(path)
    assert parsed == [1] and len(changed) == 4 and colour(changed.image_refs(3)[0]) == COLORS["blue"]


def test_a_full_cache_leaves_no_partial_index_behind(tmp_path, monkeypatch):
    import errno
    import pickle

    from ming_eval.data.files import cache_root

    rows = [{"index": i, "question": f"q{i}", "image": png_b64(COLORS["red"])} for i in range(3)]
    path = write_tsv(tmp_path / "r.tsv", rows)

    def full(obj, fh, protocol=None):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full)
    assert len(TsvTable.load(path)) == 3  # the index is only a cache: the table loads all the same
    assert list((cache_root() / "tsv-index").iterdir()) == []
