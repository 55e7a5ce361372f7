"""GEdit-Bench test data in the real on-disk format, and a stand-in for the pinned prompt source.

``write_dataset`` writes a parquet file with the dataset's columns (``task_type``, ``key``,
``instruction``, ``instruction_language``, ``input_image`` / ``input_image_raw`` as the ``datasets``
Image feature stores them: a struct of bytes and path, ``Intersection_exist``), images generated here.
``STANDIN_PROMPTS`` has the variable names of Step1X-Edit's ``viescore/vie_prompts.py`` with made-up
wording of this project's (no upstream text).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from ming_eval.tasks.gedit.data import GROUPS

STANDIN_PROMPTS = '''# stand-in (made-up wording)

_context_no_delimit = """STAND-IN CONTEXT. Answer as JSON with a score list and a reason."""

_prompts_0shot_two_image_edit_rule = """STAND-IN RULES: source first, edit second."""

_prompts_0shot_tie_rule_SC = """
Rate following and over-editing, 0-10 each.

Instruction: <instruction>
"""

_prompts_0shot_rule_PQ = """STAND-IN QUALITY: rate naturalness and artifacts, 0-10 each."""
'''


def png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def rows(per_group: int = 2, languages: tuple[str, ...] = ("en", "cn")) -> list[dict]:
    out = []
    for gi, group in enumerate(GROUPS):
        for k in range(per_group):
            for lang in languages:
                key = f"{gi:02d}{k:02d}"
                image = png((20 * gi % 256, 40 * k % 256, 90), (24 + 8 * k, 16))
                out.append(
                    {
                        "task_type": group,
                        "key": key,
                        "instruction": f"make {group} number {k}" if lang == "en" else f"把{group}改成{k}号",
                        "instruction_language": lang,
                        "input_image": {"bytes": image, "path": f"{key}.png"},
                        "input_image_raw": {"bytes": image, "path": f"{key}_raw.png"},
                        "Intersection_exist": k % 2 == 0,
                    }
                )
    return out


def write_dataset(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema(
        [
            ("task_type", pa.string()),
            ("key", pa.string()),
            ("instruction", pa.string()),
            ("instruction_language", pa.string()),
            ("input_image", image),
            ("input_image_raw", image),
            ("Intersection_exist", pa.bool_()),
        ]
    )
    path = folder / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)
    return folder


def write_standin(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STANDIN_PROMPTS, encoding="utf-8")
    return hashlib.sha256(path.read_bytes()).hexdigest()
