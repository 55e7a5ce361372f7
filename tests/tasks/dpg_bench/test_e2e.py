"""``run dpg_bench`` end to end: a painting generator, upstream's grid layout, a yes/no grader, scoring.

Every answer of the test grader is known from the tiles on disk (``plugins.rule_answer``), so every
number of the result is computed here from the images and checked against ``score_dpg``, whose own
equivalence with ELLA's script is tested in ``test_upstream_reference.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ming_eval.cards import loader
from ming_eval.core.results import JUDGE_UNAVAILABLE
from ming_eval.errors import ChecksumError, DataError, MingEvalError
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import score_external
from ming_eval.tasks.dpg_bench.questions import read_dpg_questions
from ming_eval.tasks.dpg_bench.scoring import score_dpg
from tests.engine_plugins import PixelModel
from tests.tasks.dpg_bench.fixtures import MAIN_PROMPTS
from tests.tasks.dpg_bench.plugins import YesNoGrader, rule_answer, write_dpg_cards, write_grader_card

N = 4
SIDE = 8


@pytest.fixture
def cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cards"
    csv_path = write_dpg_cards(root, Path(os.environ["MING_EVAL_CACHE"]), MAIN_PROMPTS)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)
    PixelModel.loads = 0
    PixelModel.batch_sizes = []
    YesNoGrader.batch_sizes = []
    return csv_path


def config(tmp_path: Path, **kw: Any) -> RunConfig:
    return RunConfig(tasks=["dpg_bench"], model="pixel", out=tmp_path / "run", device="cpu", argv=["test"], **kw)


def expected_answers(images: Path, csv_path: Path) -> dict[str, list[dict[int, str]]]:
    """The grader's answers, from the tile files on disk."""
    questions = read_dpg_questions(csv_path)
    out: dict[str, list[dict[int, str]]] = {}
    for item_id, prompt in questions.prompts.items():
        tiles = [Image.open(images / "tiles" / item_id / f"{k}.png") for k in range(N)]
        out[item_id] = [{q.proposition_id: rule_answer(t, q.question) for q in prompt.questions} for t in tiles]
    return out


def scores_of(run: Path) -> dict[str, dict[str, Any]]:
    lines = (run / "dpg_bench" / "scores.jsonl").read_text().splitlines()
    return {s["id"]: s for s in map(json.loads, lines)}


def test_run_writes_upstream_grids_and_scores_every_answer(tmp_path: Path, cards: Path) -> None:
    result = evaluate(config(tmp_path)).results["dpg_bench"]
    images = tmp_path / "run" / "dpg_bench" / "images"

    # upstream's layout: grids/<item_id>.png, a 2x2 grid of the tiles (top-left, top-right, bottom-left, ...)
    questions = read_dpg_questions(cards)
    assert sorted(p.name for p in (images / "grids").iterdir()) == sorted(f"{i}.png" for i in questions.prompts)
    for item_id in questions.prompts:
        grid = Image.open(images / "grids" / f"{item_id}.png")
        assert grid.size == (2 * SIDE, 2 * SIDE)
        for k, (x, y) in enumerate([(0, 0), (SIDE, 0), (0, SIDE), (SIDE, SIDE)]):
            tile = Image.open(images / "tiles" / item_id / f"{k}.png").convert("RGB")
            assert grid.crop((x, y, x + SIDE, y + SIDE)).tobytes() == tile.tobytes()

    answers = expected_answers(images, cards)
    want = score_dpg(questions, answers)
    assert 10 < (want.overall or 0) < 90  # the rule answers both ways
    assert result.primary == "overall"
    assert result.metrics["overall"].value == pytest.approx(want.overall)
    assert result.metrics["overall"].scale == 100.0
    for category, value in want.l1.items():
        assert result.metrics[category].value == pytest.approx(value)
    assert {c: m.value for c, m in result.breakdowns["l2"].items()} == pytest.approx(want.l2)
    assert result.comparable and result.info["mode"] == "upstream"
    assert result.judge == "zoo:yesno-grader@none"

    stored = scores_of(tmp_path / "run")
    for item_id, prompt_score in want.prompts.items():
        assert stored[item_id]["score"] == pytest.approx(prompt_score.score)
        tiles = [{int(k): v for k, v in t.items()} for t in stored[item_id]["details"]["answers"]]
        assert tiles == answers[item_id]
    # the (tile, question) pairs of the whole scorer batch (7 prompts) went to the grader in one call,
    # each distinct pair (same pixels, same question) asked once
    distinct = {
        (Image.open(images / "tiles" / item_id / f"{k}.png").convert("RGB").tobytes(), q.question)
        for item_id, prompt in questions.prompts.items()
        for k in range(N)
        for q in prompt.questions
    }
    assert YesNoGrader.batch_sizes == [len(distinct)]


