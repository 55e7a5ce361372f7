"""The understanding suites through the real CLI, with a test-only VLM on generated TSVs."""

import json
import os
from pathlib import Path

import pytest
import yaml

from ming_eval.cards import loader
from ming_eval.data.files import file_digest
from ming_eval.registry import get_task_card
from ming_eval.testing.fixtures.vlm import COLORS, make_mcq, png_b64, selftest_setup, write_tsv
from tests.cli.test_cli import run_cli
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.plugins import ColourVlm, write_model_card
from tests.tasks.vlm.standins import MMVET_MARKER, write_standins

LEADERBOARD = [
    "mmbench_test_en_v11",
    "mmbench_test_cn_v11",
    "mmstar",
    "mmmu_dev_val",
    "mathvista_mini",
    "hallusionbench",
    "ai2d_test",
    "mmvet",
    "ocrbench",
]
# the command of the issue: suite names stand for the leaderboard's tasks (mmbench = v1.1 test EN + CN)
SHORT_NAMES = ["mmbench", "mmstar", "mmmu", "mathvista", "hallusionbench", "ai2d", "mmvet", "ocrbench"]


def standin_task_cards(root, sources, *, urls=False):
    """Copies of the understanding task cards that accept the stand-in prompt sources (their sha256;
    with ``urls``, also downloadable from them through file:// URLs)."""
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    for card in loader.card_index().tasks.values():
        if not any(not f.required for f in card.data) or card.source is None:
            continue
        data = yaml.safe_load(card.source.read_text())
        for entry in data["data"]:
            if entry["name"] in sources:
                entry["sha256"] = file_digest(sources[entry["name"]], "sha256")
                if urls:
                    entry["url"] = sources[entry["name"]].as_uri()
        (root / "tasks" / card.source.name).write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture()
def judge_sources(tmp_path):
    return write_standins(tmp_path / "judge-sources")


@pytest.fixture()
def vlm_cards(tmp_path, monkeypatch, judge_sources):
    root = write_model_card(tmp_path / "cards", vague_every=5)
    standin_task_cards(root, judge_sources)
    write_model_card(root, "colourvlm-broken", fail_on="image 1", empty_on="image 2")
    write_model_card(root, "colourvlm-plain")
    write_model_card(root, "colourvlm-vague", vague_every=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)
    ColourVlm.seen.clear()
    ColourVlm.batch_sizes.clear()
    return root


def data_args(tasks, folder, judge_off=True):
    """Generated TSVs (and the stand-in prompt sources) for TASKS; the judge's cache in ``folder``."""
    args = []
    for name, path in write_standins(folder / "judge-sources").items():
        args += ["--data", f"{name}={path}"]
    for name in tasks:
        setup = selftest_setup(get_task_card(name), folder / name)
        for file, path in setup.data.items():
            args += ["--data", f"{file}={path}"]
        args += ["-o", f"{name}.data_md5={setup.options['data_md5']}"]
        if not judge_off and "judge" in setup.options:
            args += ["-o", f"{name}.judge_cache_dir={folder / 'judge-cache'}", "-o", f"{name}.judge_retries=0"]
    return args


