from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ming_eval.errors import DataError, MingEvalError
from ming_eval.tasks.dpg_bench.grid import grid_size, make_grid, split_grid, tile_boxes, write_grid


def _tiles(n: int, side: int = 16) -> list[Image.Image]:
    return [Image.new("RGB", (side, side), (40 * (i + 1), 7, 200 - i)) for i in range(n)]


def test_four_tiles_sit_in_upstreams_crop_order() -> None:
    grid = make_grid(_tiles(4), item_id="p1")

    assert grid.size == (32, 32)
    # upstream crops top-left, top-right, bottom-left, bottom-right
    assert [grid.getpixel(xy) for xy in [(0, 0), (16, 0), (0, 16), (16, 16)]] == [
        (40, 7, 200),
        (80, 7, 199),
        (120, 7, 198),
        (160, 7, 197),
    ]
    assert tile_boxes(512, 4) == [(0, 0, 512, 512), (512, 0, 1024, 512), (0, 512, 512, 1024), (512, 512, 1024, 1024)]


@pytest.mark.parametrize(("n", "size"), [(1, (16, 16)), (2, (32, 16)), (3, (32, 32)), (4, (32, 32))])
def test_grid_round_trips_through_a_png(tmp_path: Path, n: int, size: tuple[int, int]) -> None:
    tiles = _tiles(n)
    path = tmp_path / "p1.png"

    write_grid(path, tiles, item_id="p1")
    back = split_grid(path, resolution=16, tiles=n)

    assert Image.open(path).size == size == grid_size(16, n)
    assert [t.tobytes() for t in back] == [t.tobytes() for t in tiles]
    assert [p.name for p in tmp_path.iterdir()] == ["p1.png"]  # no .part file left behind


def test_three_tiles_leave_the_unread_quarter_black() -> None:
    grid = make_grid(_tiles(3), item_id="p1")

    assert grid.getpixel((20, 20)) == (0, 0, 0)


def test_tiles_come_back_as_rgb_from_any_mode(tmp_path: Path) -> None:
    rgba = [Image.new("RGBA", (8, 8), (10, 20, 30, 128)) for _ in range(4)]
    path = tmp_path / "p1.png"
    Image.new("RGBA", (16, 16), (10, 20, 30, 128)).save(path)

    tiles = split_grid(path, resolution=8, tiles=4)

    assert {t.mode for t in tiles} == {"RGB"}
    assert tiles[3].getpixel((0, 0)) == (10, 20, 30)  # alpha dropped, as convert("RGB") does
    assert make_grid(rgba, item_id="p1").getpixel((9, 9)) == (10, 20, 30)


def test_a_grid_of_the_wrong_size_names_the_file_and_the_expected_size(tmp_path: Path) -> None:
    path = tmp_path / "p1.png"
    write_grid(path, _tiles(4, side=16), item_id="p1")

    with pytest.raises(DataError, match=r"p1.png is 32x32; 4 tile\(s\) of 512 px need a 1024x1024 grid"):
        split_grid(path, resolution=512, tiles=4)
    with pytest.raises(DataError, match=r"is 32x32; 2 tile\(s\) of 16 px need a 32x16 grid"):
        split_grid(path, resolution=16, tiles=2)


def test_missing_and_corrupt_images_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "p2.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n truncated")

    with pytest.raises(DataError, match=r"p1.png does not exist"):
        split_grid(tmp_path / "p1.png", resolution=16, tiles=4)
    with pytest.raises(DataError, match=r"cannot decode DPG-Bench image .*p2.png"):
        split_grid(corrupt, resolution=16, tiles=4)


def test_truncated_png_is_caught_at_load(tmp_path: Path) -> None:
    path = tmp_path / "p1.png"
    write_grid(path, _tiles(4), item_id="p1")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(DataError, match="cannot decode"):
        split_grid(path, resolution=16, tiles=4)


def test_images_of_unequal_or_non_square_sizes_cannot_be_tiled() -> None:
    with pytest.raises(DataError, match=r"item p1: images of 16x16, 17x17; the grid needs equal square tiles"):
        make_grid([*_tiles(3), Image.new("RGB", (17, 17))], item_id="p1")
    with pytest.raises(DataError, match=r"images of 16x8"):
        make_grid([Image.new("RGB", (16, 8))], item_id="p1")


@pytest.mark.parametrize("n", [0, 5])
def test_tile_counts_outside_one_to_four_are_refused(n: int) -> None:
    with pytest.raises(MingEvalError, match=f"1 to 4 images per prompt, not {n}"):
        tile_boxes(16, n)
    with pytest.raises(MingEvalError):
        make_grid(_tiles(n), item_id="p1")
