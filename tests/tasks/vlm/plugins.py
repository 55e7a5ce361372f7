"""A test-only "VLM" for the understanding suites: it looks at the first image's colour and answers
in the way the prompt asks, so scores on the generated fixtures are known in advance.

* multiple choice (an ``X. text`` option list in the prompt): the letter of the option naming the
  image's colour, or, every ``vague_every``-th answer, one no heuristic can map;
* yes/no questions ("Is the image red?"): Yes or No;
* anything else: the colour name.

``empty_on`` makes outputs empty for prompts containing that text, ``fail_on`` raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml
from pydantic import BaseModel

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability, UnderstandRequest
from ming_eval.testing.fixtures.vlm import COLORS
from ming_eval.testing.registry import register_tiny_model

_OPTION = re.compile(r"^\(?([A-I])[.)]\s*(.+?)\s*$", re.M)


class ColourOptions(BaseModel):
    model_config = {"extra": "forbid"}
    vague_every: int = 0  # every n-th multiple-choice answer is vague (needs the judge)
    empty_on: str | None = None
    fail_on: str | None = None


def dominant_colour(request: UnderstandRequest) -> str:
    if not request.images:
        return "none"
    arr = np.asarray(request.images[0].load(), dtype=np.float32).mean(axis=(0, 1))
    return min(COLORS, key=lambda name: float(np.abs(np.asarray(COLORS[name]) - arr).sum()))


class ColourVlm(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    Options = ColourOptions
    seen: ClassVar[list[UnderstandRequest]] = []
    batch_sizes: ClassVar[list[int]] = []

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        opts = self.options
        assert isinstance(opts, ColourOptions)
        type(self).batch_sizes.append(len(requests))
        out = []
        for r in requests:
            type(self).seen.append(r)
            text = r.text
            if opts.fail_on and opts.fail_on in text:
                raise ValueError(f"cannot answer {text[:40]!r}")
            if opts.empty_on and opts.empty_on in text:
                out.append("")
                continue
            out.append(self._answer(r, text, opts, len(type(self).seen)))
        return out

    def _answer(self, r: UnderstandRequest, text: str, opts: ColourOptions, n: int) -> str:
        colour = dominant_colour(r)
        options = dict(_OPTION.findall(text))
        if options:
            if opts.vague_every and n % opts.vague_every == 0:
                return "I am not sure, perhaps the third one or so."
            return next((k for k, v in options.items() if v == colour), "none of these")
        asked = re.search(r"Is the image (\w+)\?", text)
        if asked:
            return "Yes" if asked.group(1) == colour else "No"
        return colour


def _tiny(folder: Path) -> dict[str, Any]:
    """The self-test's "tiny checkpoint" of the colour model: nothing to load."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"checkpoint": str(folder)}


register_tiny_model(ColourVlm, _tiny)


def write_model_card(
    root: Path, name: str = "colourvlm", protocol: dict[str, Any] | None = None, **options: Any
) -> Path:
    (root / "model_zoo").mkdir(parents=True, exist_ok=True)
    (root / "model_zoo" / f"{name}.yaml").write_text(
        yaml.safe_dump(
            {
                "name": name,
                "class": "tests.tasks.vlm.plugins:ColourVlm",
                "capabilities": ["understand"],
                "checkpoint": "none",
                "dtype": "float32",
                "options": options,
                "batch_size": {"understand": 4},
                "protocol": {"understand": {"max_new_tokens": 16, **(protocol or {})}},
            }
        )
    )
    return root
