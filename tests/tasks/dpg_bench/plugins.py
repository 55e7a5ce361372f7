"""Test-only pieces for DPG-Bench runs: a yes/no VQA grader and the cards that put it to work.

``YesNoGrader`` is an understand model that answers every question with "yes" or "no", decided by the
question's text and the dominant colour of the image it is shown (:func:`rule_answer`), so a test
knows every answer in advance from the images on disk. Options make it answer one fixed text, or fail
(an outage). ``write_dpg_cards`` writes, on a card path, a ``dpg_bench`` card that is the real one
with the generated CSV's git blob id, the grader card ``yesno-grader`` and the generator ``pixel``
(``tests.engine_plugins.PixelModel``: solid 8x8 images whose colour depends on prompt and seed).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, UnderstandRequest
from ming_eval.data.files import GIT_BLOB_SHA1, file_digest
from tests.engine_plugins import write_model_card
from tests.tasks.dpg_bench.fixtures import FixturePrompt, write_csv

REPO_ROOT = Path(__file__).resolve().parents[3]


def rule_answer(image: Image.Image, question: str) -> str:
    """'no' when the question's crc32 plus the image's dominant channel (0 R, 1 G, 2 B) is a multiple
    of 3, else 'yes'."""
    channel = int(np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)).argmax())
    return "no" if (zlib.crc32(question.encode("utf-8")) + channel) % 3 == 0 else "yes"


class YesNoOptions(BaseModel):
    model_config = {"extra": "forbid"}
    #: answer every question with this text (None: :func:`rule_answer`)
    answer: str | None = None
    #: raise on every batch (a grader that is down)
    fail: bool = False


class YesNoGrader(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = YesNoOptions
    batch_sizes: ClassVar[list[int]] = []

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        opts = self.options
        assert isinstance(opts, YesNoOptions)
        type(self).batch_sizes.append(len(requests))
        if opts.fail:
            raise ConnectionError("VQA server unreachable (simulated)")
        if opts.answer is not None:
            return [opts.answer for _ in requests]
        return [rule_answer(r.images[0].load(), r.text) for r in requests]


def write_grader_card(root: Path, *, answer: str | None = None, fail: bool = False, batch: int = 64) -> None:
    options: dict[str, object] = {"fail": fail}
    if answer is not None:
        options["answer"] = answer
    write_model_card(
        root,
        "yesno-grader",
        "tests.tasks.dpg_bench.plugins:YesNoGrader",
        ["understand"],
        options=options,
        batch_size={"understand": batch},
        protocol={"understand": {"max_new_tokens": 4}},
    )


def write_dpg_cards(root: Path, cache: Path, prompts: list[FixturePrompt]) -> Path:
    """The cards on ``root``; the CSV of ``prompts`` in the cache folder ``cache``; returns the CSV."""
    csv_path = write_csv(prompts, _mkdir(cache / "data" / "dpg_bench") / "dpg_bench.csv")
    card = yaml.safe_load((REPO_ROOT / "tasks" / "dpg_bench.yaml").read_text(encoding="utf-8"))
    card["data"][0]["git_blob_sha1"] = file_digest(csv_path, GIT_BLOB_SHA1)
    card["options"] = {**card.get("options", {}), "grader": "yesno-grader"}
    (_mkdir(root / "tasks") / "dpg_bench.yaml").write_text(yaml.safe_dump(card))
    write_grader_card(root)
    write_model_card(
        root,
        "pixel",
        "tests.engine_plugins:PixelModel",
        ["understand", "generate"],
        batch_size={"understand": 4, "generate": 2},
        protocol={"generate": {"height": 8, "width": 8, "seed": 7}},
        tasks={"dpg_bench": {"generate": {"images_per_prompt": 4}}},
    )
    return csv_path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