def test_fixed_mode_is_labelled_and_never_comparable(tmp_path: Path, cards: Path) -> None:
    result = evaluate(config(tmp_path, task_options={"dpg_bench": {"mode": "fixed"}})).results["dpg_bench"]
    images = tmp_path / "run" / "dpg_bench" / "images"
    want = score_dpg(read_dpg_questions(cards), expected_answers(images, cards), mode="fixed")
    assert result.metrics["overall"].value == pytest.approx(want.overall)
    assert not result.comparable and result.info["label"] == "DPG-Bench (fixed scoring)"
    assert any("not comparable with published" in n for n in result.notes)


def test_resume_rebuilds_a_deleted_grid_and_regenerates_only_a_deleted_tile(tmp_path: Path, cards: Path) -> None:
    cfg = config(tmp_path)
    first = evaluate(cfg).results["dpg_bench"]
    images = tmp_path / "run" / "dpg_bench" / "images"
    grid = images / "grids" / "7.png"
    before = grid.read_bytes()

    grid.unlink()  # the tiles are all there: the grid is assembled again, nothing generated
    PixelModel.batch_sizes = []
    again = evaluate(cfg)
    assert PixelModel.batch_sizes == [] and not again.model_loaded
    assert grid.read_bytes() == before
    assert again.results["dpg_bench"].metrics["overall"].value == first.metrics["overall"].value

    (images / "tiles" / "7" / "2.png").unlink()  # one tile: only it is generated, from the same seed
    evaluate(cfg)
    assert PixelModel.batch_sizes == [1]
    assert grid.read_bytes() == before


def test_grader_outage_is_judge_unavailable_and_asked_again(tmp_path: Path, cards: Path) -> None:
    root = Path(os.environ["MING_EVAL_CARDS_PATH"])
    write_grader_card(root, fail=True)
    loader._INDEX = None
    down = evaluate(config(tmp_path)).results["dpg_bench"]
    assert down.counts[JUDGE_UNAVAILABLE] == len(MAIN_PROMPTS)
    assert not down.comparable and any("not graded" in n for n in down.notes)
    assert all(s["status"] == JUDGE_UNAVAILABLE for s in scores_of(tmp_path / "run").values())

    write_grader_card(root)  # back up: the next run asks again and replaces every verdict
    loader._INDEX = None
    up = evaluate(config(tmp_path)).results["dpg_bench"]
    assert up.counts.get(JUDGE_UNAVAILABLE, 0) == 0 and up.comparable
    want = score_dpg(read_dpg_questions(cards), expected_answers(tmp_path / "run" / "dpg_bench" / "images", cards))
    assert up.metrics["overall"].value == pytest.approx(want.overall)


def test_all_yes_scores_100_and_all_no_scores_0(tmp_path: Path, cards: Path) -> None:
    root = Path(os.environ["MING_EVAL_CARDS_PATH"])
    for answer, value in (("yes", 100.0), ("no", 0.0), ("Yes", 0.0)):  # upstream compares with "yes" exactly
        write_grader_card(root, answer=answer)
        loader._INDEX = None
        out = tmp_path / answer
        result = evaluate(RunConfig(tasks=["dpg_bench"], model="pixel", out=out, device="cpu", argv=["t"]))
        assert result.results["dpg_bench"].metrics["overall"].value == pytest.approx(value), answer


def test_limit_runs_a_subset_marked_not_comparable(tmp_path: Path, cards: Path) -> None:
    result = evaluate(config(tmp_path, limit=2)).results["dpg_bench"]
    assert result.counts["n"] == 2 and not result.comparable
    assert len(list((tmp_path / "run" / "dpg_bench" / "images" / "grids").iterdir())) == 2


def test_folder_in_upstream_layout_scores_the_same(tmp_path: Path, cards: Path) -> None:
    run = evaluate(config(tmp_path)).results["dpg_bench"]
    grids = tmp_path / "run" / "dpg_bench" / "images" / "grids"
    options = {"dpg_bench": {"resolution": SIDE}}
    ext = score_external("dpg_bench", grids, tmp_path / "ext", task_options=options["dpg_bench"], argv=["t"])
    result = ext["dpg_bench"]
    assert {k: m.value for k, m in result.metrics.items()} == {k: m.value for k, m in run.metrics.items()}
    assert result.comparable


