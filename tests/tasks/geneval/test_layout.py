"""Reading folders in GenEval's layout: everything GenEval skips silently is reported here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.layout import raise_for_problems, scan_folder, write_prompt_metadata
from ming_eval.tasks.geneval.metadata import load_metadata
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, write_metadata

N = 2


@pytest.fixture
def prompts(tmp_path):
    return load_metadata(write_metadata(tmp_path / "meta.jsonl", SELFTEST_PROMPTS))


def make_folder(root: Path, n_prompts: int = 6, n_images: int = N) -> Path:
    for i in range(n_prompts):
        write_prompt_metadata(root, f"{i:05d}", SELFTEST_PROMPTS[i])
        for k in range(n_images):
            Image.new("RGB", (8, 8), (i * 10, k * 10, 0)).save(root / f"{i:05d}" / "samples" / f"{k:04d}.png")
    return root


def test_complete_folder(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs")
    (root / "00000" / "grid.png").write_bytes(b"")  # GenEval's optional grid is ignored quietly
    scan = scan_folder(root, prompts, N)
    assert not scan.errors and not scan.incomplete and not scan.missing_prompts and not scan.warnings
    assert scan.n_images == 12 and [p.name for p in scan.images[3]] == ["0000.png", "0001.png"]
    raise_for_problems(scan, len(prompts), allow_incomplete=False)
    # metadata is written the way GenEval's generation script writes it (json.dump, no newline)
    assert (root / "00001" / "metadata.jsonl").read_text() == json.dumps(SELFTEST_PROMPTS[1])


def test_upstream_sample_names_with_five_digits_are_fine(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs", n_images=0)
    for i in range(6):
        for k in range(N):
            Image.new("RGB", (8, 8)).save(root / f"{i:05d}" / "samples" / f"{k:05d}.png")
    assert scan_folder(root, prompts, N).n_images == 12


def test_missing_and_partial_prompts_are_incomplete(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs", n_prompts=4)
    (root / "00002" / "samples" / "0001.png").unlink()
    scan = scan_folder(root, prompts, N)
    assert scan.missing_prompts == [4, 5]
    assert scan.incomplete == ["00002/samples has 1 of 2 images"]
    with pytest.raises(DataError) as err:
        raise_for_problems(scan, len(prompts), allow_incomplete=False)
    text = str(err.value)
    assert "7 usable images of 6 x 2 = 12" in text and "2 of 6 prompt folders are missing: 00004-00005" in text
    assert "--allow-incomplete" in text
    raise_for_problems(scan, len(prompts), allow_incomplete=True)  # scores what is there


def test_non_png_corrupt_and_oddly_named_files_are_reported(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs")
    samples = root / "00001" / "samples"
    (samples / "0001.png").unlink()
    Image.new("RGB", (8, 8)).save(samples / "0001.jpg")
    (samples / "0000.png").write_bytes((samples / "0000.png").read_bytes()[:30])
    (samples / "0002.png.bak").write_bytes(b"x")
    (samples / "notes.txt").write_text("hi")
    scan = scan_folder(root, prompts, N)
    joined = "\n".join(scan.incomplete)
    assert "00001/samples/0001.jpg: not a GenEval sample" in joined
    assert "00001/samples/0000.png: not a readable image" in joined
    assert "00001/samples/0002.png.bak: not a GenEval sample" in joined
    assert "00001/samples has 0 of 2 images" in joined
    assert scan.warnings == ["00001/samples/notes.txt ignored (not an image)"]
    with pytest.raises(DataError, match=r"0001\.jpg"):
        raise_for_problems(scan, len(prompts), allow_incomplete=False)


def test_errors_that_would_make_scores_wrong(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs")
    (root / "00000" / "metadata.jsonl").unlink()
    (root / "00001" / "metadata.jsonl").write_text(json.dumps({**SELFTEST_PROMPTS[1], "prompt": "something else"}))
    Image.new("RGB", (8, 8)).save(root / "00002" / "samples" / "0002.png")
    (root / "prompt_3").mkdir()
    (root / "prompt_3" / "metadata.jsonl").write_text("{}")
    (root / "3").mkdir()
    (root / "00099").mkdir()
    (root / "logs").mkdir()
    (root / "results.jsonl").write_text("")
    scan = scan_folder(root, prompts, N)
    text = "\n".join(scan.errors)
    assert "00000/metadata.jsonl is missing" in text
    assert "00001/metadata.jsonl does not match line 2 of the prompt set (differs in prompt: 'something else'" in text
    assert "00002/samples has 3 PNG samples, expected 2 per prompt" in text
    assert "prompt_3/ looks like a prompt folder but its name is not all digits" in text
    assert "3/ and 00003/ are the same prompt 3" in text
    assert "00099/: the prompt set has no line 100 (it has 6)" in text
    assert "logs/ ignored (name is not all digits)" in scan.warnings
    assert "results.jsonl ignored (GenEval reads only prompt folders)" in scan.warnings
    with pytest.raises(DataError, match="cannot be scored as GenEval output"):
        raise_for_problems(scan, len(prompts), allow_incomplete=True)  # errors stop even an incomplete import


def test_rewritten_folder_may_store_either_prompt(tmp_path, prompts):
    root = make_folder(tmp_path / "imgs")
    (root / "00001" / "metadata.jsonl").write_text(json.dumps({**SELFTEST_PROMPTS[1], "prompt": "long rewrite"}))
    assert not scan_folder(root, prompts, N, ignore_prompt_text=True).errors
    assert scan_folder(root, prompts, N).errors


def test_not_a_folder(tmp_path, prompts):
    with pytest.raises(DataError, match="is not a folder"):
        scan_folder(tmp_path / "nope", prompts, N)


def test_keys_geneval_does_not_read_are_ignored_with_a_warning(tmp_path, prompts):
    """A CoT pipeline writes ``cot``/``final_prompt`` beside the metadata; GenEval's evaluator never reads them."""
    root = make_folder(tmp_path / "imgs")
    extra = {**SELFTEST_PROMPTS[1], "cot": "think", "final_prompt": "a long prompt"}
    (root / "00001" / "metadata.jsonl").write_text(json.dumps(extra))
    scan = scan_folder(root, prompts, N)
    assert not scan.errors and scan.n_images == 12
    assert scan.warnings == ["00001/metadata.jsonl: keys GenEval does not read ignored: cot, final_prompt"]
    changed = {**SELFTEST_PROMPTS[2], "tag": "counting" if SELFTEST_PROMPTS[2]["tag"] != "counting" else "colors"}
    (root / "00002" / "metadata.jsonl").write_text(json.dumps(changed))
    assert any("differs in tag" in e for e in scan_folder(root, prompts, N).errors)  # what it reads still counts
