from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.dpg_bench.folder import scan_image_folder
from ming_eval.tasks.dpg_bench.questions import DpgQuestions, read_dpg_questions
from tests.tasks.dpg_bench.fixtures import MAIN_PROMPTS, write_csv


@pytest.fixture
def questions(tmp_path: Path) -> DpgQuestions:
    return read_dpg_questions(write_csv(MAIN_PROMPTS, tmp_path / "dpg_bench.csv"))


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"png")
    return folder


def test_images_are_matched_and_missing_prompts_counted_in_file_order(tmp_path: Path, questions: DpgQuestions) -> None:
    folder = _folder(tmp_path, "whoops2.png", "12.png", "countbench3.png")

    scanned = scan_image_folder(folder, questions.prompts)

    assert list(scanned.images) == ["12", "countbench3", "whoops2"]
    assert scanned.images["12"] == folder / "12.png"
    assert scanned.missing == ("7", "midjourney5", "partiprompts97", "vrd4")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("12.png", "12.jpg"), r"1 unexpected entry \(not <item_id>.png of a prompt\): 12.jpg"),
        (("12.png", "12.png.part", "notes.txt"), r"2 unexpected entries .*: 12.png.part, notes.txt"),
        (("99.png",), r"99.png"),
        (tuple(f"x{i}.png" for i in range(7)), r"x0.png, x1.png, x2.png, x3.png, x4.png and 2 more"),
    ],
)
def test_extra_entries_are_refused_by_name(
    tmp_path: Path, questions: DpgQuestions, names: tuple[str, ...], message: str
) -> None:
    folder = _folder(tmp_path, *names)

    with pytest.raises(DataError, match=message) as info:
        scan_image_folder(folder, questions.prompts)
    assert str(folder) in info.value.message


def test_a_directory_named_like_an_image_is_an_extra_entry(tmp_path: Path, questions: DpgQuestions) -> None:
    folder = _folder(tmp_path)
    (folder / "7.png").mkdir()

    with pytest.raises(DataError, match=r"7.png"):
        scan_image_folder(folder, questions.prompts)


def test_a_folder_that_does_not_exist_is_a_data_error(tmp_path: Path, questions: DpgQuestions) -> None:
    with pytest.raises(DataError, match=r"cannot list the DPG-Bench images folder .*nowhere"):
        scan_image_folder(tmp_path / "nowhere", questions.prompts)