def test_folder_needs_the_tile_resolution(tmp_path: Path, cards: Path) -> None:
    evaluate(config(tmp_path))
    grids = tmp_path / "run" / "dpg_bench" / "images" / "grids"
    with pytest.raises(DataError, match="tile resolution") as info:
        score_external("dpg_bench", grids, tmp_path / "ext", argv=["t"])
    assert info.value.hint is not None and "dpg_bench.resolution" in info.value.hint


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("wrong_size", r"7\.png is 16x16; the grid must be 32x32"),
        ("missing", r"1 of 7 prompts without an image"),
        ("extra", r"unexpected entry .*notes\.txt"),
        ("corrupt", r"7\.png is not a readable image"),
    ],
)
def test_bad_folders_are_refused_naming_the_file(tmp_path: Path, cards: Path, damage: str, message: str) -> None:
    evaluate(config(tmp_path))
    folder = tmp_path / "folder"
    shutil.copytree(tmp_path / "run" / "dpg_bench" / "images" / "grids", folder)
    resolution = SIDE
    if damage == "wrong_size":
        resolution = 2 * SIDE  # every grid is 16x16; a 16 px tile needs 32x32
        for p in folder.iterdir():
            if p.name != "7.png":
                Image.open(p).resize((32, 32)).save(p)
    elif damage == "missing":
        (folder / "7.png").unlink()
    elif damage == "extra":
        (folder / "notes.txt").write_text("x")
    elif damage == "corrupt":
        (folder / "7.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=message):
        score_external("dpg_bench", folder, tmp_path / "ext", task_options={"resolution": resolution}, argv=["t"])
    assert not (tmp_path / "ext" / "dpg_bench" / "scores.jsonl").exists()


def test_allow_incomplete_scores_the_rest_and_counts_what_is_missing(tmp_path: Path, cards: Path) -> None:
    evaluate(config(tmp_path))
    folder = tmp_path / "folder"
    shutil.copytree(tmp_path / "run" / "dpg_bench" / "images" / "grids", folder)
    (folder / "7.png").unlink()
    (folder / "vrd4.png").write_bytes(b"broken")
    out = score_external(
        "dpg_bench", folder, tmp_path / "ext", task_options={"resolution": SIDE}, allow_incomplete=True, argv=["t"]
    )["dpg_bench"]
    assert out.counts["n"] == len(MAIN_PROMPTS) - 2 and out.counts["missing"] == 2
    assert not out.comparable
    assert any("1 prompts without an image, 1 unusable" in n for n in out.notes)


def test_csv_with_another_blob_id_is_refused_and_nothing_is_run(tmp_path: Path, cards: Path) -> None:
    cards.write_text(cards.read_text() + cards.read_text().splitlines()[1] + "\n")
    with pytest.raises(ChecksumError, match="git-blob-sha1 mismatch"):
        evaluate(config(tmp_path))
    assert PixelModel.loads == 0


def test_a_dangling_parent_names_the_line(tmp_path: Path, cards: Path) -> None:
    from ming_eval.data.files import GIT_BLOB_SHA1, file_digest

    lines = cards.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",2,0,", ",2,9,", 1)
    assert ",2,9," in lines[2]
    cards.write_text("".join(lines))
    card_path = Path(os.environ["MING_EVAL_CARDS_PATH"]) / "tasks" / "dpg_bench.yaml"
    card_path.write_text(card_path.read_text().replace(_blob_of(card_path), file_digest(cards, GIT_BLOB_SHA1)))
    loader._INDEX = None
    with pytest.raises(MingEvalError, match=r"line 3: item 12 question 2 depends on 9"):
        evaluate(config(tmp_path))


def _blob_of(card_path: Path) -> str:
    import yaml

    return str(yaml.safe_load(card_path.read_text())["data"][0]["git_blob_sha1"])


def test_a_prompt_upstream_drops_is_left_out_of_the_overall_and_of_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ming_eval.report.compare import compare_runs
    from tests.tasks.dpg_bench.fixtures import PARENT_FIRST_PROMPTS

    root = tmp_path / "cards"
    write_dpg_cards(root, Path(os.environ["MING_EVAL_CACHE"]), PARENT_FIRST_PROMPTS)
    write_grader_card(root, answer="yes")
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)
    # every answer is "yes": item 12's question 3 reaches its parent 1, the CSV's first row, which
    # upstream never reads; its KeyError drops item 12, so the overall is item partiprompts7's 100, not 50
    for name in ("a", "b"):
        result = evaluate(RunConfig(tasks=["dpg_bench"], model="pixel", out=tmp_path / name, argv=["t"]))
        run = result.results["dpg_bench"]
        assert run.metrics["overall"].value == pytest.approx(100.0) and run.metrics["overall"].n == 1
        assert list(run.info["dropped_by_upstream"]) == ["12"]
    stored = scores_of(tmp_path / "a")
    assert stored["12"]["details"]["groups"] == {"counted": "no"}
    comparison = compare_runs(tmp_path / "a", tmp_path / "b").tasks[0]
    assert comparison.overall.n == 1 and comparison.overall.base == pytest.approx(100.0)
    assert all("is not the stored" not in n for n in comparison.notes)  # the headline recomputes exactly


