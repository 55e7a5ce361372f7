"""A folder of DPG-Bench grids, ``<item_id>.png`` per prompt, checked against the question file.

Upstream scores every entry of ``os.listdir`` whose name before the first ``.`` is an item id, and
silently skips what it cannot open as an image (a ``Failed filename`` line). So a stray ``12.jpg``
or ``12.png.bak`` beside ``12.png`` is scored too, and prompt 12 weighs twice in the mean. We
accept exactly one ``<item_id>.png`` per prompt, count the prompts without one, and refuse a folder
with any other entry, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ming_eval.errors import DataError


@dataclass(frozen=True)
class ImageFolder:
    folder: Path
    #: item_id -> its grid, in the question file's order
    images: dict[str, Path]
    #: item ids of the question file without an image, in file order
    missing: tuple[str, ...]


def scan_image_folder(folder: Path, item_ids: Iterable[str]) -> ImageFolder:
    """Match the entries of ``folder`` to the prompts ``item_ids`` (in order; the keys of
    :attr:`DpgQuestions.prompts <ming_eval.tasks.dpg_bench.questions.DpgQuestions.prompts>`); refuse
    any other entry."""
    ids = list(item_ids)
    try:
        names = sorted(entry.name for entry in folder.iterdir())
    except OSError as exc:
        raise DataError(
            f"cannot list the DPG-Bench images folder {folder}: {exc}",
            hint="pass the folder that holds one <item_id>.png per prompt",
        ) from exc
    wanted = {f"{item_id}.png": item_id for item_id in ids}
    extra = [n for n in names if n not in wanted or not (folder / n).is_file()]
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise DataError(
            f"DPG-Bench images folder {folder}: {len(extra)} unexpected entr{'y' if len(extra) == 1 else 'ies'} "
            f"(not <item_id>.png of a prompt): {shown}",
            hint="move them out of the folder (a *.part file is an interrupted write: delete it and re-run); "
            "upstream's scorer would read any name starting with an item id and count that prompt twice",
        )
    present = {wanted[n]: folder / n for n in names}
    return ImageFolder(
        folder=folder,
        images={i: present[i] for i in ids if i in present},
        missing=tuple(i for i in ids if i not in present),
    )
