from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.data.files import GIT_BLOB_SHA1, DataFiles, cached_digest, file_digest
from ming_eval.errors import ChecksumError, DataError
from ming_eval.tasks.dpg_bench.questions import COLUMNS, read_dpg_questions
from tests.tasks.dpg_bench.fixtures import MAIN_PROMPTS, csv_text, write_csv

HEADER = ",".join(COLUMNS)


def _csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "dpg_bench.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _row(item: str = "p1", pid: str = "1", dep: str = "0", tup: str = "entity - whole (cat)", q: str = "A cat?") -> str:
    return f'{item},"A cat, sleeping.",cat,{pid},"{dep}",entity,whole,"{tup}",{q}'


def test_reads_prompts_in_file_order_with_their_question_graphs(tmp_path: Path) -> None:
    questions = read_dpg_questions(write_csv(MAIN_PROMPTS, tmp_path / "dpg_bench.csv"))

    assert list(questions.prompts) == ["12", "7", "countbench3", "midjourney5", "partiprompts97", "vrd4", "whoops2"]
    assert questions.n_questions == 25
    cat = questions.prompts["12"]
    assert cat.text == 'A black cat sleeping on a "cozy" sofa, in a photo.'
    on_sofa = cat.by_id()[5]
    assert on_sofa.parents == (2, 4)
    assert on_sofa.real_parents == (2, 4)
    assert on_sofa.category == "relation - spatial"
    assert on_sofa.l1_category == "relation"
    assert on_sofa.question == "Is the cat on the sofa?"
    assert questions.prompts["7"].by_id()[2].parents == (3,)  # the later parent is kept as written
    # "1, 2" with a space, and a prompt text spanning two lines of the file
    lighthouse = questions.prompts["midjourney5"]
    assert lighthouse.by_id()[3].parents == (1, 2)
    assert lighthouse.text == "A lighthouse,\nat dusk, beside a boat."
    # the first data row is read (only the upstream scoring ignores it)
    assert questions.first_row.item_id == "12"
    assert questions.first_row.proposition_id == 1
    assert questions.first_row.row == 0
    assert questions.first_row.line == 2
    # line numbers count physical lines: each of midjourney5's four rows spans two
    rows_after = questions.prompts["partiprompts97"].questions[0]
    assert (rows_after.row, rows_after.line) == (19, 19 + 2 + 4)


def test_global_category_without_detail_has_itself_as_l1(tmp_path: Path) -> None:
    questions = read_dpg_questions(write_csv(MAIN_PROMPTS, tmp_path / "d.csv"))
    photo = questions.first_row

    assert photo.category == "global -"
    assert photo.l1_category == "global"
    assert photo.real_parents == ()


def test_utf8_bom_and_blank_lines_are_accepted_as_pandas_accepts_them(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n" + _row() + "\n\n" + _row(pid="2", dep="1") + "\n").encode())

    questions = read_dpg_questions(path)

    assert [q.proposition_id for q in questions.prompts["p1"].questions] == [1, 2]
    assert questions.prompts["p1"].questions[1].row == 1
    assert questions.prompts["p1"].questions[1].line == 4


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((_row(), _row(pid="2", dep="1,3")), r"line 3: item p1 question 2 depends on 3, which item p1 does not have"),
        ((_row(), _row(pid="x")), r"line 3: proposition_id 'x' is not an integer"),
        ((_row(pid="0"),), r"line 2: proposition_id 0 must be 1 or more"),
        ((_row(), _row(pid="2", dep="1;2")), r"line 3: dependency entry '1;2' is not an integer"),
        ((_row(), _row(pid="2", dep="")), r"line 3: empty dependency"),
        ((_row(), _row(pid="2", dep="-1")), r"line 3: dependency '-1' has a negative id"),
        ((_row(), _row()), r"line 3: item p1 repeats proposition_id 1"),
        ((_row(), _row(item="p2"), _row(item="p1", pid="2")), r"line 4: the rows of item p1 are not consecutive"),
        ((_row(item="p.1"),), r"line 2: item_id 'p.1' cannot name an image"),
        ((_row(tup=""),), r"line 2: empty tuple"),
        ((_row(q=""),), r"line 2: empty question_natural_language"),
        ((_row() + ",extra",), r"line 2: 10 fields, the header has 9"),
        ((), r"has a header but no questions"),
    ],
)
def test_malformed_rows_are_refused_naming_file_and_line(tmp_path: Path, rows: tuple[str, ...], message: str) -> None:
    path = _csv(tmp_path, *rows)

    with pytest.raises(DataError, match=message) as info:
        read_dpg_questions(path)
    assert str(path) in info.value.message


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, "p1,t,k,1,0,entity,whole,Is there a cat?", header=HEADER.replace(",tuple", ""))

    with pytest.raises(DataError, match=r"lacks column\(s\) tuple") as info:
        read_dpg_questions(path)
    assert str(path) in info.value.message


def test_empty_missing_and_binary_files_are_data_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(HEADER.encode() + b"\n\xff\xfe\x00,1\n")

    with pytest.raises(DataError, match="is empty"):
        read_dpg_questions(empty)
    with pytest.raises(DataError, match="cannot read DPG-Bench questions"):
        read_dpg_questions(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        read_dpg_questions(binary)


def test_git_blob_id_is_the_one_git_prints(tmp_path: Path) -> None:
    # `printf 'hello\n' | git hash-object --stdin` and `git hash-object /dev/null`
    hello = tmp_path / "hello"
    hello.write_bytes(b"hello\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")

    assert file_digest(hello, GIT_BLOB_SHA1) == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert file_digest(empty, GIT_BLOB_SHA1) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert cached_digest(hello, GIT_BLOB_SHA1) == "ce013625030ba8dba906f756967f9e9ca394464a"


def _card_files(tmp_path: Path, overrides: dict[str, Path] | None = None) -> DataFiles:
    from ming_eval.registry import get_task_card

    return DataFiles("dpg_bench", get_task_card("dpg_bench").data, cache_dir=tmp_path, overrides=overrides)


def test_the_card_pins_ellas_csv_by_its_git_blob_id(tmp_path: Path) -> None:
    spec = _card_files(tmp_path).spec("dpg_bench.csv")
    assert spec.git_blob_sha1 == "98457fc9901943f51ff9a30367250fc292533bed"
    assert spec.url is not None and "/3c228f1dc6c4d3cad0a47493816151a419f14db3/dpg_bench/dpg_bench.csv" in spec.url


def test_a_csv_with_another_blob_id_is_refused_saying_how_to_get_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / "dpg_bench.csv"
    path.write_text(csv_text(MAIN_PROMPTS))

    with pytest.raises(ChecksumError, match="git-blob-sha1 mismatch") as info:
        _card_files(tmp_path).path("dpg_bench.csv")
    assert str(path) in info.value.message
    assert info.value.hint is not None and "ming-eval data download dpg_bench" in info.value.hint
    # the same check through --data: a file given by hand is verified too
    with pytest.raises(ChecksumError):
        _card_files(tmp_path / "cache", overrides={"dpg_bench.csv": path}).path("dpg_bench.csv")


def test_offline_without_the_csv_says_how_to_place_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="offline mode is on") as info:
        _card_files(tmp_path).path("dpg_bench.csv")
    assert info.value.hint is not None and "ming-eval data download dpg_bench" in info.value.hint