def test_leaderboard_suite_then_judge_comes_back(vlm_cards, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    args = [
        "run",
        *SHORT_NAMES,
        "-m",
        "colourvlm",
        "--out",
        str(out),
        "--batch-size",
        "3",
        *data_args(LEADERBOARD, tmp_path / "data", judge_off=False),
    ]
    code, text = run_cli(args, capsys)  # no judge configured anywhere
    assert code == 3, text  # results are written, but MM-Vet's judge answered none of its samples
    assert "could not be judged (judge unavailable)" in text
    assert "error: mmvet: none of its 4 samples could be judged: MM-Vet is graded by a judge and" in text
    stored = json.loads((out / "results.json").read_text())["tasks"]
    assert set(stored) == set(LEADERBOARD)
    assert stored["mmvet"]["counts"]["judge_unavailable"] == 4
    summaries = json.loads((out / "results.json").read_text())["summaries"]
    assert set(summaries) == {"mmbench_v11", "avg_opencompass8", "avg_7_no_ocrbench"}  # every benchmark present
    assert summaries["avg_opencompass8"]["inputs"]["ocrbench"] == 0.0  # final score 0 / 10
    assert summaries["avg_opencompass8"]["inputs"]["hallusionbench"] == 100.0
    assert stored["ocrbench"]["metrics"]["final_score"]["value"] == 0.0  # the colour model reads no text
    assert stored["hallusionbench"]["metrics"]["overall"]["value"] == 100.0
    assert max(ColourVlm.batch_sizes) == 3  # batched
    calls = len(ColourVlm.seen)
    # every MMBench rotation carries its question (the resampling unit of `compare`) and its abilities
    rows = [json.loads(x) for x in (out / "mmbench_test_en_v11" / "scores.jsonl").read_text().splitlines()]
    assert all(int(r["details"]["cluster"]) == int(r["id"]) % 1_000_000 for r in rows)
    assert all("l2-category" in r["details"]["breakdown"] for r in rows)

    # the judge is back: the same command judges what was left, without loading the model
    with FakeOpenAI(lambda p, b: "1.0" if MMVET_MARKER in p else "B") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        code, text = run_cli(args, capsys)
        assert code == 0, text
        judged = len(fake.bodies)
    assert judged > 0 and len(ColourVlm.seen) == calls
    stored = json.loads((out / "results.json").read_text())["tasks"]
    assert "judge_unavailable" not in stored["mmvet"]["counts"]
    assert stored["mmvet"]["metrics"]["overall"]["value"] == 100.0
    assert all("judge_unavailable" not in t["counts"] for t in stored.values())
    assert stored["mmvet"]["judge"] == "gpt-4-1106-preview"  # the model whose verdicts made the number
    assert "judge" not in stored["ocrbench"]  # scored by rule, no judge

    # a third run asks the judge nothing: scores are stored, replies cached
    with FakeOpenAI(lambda p, b: "B") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        code, _ = run_cli(args, capsys)
        assert code == 0 and fake.bodies == []


def test_failures_and_empty_outputs_are_counted(vlm_cards, tmp_path, capsys):
    out = tmp_path / "run"
    code, text = run_cli(
        ["run", "mmstar", "-m", "colourvlm-broken", "--out", str(out), *data_args(["mmstar"], tmp_path / "data")],
        capsys,
    )
    assert code == 0, text
    stored = json.loads((out / "mmstar" / "results.json").read_text())
    assert stored["counts"]["inference_failed"] == 1  # "image 1" raised
    # a generated TSV, not the card's: stored as not comparable, with the reason
    assert stored["comparable"] is False
    assert "data file MMStar.tsv is not the card's (another checksum)" in stored["not_comparable_because"]
    scores = [json.loads(line) for line in (out / "mmstar" / "scores.jsonl").read_text().splitlines()]
    empty = next(s for s in scores if s["id"] == "2")
    # as VLMEvalKit: the empty output goes to the judge (as "nan"), and no judge is configured here
    assert empty["status"] == "judge_unavailable" and empty["score"] == 0.0
    assert "inference failures" in text


def test_lmudata_folder_is_reused(vlm_cards, tmp_path, capsys, monkeypatch):
    lmu = tmp_path / "LMUData"
    path = make_mcq(lmu / "MMStar.tsv", 6)
    monkeypatch.setenv("LMUData", str(lmu))
    code, text = run_cli(
        [
            "run",
            "mmstar",
            "-m",
            "colourvlm",
            "--out",
            str(tmp_path / "r"),
            "-o",
            f"mmstar.data_md5={file_digest(path, 'md5')}",
        ],
        capsys,
    )
    assert code == 0, text
    assert not (Path(os.environ["MING_EVAL_CACHE"]) / "data" / "mmstar").exists()  # nothing copied or fetched


def test_md5_mismatch_in_lmudata_is_explained(vlm_cards, tmp_path, capsys, monkeypatch):
    lmu = tmp_path / "LMUData"
    path = make_mcq(lmu / "MMStar.tsv", 3)
    monkeypatch.setenv("LMUData", str(lmu))
    code, text = run_cli(["run", "mmstar", "-m", "colourvlm", "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    flat = "".join(text.split())  # the terminal may wrap long paths
    assert f"md5mismatchfor{path}" in flat and "e1ecd2140806c1b1bbf54b43372efb9e" in flat
    assert file_digest(path, "md5") in flat and "ming-evaldatadownloadmmstar" in flat


def test_missing_column_is_explained(vlm_cards, tmp_path, capsys):
    path = write_tsv(tmp_path / "MMVet.tsv", [{"index": 1, "question": "q", "image": "x" * 80}])
    code, text = run_cli(
        [
            "run",
            "mmvet",
            "-m",
            "colourvlm",
            "--out",
            str(tmp_path / "r"),
            "--data",
            f"MMVet.tsv={path}",
            "-o",
            f"mmvet.data_md5={file_digest(path, 'md5')}",
        ],
        capsys,
    )
    assert code == 2 and "MMVet.tsv lacks the column(s) answer, category" in text


def test_unknown_prompt_style_is_refused_before_work(vlm_cards, tmp_path, capsys):
    write_model_card(vlm_cards, protocol={"prompt_style": "internvl"})
    loader._INDEX = None
    code, text = run_cli(["run", "mmstar", "-m", "colourvlm", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "prompt_style 'internvl' is not known to task mmstar" in text and "qwen2vl" in text


def test_selftest_runs_every_suite_task(vlm_cards, tmp_path, capsys):
    code, text = run_cli(
        [
            "selftest",
            "--keep",
            str(tmp_path / "st"),
            "--only",
            "mmbench_dev_en",
            "--only",
            "hallusionbench",
            "--only",
            "mathvista_mini",
            "--only",
            "ocrbench",
        ],
        capsys,
    )
    assert code == 0, text
    assert "selftest passed" in text and "mathvista_mini" in text


def test_undecodable_image_fails_only_its_sample(vlm_cards, tmp_path, capsys):
    rows = [
        {
            "index": i,
            "question": f"Which colour fills image {i}?",
            "A": "red",
            "B": "blue",
            "C": "green",
            "D": "yellow",
            "answer": "A",
            "image": png_b64(COLORS["red"]),
        }
        for i in range(4)
    ]
    rows[2]["image"] = "iVBORw0KGgo" + "A" * 80  # a PNG header, then nothing decodable
    path = write_tsv(tmp_path / "MMStar.tsv", rows)
    out = tmp_path / "r"
    code, text = run_cli(
        [
            "run",
            "mmstar",
            "-m",
            "colourvlm-plain",
            "--out",
            str(out),
            "--data",
            f"MMStar.tsv={path}",
            "-o",
            f"mmstar.data_md5={file_digest(path, 'md5')}",
        ],
        capsys,
    )
    assert code == 0, text
    stored = json.loads((out / "mmstar" / "results.json").read_text())
    assert stored["counts"]["inference_failed"] == 1 and stored["metrics"]["overall"]["value"] == 75.0
    failed = [json.loads(line) for line in (out / "mmstar" / "predictions.jsonl").read_text().splitlines()]
    error = next(r["error"] for r in failed if r["id"] == "2")
    assert "MMStar.tsv index 2" in error


def test_rescore_with_another_policy(vlm_cards, tmp_path, capsys):
    out = tmp_path / "run"
    args = data_args(["mmstar"], tmp_path / "data")
    code, text = run_cli(["run", "mmstar", "-m", "colourvlm", "--out", str(out), *args], capsys)
    assert code == 0, text
    code, text = run_cli(["score", str(out), "-o", "mmstar.judge=exact_matching", *args], capsys)
    assert code == 0, text
    stored = json.loads((out / "mmstar" / "results.json").read_text())
    assert "judge_unavailable" not in stored["counts"] and stored["info"]["judge"] == "exact_matching"


def test_rejected_judge_key_is_reported_per_sample(vlm_cards, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    with FakeOpenAI(lambda p, b: (401, "Incorrect API key provided")) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        args = [
            "-o",
            "mmstar.judge_retries=0",
            "-o",
            f"mmstar.judge_cache_dir={tmp_path / 'c'}",
            *data_args(["mmstar"], tmp_path / "d"),
        ]
        code, text = run_cli(["run", "mmstar", "-m", "colourvlm-vague", "--out", str(out), *args], capsys)
        assert code == 0, text
        assert len(fake.bodies) <= 2  # given up at the first 401 (two vague rows may be in flight together)
    scores = [json.loads(line) for line in (out / "mmstar" / "scores.jsonl").read_text().splitlines()]
    unavailable = [s for s in scores if s["status"] == "judge_unavailable"]
    assert unavailable and all("rejected the API key (401)" in s["reason"] for s in unavailable)
    assert "could not be judged" in text


def test_missing_prompt_source_stops_scoring_and_keeps_predictions(vlm_cards, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    setup = selftest_setup(get_task_card("mmstar"), tmp_path / "d")
    tsv = [
        "--data",
        f"MMStar.tsv={setup.data['MMStar.tsv']}",
        "-o",
        f"mmstar.data_md5={setup.options['data_md5']}",
        "-o",
        f"mmstar.judge_cache_dir={tmp_path / 'c'}",
        "-o",
        "mmstar.judge_retries=0",
    ]
    with FakeOpenAI(lambda p, b: "B") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        # a judge is configured but its prompt source is neither cached nor given, and we are offline
        code, text = run_cli(["run", "mmstar", "-m", "colourvlm-vague", "--out", str(out), *tsv], capsys)
        assert code == 2, text
        assert "multiple_choice.py" in text and "ming-eval data download mmstar" in text
        assert fake.bodies == []
        assert (out / "mmstar" / "predictions.jsonl").is_file()  # inference is kept
        calls = len(ColourVlm.seen)
        code, text = run_cli(
            ["run", "mmstar", "-m", "colourvlm-vague", "--out", str(out), *tsv, *data_args([], tmp_path / "d")], capsys
        )
        assert code == 0, text
        assert len(ColourVlm.seen) == calls and fake.bodies  # scored with the judge, the model not run again
    assert "judge_unavailable" not in json.loads((out / "mmstar" / "results.json").read_text())["counts"]


def test_prompt_sources_prefetched_for_an_offline_cluster(vlm_cards, judge_sources, tmp_path, capsys, monkeypatch):
    """Everything mmstar reads is served from file:// URLs (the data file too), as from the internet."""
    standin_task_cards(vlm_cards, judge_sources, urls=True)
    card_path = vlm_cards / "tasks" / "mmstar.yaml"
    card = yaml.safe_load(card_path.read_text())
    tsv = make_mcq(tmp_path / "remote" / "MMStar.tsv", 6)
    card["data"][0].update(url=tsv.as_uri(), md5=file_digest(tsv, "md5"))
    card_path.write_text(yaml.safe_dump(card, allow_unicode=True))
    loader._INDEX = None
    code, text = run_cli(["data", "verify", "mmstar"], capsys)
    assert code == 1 and "multiple_choice.py │ missing (optional)" in text
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    # the optional files are not fetched when a run starts without a judge ...
    code, text = run_cli(["run", "mmstar", "-m", "colourvlm", "--out", str(tmp_path / "r0")], capsys)
    assert code == 0, text
    cached = Path(os.environ["MING_EVAL_CACHE"]) / "data" / "mmstar"
    assert (cached / "MMStar.tsv").is_file() and not (cached / "multiple_choice.py").exists()
    # ... but `data download` fetches them, and an offline run with a judge then finds them in the cache
    code, text = run_cli(["data", "download", "mmstar"], capsys)
    assert code == 0 and "multiple_choice.py" in text and "vlm.py" in text
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    with FakeOpenAI(lambda p, b: "C") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        code, text = run_cli(
            [
                "run",
                "mmstar",
                "-m",
                "colourvlm-vague",
                "--out",
                str(tmp_path / "r1"),
                "-o",
                f"mmstar.judge_cache_dir={tmp_path / 'c'}",
            ],
            capsys,
        )
        assert code == 0, text
        assert fake.bodies and all("STAND-IN MATCHER" in p for p in fake.prompts())
