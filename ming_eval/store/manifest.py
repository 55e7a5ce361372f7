"""The run manifest: what was run, with what, where, and when — never a secret.

``manifest.json`` holds the resolved model card and checkpoint, every task's resolved card, options,
protocol, seed and data checksums (together: the run's *configuration*, compared on resume), plus one
entry per invocation (argv, host, GPUs, package versions, git revision, start and end). Its schema is
:class:`RunManifest`; the run store validates it on every read.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ming_eval.redaction import redact_text

FORMAT = "ming-eval-run/1"

VERSIONED_PACKAGES = (
    "ming-eval",
    "torch",
    "torchvision",
    "transformers",
    "diffusers",
    "accelerate",
    "numpy",
    "pandas",
    "pillow",
    "huggingface_hub",
    "safetensors",
    "open_clip_torch",
    "openai",
    "mmdet",
    "mmcv",
    "mmengine",
)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Python's and the installed :data:`VERSIONED_PACKAGES`' versions (looked up once per state of the
    environment: :mod:`ming_eval.installed`)."""
    from ming_eval import installed

    return {"python": platform.python_version(), **installed.package_versions(VERSIONED_PACKAGES)}


def git_revision(path: Path) -> dict[str, Any] | None:
    """The git commit (and whether the tree is dirty) of the checkout holding ``path``, if any."""
    if not (path / ".git").exists():
        return None
    try:
        rev = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return {"commit": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return None


def gpu_info() -> list[dict[str, Any]]:
    """GPUs as torch sees them, only if torch is already imported (a model ran)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    gpus = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        gpus.append({"index": i, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)})
    return gpus


def host_info(world_size: int) -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "world_size": world_size,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def config_differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON-like configurations."""
    if isinstance(old, dict) and isinstance(new, dict):
        diffs: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                diffs.append(f"{sub}: added ({_short(new[key])})")
            elif key not in new:
                diffs.append(f"{sub}: removed (was {_short(old[key])})")
            else:
                diffs.extend(config_differences(old[key], new[key], sub))
        return diffs
    if old != new:
        return [f"{path}: {_short(old)} -> {_short(new)}"]
    return []


def _short(value: Any) -> str:
    text = redact_text(repr(value))  # before cutting: a cut URL would hide what to redact
    return text if len(text) <= 60 else text[:57] + "..."


# -- the manifest's schema -----------------------------------------------------------------------
# Read back exactly as written: every model dumps only the keys it was given or assigned
# (``exclude_unset``), so a manifest an older ming-eval wrote is rewritten with the same keys, and
# unknown keys (a newer ming-eval's) are kept.


class ManifestPart(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON object as stored in ``manifest.json``."""
        return self.model_dump(mode="json", exclude_unset=True)


class ModelConfig(ManifestPart):
    """The model a run used: its resolved card (secrets redacted) and checkpoint."""

    card: dict[str, Any]
    checkpoint: str | None = None
    #: ``score --images``: the folder the outputs were imported from
    source: str | None = None


class TaskConfig(ManifestPart):
    """One task's configuration in a run; a resume must match it (:func:`config_differences`)."""

    model: ModelConfig
    task: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)
    protocol: dict[str, Any]
    #: the protocol fields ``--protocol`` set for this run (absent when none)
    protocol_overrides: dict[str, Any] | None = None
    seed: int = 0


class GitRevision(ManifestPart):
    commit: str
    dirty: bool


class Invocation(ManifestPart):
    """One command run on the directory (``run``, ``score``, ``score-external``) and how it ended."""

    command: str
    start: str
    end: str | None = None
    #: ``running``, ``finished`` or ``failed: <error>``
    status: str = "running"
    argv: list[str] = Field(default_factory=list)
    host: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    git: GitRevision | None = None
    # ``run`` only: its tasks, --limit, and the configuration differences --force accepted
    tasks: list[str] | None = None
    limit: int | None = None
    forced_differences: list[str] | None = None
    #: set when the command ends
    gpus: list[dict[str, Any]] | None = None


class RunManifest(ManifestPart):
    """``manifest.json``: the run's configuration (model and per-task), limits and invocations."""

    format: str
    created: str
    tasks: dict[str, TaskConfig]
    invocations: list[Invocation]
    model: ModelConfig
    #: ``--limit`` per task (None: all samples)
    limits: dict[str, int | None] = Field(default_factory=dict)
