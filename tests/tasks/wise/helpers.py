"""Generated WISE data in upstream's formats, stand-ins for upstream's judge scripts, a fake judge.

The stand-in scripts are ours (not upstream's text): a ``build_evaluation_messages`` of the same shape
as upstream's (a system message with one sentence, a user message with an f-string over
``prompt_data['Prompt']`` / ``['Explanation']`` and the image as a PNG data URL), so the task reads its
judge prompt from them exactly as it reads upstream's pinned file.
"""

from __future__ import annotations

import base64
import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from ming_eval.data.files import file_digest
from ming_eval.tasks.wise.protocol import LEGACY, VERIFIED
from ming_eval.testing.fixtures.wise import write_prompts

STANDIN_SYSTEM = "You grade generated pictures for a test."
STANDIN_USER = 'Grade the picture.\nPROMPT: "{p}"\nEXPLANATION: "{e}"\nAnswer in the usual format.'

SUFFIX = {"legacy": "", "rewritten": "_rewrite", "verified": "_verified"}


def write_standin_script(path: Path) -> Path:
    """A judge script of upstream's shape with our own text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(
            '''\
            def build_evaluation_messages(prompt_data, image_base64):
                return [
                    {"role": "system", "content": [{"type": "text", "text": "%s"}]},
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "text",
                                "text": f"""Grade the picture.
            PROMPT: "{prompt_data['Prompt']}"
            EXPLANATION: "{prompt_data['Explanation']}"
            Answer in the usual format.""",
                            },
                            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image_base64}"}},
                        ],
                    },
                ]
            '''
        )
        % STANDIN_SYSTEM,
        encoding="utf-8",
    )
    return path


def write_task_card(root: Path, cache: Path, name: str, kind: str, ids: list[int], judge: dict[str, Any]) -> Path:
    """A WISE task card (legacy or verified) on generated prompts, its files in the cache."""
    data = cache / "data" / name
    files = write_prompts(data, VERIFIED if kind == "verified" else LEGACY, ids, SUFFIX[kind])
    script = write_standin_script(data / ("vllm_eval.py" if kind == "verified" else "gpt_eval.py"))
    files[script.name] = script
    card = {
        "name": name,
        "class": "ming_eval.tasks.wise.task:WiseTask",
        "capability": "generate",
        "data": [{"name": n, "sha256": file_digest(p, "sha256")} for n, p in files.items()],
        "options": {
            "version": "verified" if kind == "verified" else "legacy",
            "prompt_set": "rewritten" if kind == "rewritten" else "original",
            "judge": judge,
        },
    }
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    path = root / "tasks" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(card), encoding="utf-8")
    return path


def request_image(body: dict[str, Any]) -> Image.Image:
    """The image of a judge request (its one data URL)."""
    parts = body["messages"][-1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    assert len(urls) == 1 and urls[0].startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1]))).convert("RGB")


def dominant(img: Image.Image) -> int:
    """0, 1, 2 for a mostly red, green, blue image."""
    return int(np.asarray(img, dtype=np.float64).mean(axis=(0, 1)).argmax())


def expected_request_text(prompt: str, explanation: str) -> str:
    return STANDIN_USER.format(p=prompt, e=explanation)
