"""GEdit-Bench test helpers: the dataset writer (ming_eval.testing.fixtures.gedit) and a stand-in for
the pinned prompt source.
``STANDIN_PROMPTS`` has the variable names of Step1X-Edit's ``viescore/vie_prompts.py`` with made-up
wording of this project's (no upstream text).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ming_eval.testing.fixtures.gedit import png, rows, write_dataset

__all__ = ["STANDIN_PROMPTS", "png", "rows", "write_dataset", "write_standin"]

STANDIN_PROMPTS = '''# stand-in (made-up wording)

_context_no_delimit = """STAND-IN CONTEXT. Answer as JSON with a score list and a reason."""

_prompts_0shot_two_image_edit_rule = """STAND-IN RULES: source first, edit second."""

_prompts_0shot_tie_rule_SC = """
Rate following and over-editing, 0-10 each.

Instruction: <instruction>
"""

_prompts_0shot_rule_PQ = """STAND-IN QUALITY: rate naturalness and artifacts, 0-10 each."""
'''


def write_standin(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STANDIN_PROMPTS, encoding="utf-8")
    return hashlib.sha256(path.read_bytes()).hexdigest()
