"""GenEval's folder layout: write it during generation, read it from any tool.

::

    <images>/<index:05d>/metadata.jsonl     the prompt's metadata line, as one JSON object
    <images>/<index:05d>/samples/<k:04d>.png

GenEval's evaluator reads every folder whose name is all digits and every sample matching
``\\d+\\.png`` in it, and silently skips anything else (``.jpg`` files, oddly named folders, missing
images). :func:`scan_folder` reads the same layout but reports all of that: problems that would make
scores wrong are errors; missing prompts, missing images, non-PNG or corrupt sample files make the
folder incomplete, which is an error unless the user allows an incomplete result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.errors import DataError
from ming_eval.store.jsonl import atomic_path
from ming_eval.tasks.geneval.images import check_png
from ming_eval.tasks.geneval.metadata import PromptMeta, differing_keys, read_folder_metadata

PROMPT_FOLDER = re.compile(r"[0-9]+")
SAMPLE_FILE = re.compile(r"[0-9]+\.png")
#: what upstream's ``re.match(r"\d+\.png", name)`` accepts (anchored at the start only)
UPSTREAM_SAMPLE = re.compile(r"\d+\.png")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def sample_relpath(sample_id: str, k: int) -> str:
    return f"{sample_id}/samples/{k:04d}.png"


def write_prompt_metadata(images_root: Path, sample_id: str, metadata: dict[str, Any]) -> Path:
    """Write ``<sample_id>/metadata.jsonl`` as GenEval's script does (``json.dump``, no newline)."""
    folder = images_root / sample_id
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    path = folder / "metadata.jsonl"
    text = json.dumps(metadata)
    if path.is_file() and path.read_bytes() == text.encode():  # bytes: a damaged file is rewritten, not a crash
        return path
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


@dataclass
class FolderScan:
    """What :func:`scan_folder` found. ``images`` maps a prompt index to its usable sample files."""

    source: Path
    expected_images: int
    images: dict[int, list[Path]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_prompts: list[int] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.images.values())


#: the top-level metadata keys GenEval's evaluator reads
GENEVAL_READS = frozenset({"tag", "include", "exclude", "prompt"})


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _scan_samples(folder: Path, root: Path, scan: FolderScan) -> list[Path]:
    samples_dir = folder / "samples"
    if not samples_dir.is_dir():
        scan.incomplete.append(f"{_rel(samples_dir, root)} is missing")
        return []
    usable: list[Path] = []
    for entry in sorted(samples_dir.iterdir()):
        rel = _rel(entry, root)
        if entry.is_dir():
            scan.warnings.append(f"{rel}/ ignored (a folder inside samples/)")
            continue
        if SAMPLE_FILE.fullmatch(entry.name):
            check = check_png(entry)
            if check.error:
                scan.incomplete.append(f"{rel}: {check.error}")
                continue
            if check.warning:
                scan.warnings.append(f"{rel}: {check.warning}")
            usable.append(entry)
        elif entry.suffix.lower() in IMAGE_SUFFIXES or UPSTREAM_SAMPLE.match(entry.name):
            scan.incomplete.append(
                f"{rel}: not a GenEval sample (GenEval reads only files named <digits>.png and would skip it silently)"
            )
        else:
            scan.warnings.append(f"{rel} ignored (not an image)")
    usable.sort(key=lambda p: (int(p.stem), p.name))
    return usable


