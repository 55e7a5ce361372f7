"""``run geneval`` end to end: a painting generator, GenEval's layout, resume per image, scoring, summary.

The generator paints what each prompt asks for and gets one image in about four wrong on purpose
(decided by the image's seed), and the detector and colour classifier read the paintings back, so
every number of the result is known in advance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ming_eval.core.seeds import derive_seed
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore, score_external
from ming_eval.tasks.geneval import scorer as scorer_module
from ming_eval.tasks.geneval.constants import TAGS
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, write_metadata
from tests.tasks.geneval.helpers import upstream_data_dir
from tests.tasks.geneval.plugins import PaintedColors, PaintedDetector, ShapesModel, faulty, write_shapes_card

EXTRA_PROMPTS: list[dict[str, Any]] = [
    {"tag": "single_object", "include": [{"class": "hair drier", "count": 1}], "prompt": "a photo of a hair drier"},
    {
        "tag": "two_object",
        "include": [{"class": "tv", "count": 1}, {"class": "person", "count": 1}],
        "prompt": "a photo of a tv and a person",
    },
    {
        "tag": "counting",
        "include": [{"class": "apple", "count": 2}],
        "exclude": [{"class": "apple", "count": 3}],
        "prompt": "a photo of two apples",
    },
    {
        "tag": "colors",
        "include": [{"class": "bench", "count": 1, "color": "white"}],
        "prompt": "a photo of a white bench",
    },
    {
        "tag": "position",
        "include": [{"class": "oven", "count": 1}, {"class": "tie", "count": 1, "position": ["left of", 0]}],
        "prompt": "a photo of a tie left of an oven",
    },
    {
        "tag": "color_attr",
        "include": [{"class": "bowl", "count": 1, "color": "pink"}, {"class": "skis", "count": 1, "color": "brown"}],
        "prompt": "a photo of a pink bowl and brown skis",
    },
]
PROMPTS = [*SELFTEST_PROMPTS, *EXTRA_PROMPTS]
SEED = 7
N = 4


@pytest.fixture
def injected(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    made: dict[str, Any] = {"detectors": [], "colors": []}

    def detector(options: Any, device: str) -> PaintedDetector:
        d = PaintedDetector()
        made["detectors"].append(d)
        return d

    def colors(settings: Any, device: str) -> PaintedColors:
        c = PaintedColors()
        made["colors"].append(c)
        return c

    monkeypatch.setattr(scorer_module, "make_detector", detector)
    monkeypatch.setattr(scorer_module, "make_color_classifier", colors)
    return made


@pytest.fixture
def cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    metadata = write_metadata(tmp_path / "prompts.jsonl", PROMPTS)
    write_shapes_card(tmp_path / "cards", metadata, images_per_prompt=N, seed=SEED)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(tmp_path / "cards"))
    ShapesModel.calls.clear()
    return metadata


def config(tmp_path: Path, metadata: Path, **kw: Any) -> RunConfig:
    options = {
        "prompt_set": "custom",
        "prompts_file": str(metadata),
        "detector": {"batch_size": 3},
        **kw.pop("options", {}),
    }
    return RunConfig(
        tasks=["geneval"],
        model="shapes",
        out=tmp_path / "run",
        device="cpu",
        task_options={"geneval": options},
        argv=["test"],
        **kw,
    )


def expected(prompts: list[dict[str, Any]], task: str = "geneval") -> dict[str, float]:
    per_tag: dict[str, list[bool]] = {}
    prompt_ok = []
    for i, row in enumerate(prompts):
        ok = [not faulty(derive_seed(SEED, task, f"{i:05d}", k)) for k in range(N)]
        per_tag.setdefault(row["tag"], []).extend(ok)
        prompt_ok.append(any(ok))
    out = {tag: float(np.mean(v)) for tag, v in per_tag.items()}
    out["overall"] = float(np.mean(list(out.values())))
    out["prompt_accuracy"] = float(np.mean(prompt_ok))
    return out


def test_run_scores_exactly_what_was_painted(tmp_path, cards, injected):
    outcome = evaluate(config(tmp_path, cards))
    result = outcome.results["geneval"]
    want = expected(PROMPTS)
    assert 0.4 < want["overall"] < 0.95  # the faulty images really are there
    for key, value in want.items():
        assert result.metrics[key].value == pytest.approx(value), key
    assert result.primary == "overall"
    assert list(result.breakdowns["tag"]) == list(TAGS)
    assert result.counts["images"] == len(PROMPTS) * N and result.counts["n"] == len(PROMPTS)
    assert result.info["label"] == "GenEval (custom prompts)"
    assert result.info["table"]["columns"][-1] == "Overall"
    lo, hi = result.metrics["overall"].ci_low, result.metrics["overall"].ci_high
    assert lo is not None and hi is not None and lo <= result.metrics["overall"].value <= hi
    # detector batches follow DetectorOptions.batch_size; colour crops only for colour tags
    assert max(injected["detectors"][0].batches) == 3 and injected["detectors"][0].closed
    assert injected["colors"][0].seen > 0

    # per-image verdicts with upstream's wording
    scores = [json.loads(line) for line in (tmp_path / "run" / "geneval" / "scores.jsonl").read_text().splitlines()]
    assert all(s["details"]["breakdown"] == {"tag": s["details"]["tag"]} for s in scores)  # for `compare`
    by_id = {s["id"]: s for s in scores}
    count = by_id["00002"]["details"]["images"]
    for k, img in enumerate(count):
        wrong = faulty(derive_seed(SEED, "geneval", "00002", k))
        assert img["correct"] is not wrong
        assert img["reason"] == ("expected vase<4, found 4" if wrong else "")
        assert img["file"] == f"00002/samples/{k:04d}.png"

    # GenEval's layout: folders of digits, metadata.jsonl = the line as json.dump writes it, \d+.png
    images = tmp_path / "run" / "geneval" / "images"
    assert sorted(p.name for p in images.iterdir()) == [f"{i:05d}" for i in range(len(PROMPTS))]
    for i, row in enumerate(PROMPTS):
        assert (images / f"{i:05d}" / "metadata.jsonl").read_text() == json.dumps(row)
        names = sorted(p.name for p in (images / f"{i:05d}" / "samples").iterdir())
        assert names == [f"{k:04d}.png" for k in range(N)] and all(re.match(r"\d+\.png", n) for n in names)

    page = (tmp_path / "run" / "geneval" / "report.html").read_text()
    assert page.count("class=prompt ") == len(PROMPTS)
    assert "images/00005/samples/0000.png" in page and "a photo of a red car and a yellow book" in page


def test_resume_regenerates_only_missing_images_and_loads_nothing_when_done(tmp_path, cards, injected):
    cfg = config(tmp_path, cards)
    first = evaluate(cfg).results["geneval"]
    ShapesModel.calls.clear()
    again = evaluate(cfg)
    assert not again.model_loaded and ShapesModel.calls == []
    assert again.results["geneval"].to_dict()["metrics"] == first.to_dict()["metrics"]

    # a sample interrupted after two of its images: only the others are generated, from the same seeds
    task_dir = tmp_path / "run" / "geneval"
    kept = (task_dir / "images" / "00004" / "samples" / "0001.png").read_bytes()
    for k in (2, 3):
        (task_dir / "images" / "00004" / "samples" / f"{k:04d}.png").unlink()
    records = task_dir / "records" / "rank-00000.jsonl"
    records.write_text("".join(line + "\n" for line in records.read_text().splitlines() if '"id":"00004"' not in line))
    evaluate(cfg)
    assert ShapesModel.calls == [[("a photo of a bus below a bird", (2, 3))]]
    assert (task_dir / "images" / "00004" / "samples" / "0001.png").read_bytes() == kept


def test_folder_from_any_tool_scores_the_same(tmp_path, cards, injected):
    run = evaluate(config(tmp_path, cards)).results["geneval"]
    images = tmp_path / "run" / "geneval" / "images"
    options = {"prompt_set": "custom", "prompts_file": str(cards)}
    ext = score_external("geneval", images, tmp_path / "ext", task_options=options, argv=["test"])["geneval"]
    assert {k: m.value for k, m in ext.metrics.items()} == {k: m.value for k, m in run.metrics.items()}
    page = (tmp_path / "ext" / "geneval" / "report.html").read_text()
    assert "../../run/geneval/images/00000/samples/0000.png" in page  # links to the imported folder

    # scoring again reuses everything; a changed folder is refused instead of mixing old and new scores
    again = score_external("geneval", images, tmp_path / "ext", task_options=options, argv=["test"])["geneval"]
    assert again.metrics["overall"].value == ext.metrics["overall"].value
    (images / "00001" / "samples" / "0003.png").write_bytes((images / "00001" / "samples" / "0002.png").read_bytes())
    from ming_eval.errors import DataError

    with pytest.raises(DataError, match="have changed since"):
        score_external("geneval", images, tmp_path / "ext", task_options=options, argv=["test"])
    (tmp_path / "ext" / "geneval" / "import.json").write_text("{broken")
    with pytest.raises(DataError, match=r"cannot read .*import\.json"):
        score_external("geneval", images, tmp_path / "ext", task_options=options, argv=["test"])


def test_rescore_with_another_threshold_moves_old_scores_aside(tmp_path, cards, injected):
    evaluate(config(tmp_path, cards))
    results = rescore(
        tmp_path / "run", task_options={"geneval": {"threshold": 0.99, "counting_threshold": 0.99}}, argv=["test"]
    )
    # every detection scores 0.95: nothing passes a 0.99 threshold
    assert results["geneval"].metrics["overall"].value == 0.0
    assert any(p.name.startswith("scoring.") for p in (tmp_path / "run" / "geneval").iterdir())


def test_cli_run_with_limit(tmp_path, cards, injected, capsys):
    from ming_eval.cli.app import main

    main(
        [
            "run",
            "geneval",
            "--model",
            "shapes",
            "--limit",
            "3",
            "--out",
            str(tmp_path / "cli"),
            "-o",
            "geneval.prompt_set=custom",
            "-o",
            f"geneval.prompts_file={cards}",
        ]
    )
    out = capsys.readouterr().out
    assert "overall" in out and "--limit 3" in out
    result = json.loads((tmp_path / "cli" / "geneval" / "results.json").read_text())
    assert result["counts"]["n"] == 3
    assert any("averages 3 of 6 tags" in n for n in result["notes"])


def test_tiny_clip_through_the_whole_pipeline(tmp_path, cards, monkeypatch):
    from ming_eval.testing.fixtures.geneval import build_tiny_clip

    monkeypatch.setattr(scorer_module, "make_detector", lambda options, device: PaintedDetector())
    clip = build_tiny_clip(tmp_path / "clip")
    cfg = config(tmp_path, cards, limit=6, options={"clip_model": clip, "clip_pretrained": None})
    result = evaluate(cfg).results["geneval"]
    scores = [json.loads(line) for line in (tmp_path / "run" / "geneval" / "scores.jsonl").read_text().splitlines()]
    colours = [c for s in scores for img in s["details"]["images"] for v in img.get("colors", {}).values() for c in v]
    assert colours and all(
        c in {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"} for c in colours
    )
    # colour-free tags do not depend on CLIP
    want = expected(PROMPTS[:6])
    for tag in ("single_object", "two_object", "counting", "position"):
        assert result.metrics[tag].value == pytest.approx(want[tag])


def test_original_prompts_from_the_pinned_file(tmp_path, monkeypatch, injected):
    folder = upstream_data_dir()
    if folder is None:
        pytest.skip("no upstream copy of evaluation_metadata.jsonl here")
    metadata = folder / "evaluation_metadata.jsonl"
    write_shapes_card(tmp_path / "cards", metadata, images_per_prompt=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(tmp_path / "cards"))
    cfg = RunConfig(
        tasks=["geneval"],
        model="shapes",
        out=tmp_path / "run",
        device="cpu",
        limit=5,
        data_overrides={"evaluation_metadata.jsonl": metadata},
        argv=["test"],
    )
    result = evaluate(cfg).results["geneval"]
    assert result.info["label"] == "GenEval" and result.counts["images"] == 10
    assert (tmp_path / "run" / "geneval" / "images" / "00000" / "metadata.jsonl").read_text() == json.dumps(
        json.loads(metadata.read_text().splitlines()[0])
    )


def test_tiny_random_detector(tmp_path, cards):
    from ming_eval.testing.fixtures.geneval import build_tiny_clip, write_tiny_detector

    clip = build_tiny_clip(tmp_path / "clip")
    detector = {"weights": str(write_tiny_detector(tmp_path / "detector.safetensors")), "batch_size": 2}
    cfg = config(tmp_path, cards, limit=6, options={"clip_model": clip, "clip_pretrained": None, "detector": detector})
    result = evaluate(cfg).results["geneval"]
    assert result.counts["images"] == 6 * N and 0.0 <= result.metrics["overall"].value <= 1.0


def test_upstream_results_with_out_become_a_run_of_their_images(tmp_path, cards, injected, capsys, monkeypatch):
    """``--upstream-results results.jsonl --out DIR``: the check, then the images the file names
    (``<folder>/<index>/samples/<n>.png``, relative to where GenEval ran) scored as a run."""
    from tests.cli.test_cli import run_cli

    run = evaluate(config(tmp_path, cards)).results["geneval"]
    images = tmp_path / "run" / "geneval" / "images"
    rows = [
        {
            "filename": f"images/{i:05d}/samples/{k:04d}.png",
            "tag": meta["tag"],
            "prompt": meta["prompt"],
            "correct": False,
            "reason": "",
            "metadata": json.dumps(meta),
            "details": json.dumps({}),
        }
        for i, meta in enumerate(PROMPTS)
        for k in range(N)
    ]
    results = tmp_path / "run" / "geneval" / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.chdir(tmp_path)
    args = ["score", "geneval", "--upstream-results", str(results), "--out", str(tmp_path / "up")]
    args += ["-o", "geneval.prompt_set=custom", "-o", f"geneval.prompts_file={cards}"]
    code, text = run_cli(args, capsys)
    assert code == 0 and "agree" in text, text  # every re-derived decision agrees (nothing was detected)
    stored = json.loads((tmp_path / "up" / "results.json").read_text())
    assert stored["tasks"]["geneval"]["metrics"]["overall"]["value"] == run.metrics["overall"].value
    assert images.is_dir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    moved = tmp_path / "moved.jsonl"
    moved.write_text(results.read_text())
    from ming_eval.errors import DataError
    from ming_eval.tasks.geneval.upstream import image_folder_of

    with pytest.raises(DataError, match="are not at images"):
        image_folder_of(moved)