def test_compare_pairs_two_runs_per_prompt(tmp_path: Path, cards: Path) -> None:
    from ming_eval.report.compare import compare_runs

    runs = {}
    for name, seed in (("a", 1), ("b", 2)):
        cfg = RunConfig(tasks=["dpg_bench"], model="pixel", out=tmp_path / name, seed=seed, argv=["t"])
        runs[name] = evaluate(cfg).results["dpg_bench"]
    comparison = compare_runs(tmp_path / "a", tmp_path / "b", force=True).tasks[0]
    assert comparison.task == "dpg_bench" and comparison.overall.n == len(MAIN_PROMPTS)
    assert comparison.overall.base == pytest.approx(runs["a"].metrics["overall"].value)
    assert comparison.overall.new == pytest.approx(runs["b"].metrics["overall"].value)
    delta = runs["b"].metrics["overall"].value - runs["a"].metrics["overall"].value
    assert comparison.overall.delta == pytest.approx(delta)


def test_report_shows_the_run_beside_janus_pro(tmp_path: Path, cards: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.test_cli import run_cli

    result = evaluate(config(tmp_path)).results["dpg_bench"]
    code, text = run_cli(["report", str(tmp_path / "run"), "-f", "md", "-b", "janus-pro"], capsys)
    assert code == 0, text
    assert "DPG-Bench" in text and "Janus-Pro-7B" in text and "84.19" in text
    assert f"{result.metrics['overall'].value:.2f}" in text and f"{result.metrics['entity'].value:.2f}" in text


def test_a_changed_folder_is_refused_and_the_scores_already_made_are_kept(tmp_path: Path, cards: Path) -> None:
    evaluate(config(tmp_path))
    folder = tmp_path / "folder"
    shutil.copytree(tmp_path / "run" / "dpg_bench" / "images" / "grids", folder)
    options = {"resolution": SIDE}
    first = score_external("dpg_bench", folder, tmp_path / "ext", task_options=options, argv=["t"])["dpg_bench"]
    scores = tmp_path / "ext" / "dpg_bench" / "scores.jsonl"
    kept = scores.read_bytes()
    again = score_external("dpg_bench", folder, tmp_path / "ext", task_options=options, argv=["t"])["dpg_bench"]
    assert again.metrics["overall"].value == first.metrics["overall"].value  # same folder: reused

    Image.new("RGB", (2 * SIDE, 2 * SIDE), (1, 2, 3)).save(folder / "7.png")
    with pytest.raises(DataError, match=r"have changed since \(e\.g\. 7\.png\)"):
        score_external("dpg_bench", folder, tmp_path / "ext", task_options=options, argv=["t"])
    assert scores.read_bytes() == kept


def test_a_question_file_of_ones_own_scores_alike_but_is_never_comparable(tmp_path: Path, cards: Path) -> None:
    pinned = evaluate(config(tmp_path)).results["dpg_bench"]
    own = tmp_path / "own.csv"
    own.write_bytes(cards.read_bytes())
    cards.unlink()  # the pinned file is not needed
    cfg = RunConfig(
        tasks=["dpg_bench"],
        model="pixel",
        out=tmp_path / "own",
        device="cpu",
        argv=["t"],
        task_options={"dpg_bench": {"questions_file": str(own)}},
    )
    result = evaluate(cfg).results["dpg_bench"]
    assert result.metrics["overall"].value == pinned.metrics["overall"].value
    assert not result.comparable and any("not DPG-Bench's pinned" in n for n in result.notes)


def test_a_run_parses_the_question_file_once_and_again_only_when_it_changes(
    tmp_path: Path, cards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ming_eval.registry import get_task_card
    from ming_eval.runner.plan import load_task
    from ming_eval.tasks.dpg_bench import task as dpg_task

    parsed: list[Path] = []

    def counting(path: Path) -> Any:
        parsed.append(path)
        return read_dpg_questions(path)

    monkeypatch.setattr(dpg_task, "read_dpg_questions", counting)
    result = evaluate(config(tmp_path)).results["dpg_bench"]
    assert "overall" in result.metrics and len(scores_of(tmp_path / "run")) == len(MAIN_PROMPTS)
    assert len(parsed) == 1  # the samples, the scorer and the result share one parse

    own = tmp_path / "own.csv"
    own.write_bytes(cards.read_bytes())
    card = get_task_card("dpg_bench")
    task = load_task(card, {"questions_file": str(own)})
    assert isinstance(task, dpg_task.DpgBenchTask)
    ctx: Any = None  # a question file of one's own needs no data folder
    first = task.questions(ctx)
    assert task.questions(ctx) is first and len(parsed) == 2
    lines = own.read_text().splitlines(keepends=True)
    first_item = lines[1].split(",")[0]
    own.write_text("".join(line for line in lines if not line.startswith(first_item + ",")))  # one prompt fewer
    assert list(task.questions(ctx).prompts) == list(first.prompts)[1:] and len(parsed) == 3