def scan_folder(
    source: Path,
    prompts: Sequence[PromptMeta],
    expected_images: int,
    *,
    ignore_prompt_text: bool = False,
) -> FolderScan:
    """Read a folder in GenEval's layout against the prompt set ``prompts`` (by line index).

    ``ignore_prompt_text``: accept a folder whose metadata differs from the prompt set only in
    ``prompt`` (rewritten-prompt runs: some tools store the rewritten prompt, others the original).
    """
    if not source.is_dir():
        raise DataError(f"{source} is not a folder", hint="pass the folder holding 00000/, 00001/, ...")
    source = source.resolve()  # image paths are stored and compared absolute, whatever the working directory
    scan = FolderScan(source, expected_images)
    seen: dict[int, str] = {}
    for entry in sorted(source.iterdir()):
        if not entry.is_dir():
            scan.warnings.append(f"{entry.name} ignored (GenEval reads only prompt folders)")
            continue
        if not PROMPT_FOLDER.fullmatch(entry.name):
            if (entry / "metadata.jsonl").exists() or (entry / "samples").is_dir():
                scan.errors.append(
                    f"{entry.name}/ looks like a prompt folder but its name is not all digits (GenEval would "
                    "skip it silently); rename it to the prompt's 5-digit line index"
                )
            else:
                scan.warnings.append(f"{entry.name}/ ignored (name is not all digits)")
            continue
        index = int(entry.name)
        if index in seen:
            scan.errors.append(f"{entry.name}/ and {seen[index]}/ are the same prompt {index}")
            continue
        seen[index] = entry.name
        if index >= len(prompts):
            scan.errors.append(f"{entry.name}/: the prompt set has no line {index + 1} (it has {len(prompts)})")
            continue
        meta_path = entry / "metadata.jsonl"
        try:
            found = read_folder_metadata(meta_path)
        except DataError as exc:
            scan.errors.append(exc.message)
            continue
        expected = prompts[index]
        # keys GenEval's evaluator never reads (a CoT pipeline's ``cot``, ``final_prompt``...) are ignored, as there
        unread = sorted(k for k in found if k not in expected.raw and k not in GENEVAL_READS)
        if unread:
            scan.warnings.append(f"{_rel(meta_path, source)}: keys GenEval does not read ignored: {', '.join(unread)}")
        keys = differing_keys(found, expected.raw, ignore=(*unread, *(("prompt",) if ignore_prompt_text else ())))
        if keys:
            detail = ""
            if keys == ["prompt"]:
                detail = f": {found.get('prompt')!r} vs {expected.prompt!r}"
            scan.errors.append(
                f"{_rel(meta_path, source)} does not match line {index + 1} of the prompt set "
                f"(differs in {', '.join(keys)}{detail})"
            )
            continue
        usable = _scan_samples(entry, source, scan)
        if len(usable) > expected_images:
            scan.errors.append(
                f"{entry.name}/samples has {len(usable)} PNG samples, expected {expected_images} per prompt"
            )
            continue
        if len(usable) < expected_images:
            scan.incomplete.append(f"{entry.name}/samples has {len(usable)} of {expected_images} images")
        if usable:
            scan.images[index] = usable
    scan.missing_prompts = [i for i in range(len(prompts)) if i not in seen]
    return scan


def _listing(lines: Sequence[str], limit: int = 25) -> str:
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"... and {len(lines) - limit} more")
    return "\n".join(f"  - {line}" for line in shown)


def _ranges(indices: Sequence[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif prev is not None and i == prev + 1:
            prev = i
        else:
            parts.append(f"{start:05d}" if start == prev else f"{start:05d}-{prev:05d}")
            start = prev = i
    if start is not None:
        parts.append(f"{start:05d}" if start == prev else f"{start:05d}-{prev:05d}")
    return ", ".join(parts)


def raise_for_problems(scan: FolderScan, n_prompts: int, *, allow_incomplete: bool) -> None:
    """Errors always stop the import; incompleteness stops it unless ``allow_incomplete``."""
    if scan.errors:
        raise DataError(
            f"{scan.source} cannot be scored as GenEval output ({len(scan.errors)} problems):\n"
            + _listing(scan.errors),
            hint="fix these files; nothing has been scored yet. If the images were made from another prompt "
            "set, score them with that task (geneval_rewritten) or -o geneval.prompt_set=custom "
            "-o geneval.prompts_file=FILE; if a prompt has more images, pass -o geneval.images_per_prompt=N",
        )
    if allow_incomplete or not (scan.incomplete or scan.missing_prompts):
        return
    lines = list(scan.incomplete)
    if scan.missing_prompts:
        lines.insert(
            0, f"{len(scan.missing_prompts)} of {n_prompts} prompt folders are missing: {_ranges(scan.missing_prompts)}"
        )
    raise DataError(
        f"{scan.source} is incomplete: {scan.n_images} usable images of {n_prompts} x {scan.expected_images} = "
        f"{n_prompts * scan.expected_images}:\n" + _listing(lines),
        hint="generate the missing images (convert .jpg files to PNG), or pass --allow-incomplete to score what "
        "is there (the missing count is shown with every result)",
    )
