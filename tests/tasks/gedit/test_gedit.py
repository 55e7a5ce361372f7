"""GEdit-Bench: upstream's reply reading, its statistics, and a judged edit run end to end.

Provenance of the expected values (recorded outside the project, 2026-12-03, in a scratch folder with
Step1X-Edit at commit 570eba6e, GEdit-Bench/ files copied there, ``megfile.smart_open`` shimmed by ``open``):

* ``UPSTREAM_READINGS``: ``viescore/utils.py::mllm_output_to_dict(text, give_up_parsing)`` on each reply;
  a dict is shown by its ``score`` list, ``False`` as None, a random guess (``guess_if_cannot_parse``) as
  GIVE_UP, ``"rate_limit_exceeded"`` (upstream's caller raises and asks again) as None.
* ``UPSTREAM_STATS``: ``calculate_statistics.analyze_scores`` on per-group CSVs holding ``fixture_scores()``
  (en rows) plus one cn row per key with scores 10 / 10 (filtered out by the language).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ming_eval.cards import loader
from ming_eval.cards.schema import TaskCard
from ming_eval.core.results import SampleScore
from ming_eval.core.sample import EditRequest, ImageRef, Sample
from ming_eval.core.task import TaskContext
from ming_eval.data.files import DataFiles
from ming_eval.errors import DataError
from ming_eval.graders.base import EndpointSpec
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore
from ming_eval.tasks.gedit.data import GROUPS
from ming_eval.tasks.gedit.task import GEditOptions, GEditTask
from ming_eval.tasks.gedit.viescore import GIVE_UP, VieScorePrompts, read_reply
from ming_eval.tasks.vlm.protocol_source import PythonSource
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.gedit.helpers import STANDIN_PROMPTS, rows, write_dataset, write_standin

UPSTREAM_READINGS = [
    ('{\n"score" : [7, 9],\n"reasoning" : "sky is purple"\n}', False, [7, 9]),
    ('||V^=^V||\n{"score": [3, 8], "reasoning": "ok"}\n||V^=^V||', False, [3, 8]),
    ('Here: {"score": 6, "reasoning": "single"} done', False, [6]),
    ("[6, 0]", False, [6, 0]),
    ("[6,0]", False, [6, 0]),
    ("scores [6, 0]", False, [6, 0]),
    ("7", False, [7]),
    ("11", False, None),
    ("I cannot evaluate these images.", False, None),
    ("I cannot evaluate these images.", True, GIVE_UP),
    ("[6, 0]", True, GIVE_UP),
    ("{score: 5, reasoning: fine}", False, [5]),
    ('{"score": [4, 5], "reasoning": "unterminated}', False, None),
    ('{"reasoning": "no score"}', False, None),
    ('{"score": [12, 3], "reasoning": "off scale"}', False, [12, 3]),
    ("rate_limit_exceeded", False, None),
    ("", False, None),
    ('{"score": [8, 7], "reasoning": "a"} and {"score": [1, 1]}', False, None),
]

UPSTREAM_STATS = {
    "sc": 4.863636363636363,
    "pq": 5.151515151515151,
    "o": 4.1128160002965775,
    "isc": 5.409090909090909,
    "ipq": 5.045454545454546,
    "io": 4.613433624953073,
    "groups_o": {
        "background_change": 2.1213203435596424,
        "color_alter": 3.2761423749153966,
        "material_alter": 4.405872486248408,
        "motion_change": 6.109051323707207,
        "ps_human": 2.942809041582063,
        "style_change": 3.4676203981669373,
        "subject-add": 5.609441894037007,
        "subject-remove": 4.1573786516665265,
        "subject-replace": 5.577291955788512,
        "text_change": 2.449489742783178,
        "tone_transfer": 5.124557790807482,
    },
}


@pytest.mark.parametrize(("text", "give_up", "expected"), UPSTREAM_READINGS)
def test_replies_are_read_as_upstream_reads_them(text, give_up, expected):
    got = read_reply(text, give_up)
    if expected is None or expected is GIVE_UP:
        assert got is expected or (expected is None and isinstance(got, dict) and "score" not in got)
    else:
        assert isinstance(got, dict) and got["score"] == expected


def fixture_scores() -> list[tuple[str, str, int, int, bool]]:
    out = []
    for gi, g in enumerate(GROUPS):
        for k in range(2 + gi % 3):
            out.append((g, f"{g}-{k}", (gi * 7 + k * 3) % 11, (gi * 5 + k * 4 + 2) % 11, k % 2 == 0))
    return out


def make_task(**options: object) -> GEditTask:
    card = TaskCard.model_validate(
        {"name": "gedit_bench", "class": "ming_eval.tasks.gedit.task:GEditTask", "capability": "edit"}
    )
    task = GEditTask.from_card(card, dict(options))
    assert isinstance(task, GEditTask)
    return task


def test_statistics_match_upstreams_calculation():
    task = make_task()
    image = ImageRef.from_bytes(b"", "unused")
    samples, scores = [], []
    for group, key, sc, pq, inter in fixture_scores():
        meta = {"task_type": group, "intersection": inter, "language": "en"}
        samples.append(Sample(key, EditRequest(image, "x"), meta=meta))
        o = math.sqrt(sc * pq)
        scores.append(SampleScore(key, o, details={"sc": sc, "pq": pq, "o": o, "judge": "endpoint:gpt-4.1@x"}))
    ctx = TaskContext(protocol=None, data=DataFiles("gedit_bench", []))  # type: ignore[arg-type]
    result = task.aggregate(samples, scores, ctx)
    m = result.metrics
    assert result.primary_metric.value == pytest.approx(UPSTREAM_STATS["o"], abs=1e-12)
    assert m["sc"].value == pytest.approx(UPSTREAM_STATS["sc"], abs=1e-12)
    assert m["pq"].value == pytest.approx(UPSTREAM_STATS["pq"], abs=1e-12)
    assert m["intersection_overall"].value == pytest.approx(UPSTREAM_STATS["io"], abs=1e-12)
    assert m["intersection_sc"].value == pytest.approx(UPSTREAM_STATS["isc"], abs=1e-12)
    assert m["intersection_pq"].value == pytest.approx(UPSTREAM_STATS["ipq"], abs=1e-12)
    for group, value in UPSTREAM_STATS["groups_o"].items():
        assert result.breakdowns["task_type"][group].value == pytest.approx(value, abs=1e-12)
    assert result.judge == "endpoint:gpt-4.1@x" and "endpoint:gpt-4.1@x" in result.notes[0]
    assert result.comparable


# -- the pinned prompt source -----------------------------------------------------------------------
#: sha256 of the prompts upstream's VIEScore(task="tie") assembles from the pinned vie_prompts.py
#: (same scratch folder as above: its SC_prompt / PQ_prompt joins and ``.replace("<instruction>", ...)``)
PINNED_SC = {
    "Change the sky to purple": "18e1cb31584d6cdf2663384dd52fdc1d12934b77383a9dff1e426b8b4b616d87",
    "把天空变成紫色": "d0c1740bf3b9cb1c962c70c162fa4e8ed272f75f6dce262ac6cb6e3b6192daed",
}
PINNED_PQ = "2473ff2c7406e06545c5c039ceb039ff2604ebacf150868a48f0bf07c9e733b0"
SRC_ENV = "MING_EVAL_STEP1X_SRC"  # a Step1X-Edit checkout at commit 570eba6e


def test_prompts_read_from_the_pinned_source_are_upstreams():
    import hashlib

    from ming_eval.data.files import cache_root

    candidates = [cache_root() / "data" / "gedit_bench" / "vie_prompts.py"]
    if os.environ.get(SRC_ENV):
        candidates.insert(0, Path(os.environ[SRC_ENV]) / "GEdit-Bench" / "viescore" / "vie_prompts.py")
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        pytest.skip("the pinned vie_prompts.py is not available (ming-eval data download gedit_bench)")
    prompts = VieScorePrompts.read(PythonSource(found, str(found)))
    for instruction, digest in PINNED_SC.items():
        assert hashlib.sha256(prompts.sc(instruction).encode()).hexdigest() == digest
    assert hashlib.sha256(prompts.pq.encode()).hexdigest() == PINNED_PQ


def test_a_source_without_the_prompt_variables_is_refused(tmp_path):
    path = tmp_path / "vie_prompts.py"
    path.write_text(STANDIN_PROMPTS.replace("_prompts_0shot_rule_PQ", "_renamed"), encoding="utf-8")
    with pytest.raises(DataError, match="_prompts_0shot_rule_PQ"):
        VieScorePrompts.read(PythonSource(path, "test"))


# -- end to end ---------------------------------------------------------------------------------------
def judge_reply(text: str, body: dict) -> str:
    """SC: 8 and 6 (min 6) for key number 0, 4 and 9 (min 4) otherwise; unreadable for text_change
    number 1; PQ: a bare list [7, 5] (min 5)."""
    if "Instruction:" in text:
        if "text_change number 1" in text:
            return "I would rather not say."
        return '{"score": [8, 6], "reasoning": "fine"}' if "number 0" in text else '{"score" : [4, 9]}'
    return "[7, 5]"


@pytest.fixture()
def gedit_cards(engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.engine_plugins import PixelEditor, write_edit_cards

    write_edit_cards(engine_cards, Path(os.environ["MING_EVAL_CACHE"]), n=1)
    digest = write_standin(Path(os.environ["MING_EVAL_CACHE"]) / "data" / "gedit_bench" / "vie_prompts.py")
    data = write_dataset(tmp_path / "hf", rows())
    card = yaml.safe_load((Path(__file__).parents[3] / "tasks" / "gedit_bench.yaml").read_text())
    card["data"][0]["sha256"] = digest
    card["data"][0].pop("size")
    card["options"]["parquet_dir"] = str(data)
    (engine_cards / "tasks" / "gedit_bench.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setattr(loader, "_INDEX", None)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    PixelEditor.edit_batches = []
    return engine_cards


def test_edit_run_judged_end_to_end(gedit_cards, tmp_path):
    with FakeOpenAI(judge_reply) as fake:
        judge = json.dumps({"model": "gpt-4.1", "base_url": fake.url})
        config = RunConfig(
            tasks=["gedit_bench"],
            model="pixel-editor",
            out=tmp_path / "run",
            argv=["test"],
            task_options={"gedit_bench": {"judge": json.loads(judge)}},
        )
        result = evaluate(config).results["gedit_bench"]
        bodies = list(fake.bodies)
        # scores thrown away: re-scoring with the warm reply cache asks nothing and gives the same numbers
        run = tmp_path / "run" / "gedit_bench"
        shutil.rmtree(run / "scoring")
        (run / "scores.jsonl").unlink()
        again = rescore(tmp_path / "run", argv=["test"])["gedit_bench"]
        assert len(fake.bodies) == len(bodies)
        assert again.primary_metric.value == result.primary_metric.value
    images = tmp_path / "run" / "gedit_bench" / "images" / "fullset"
    assert (images / "color_alter" / "en" / "0100.png").is_file()
    assert (images / "color_alter" / "en" / "0100_SRCIMG.png").is_file()
    # every request: prompt first, then the images (source and edit for SC, the edit alone for PQ)
    prompts = VieScorePrompts.read(
        PythonSource(Path(os.environ["MING_EVAL_CACHE"]) / "data" / "gedit_bench" / "vie_prompts.py", "t")
    )
    sc_bodies = [b for b in bodies if "Instruction:" in b["messages"][-1]["content"][0]["text"]]
    pq_bodies = [b for b in bodies if b not in sc_bodies]
    first = next(b for b in sc_bodies if "color_alter number 0" in b["messages"][-1]["content"][0]["text"])
    content = first["messages"][-1]["content"]
    assert content[0]["text"] == prompts.sc("make color_alter number 0")
    assert [p["type"] for p in content] == ["text", "image_url", "image_url"]
    assert all(b["messages"][-1]["content"][0]["text"] == prompts.pq for b in pq_bodies)
    assert all([p["type"] for p in b["messages"][-1]["content"]] == ["text", "image_url"] for b in pq_bodies)
    assert first["max_tokens"] == 1400 and first["model"] == "gpt-4.1"
    # images as upstream's GPT backbone encodes them: RGB JPEG at Pillow's default quality, no resize
    source = Image.open(images / "color_alter" / "en" / "0100_SRCIMG.png").convert("RGB")
    expected = io.BytesIO()
    source.save(expected, format="JPEG")
    assert content[1]["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(expected.getvalue()).decode()
    urls = [p["image_url"]["url"] for b in bodies for p in b["messages"][-1]["content"] if p["type"] == "image_url"]
    assert all(u.startswith("data:image/jpeg;base64,") for u in urls)
    # 22 samples: 11 with SC 6, 10 with SC 4, one unreadable (asked twice, then unparsed, not guessed)
    assert result.counts["n"] == 22 and result.counts["judge_unparsed"] == 1
    assert len(bodies) == 2 * 22 + 2  # the unreadable sample: both questions asked once more
    per_group = {g: (math.sqrt(6 * 5) + math.sqrt(4 * 5)) / 2 for g in GROUPS}
    per_group["text_change"] = math.sqrt(6 * 5) / 2
    assert result.primary_metric.value == pytest.approx(sum(per_group.values()) / 11)
    assert result.metrics["intersection_overall"].value == pytest.approx(math.sqrt(30))
    assert any("judge_unparsed" in n or "no readable score" in n for n in result.notes)
    assert "gpt-4.1" in result.judge


def test_the_qwen_preset_asks_as_upstreams_qwen_backbone(gedit_cards, tmp_path):
    with FakeOpenAI(judge_reply) as fake:
        options = {
            "judge_preset": "qwen2.5-vl-72b",
            "judge": {"model": "Qwen2.5-VL-72B-Instruct-AWQ", "base_url": fake.url},
        }
        config = RunConfig(
            tasks=["gedit_bench"],
            model="pixel-editor",
            out=tmp_path / "run",
            argv=["test"],
            task_options={"gedit_bench": options},
        )
        result = evaluate(config).results["gedit_bench"]
        bodies = list(fake.bodies)
    body = next(b for b in bodies if "color_alter number 0" in b["messages"][-1]["content"][-1].get("text", ""))
    content = body["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["image_url", "image_url", "text"]  # images first, as upstream's Qwen path
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in content[:2])
    assert (body["max_tokens"], body["temperature"]) == (512, 0.0)
    assert result.counts["n"] == 22 and "Qwen2.5-VL-72B-Instruct-AWQ" in result.judge


def test_judge_presets_fill_what_is_not_set_and_explicit_options_win():
    qwen = GEditOptions(judge_preset="qwen2.5-vl-72b")
    spec = qwen.judge_spec("t")
    assert isinstance(spec, EndpointSpec)
    assert (spec.model, spec.image_format, qwen.image_order, qwen.max_tokens, qwen.temperature) == (
        "Qwen2.5-VL-72B-Instruct-AWQ",
        "png",
        "images_first",
        512,
        0.0,
    )
    gpt = GEditOptions(judge="endpoint:gpt-4.1", max_tokens=300)
    spec = gpt.judge_spec("t")
    assert isinstance(spec, EndpointSpec)
    assert (spec.image_format, spec.jpeg_quality, gpt.max_tokens, gpt.temperature) == ("jpeg", 75, 300, 1.0)
    own = GEditOptions(judge={"model": "gpt-4.1", "image_format": "png"}).judge_spec("t")
    assert isinstance(own, EndpointSpec) and own.image_format == "png"


def test_an_undecodable_source_image_is_a_counted_inference_failure(gedit_cards, tmp_path):
    records = rows(per_group=1, languages=("en",))
    records[0]["input_image"] = {"bytes": b"\x89PNG broken", "path": "x.png"}
    data = write_dataset(tmp_path / "broken", records)
    with FakeOpenAI(judge_reply) as fake:
        judge = {"model": "gpt-4.1", "base_url": fake.url}
        config = RunConfig(
            tasks=["gedit_bench"],
            model="pixel-editor",
            out=tmp_path / "run",
            argv=["test"],
            task_options={"gedit_bench": {"judge": judge, "parquet_dir": str(data)}},
        )
        result = evaluate(config).results["gedit_bench"]
    assert result.counts["n"] == 11 and result.counts["inference_failed"] == 1
    assert result.counts["ok"] == 10
    failed = [json.loads(x) for x in (tmp_path / "run" / "gedit_bench" / "predictions.jsonl").read_text().splitlines()]
    [error] = [p["error"] for p in failed if p["status"] == "failed"]
    assert "key 0000" in error


def test_published_rows_fill_the_gedit_tables_and_only_the_bagel_readme_rows_are_verified():
    from ming_eval.report.baselines import load_catalog
    from ming_eval.report.tables import load_table_specs

    specs = {s.name: {c.key for c in s.columns} for s in load_table_specs()}
    rows_ = [b for b in load_catalog().by_key.values() if b.table in ("gedit_bench", "gedit_bench_cn")]
    assert all(set(b.values) <= specs[b.table] for b in rows_)
    verified = sorted(b.model for b in rows_ if all(b.verified(c) for c in b.values))
    assert verified == ["BAGEL", "GPT-4o", "Gemini 2.0", "Step1X-Edit (v1.0)"]
    assert {b.table for b in rows_ if not any(b.verified(c) for c in b.values)} == {"gedit_bench", "gedit_bench_cn"}
    assert all(b.judge.startswith("GPT-4.1") for b in rows_)
    bagel = next(b for b in rows_ if b.model == "BAGEL")
    assert bagel.values == {"sc": 7.36, "pq": 6.83, "overall": 6.52}


def test_ming_lite_uni_edits_gedit_bench_end_to_end(gedit_cards, tmp_path):
    from tests.models.zoo_support import tiny_cards

    card = tiny_cards("ming-lite-uni")
    with FakeOpenAI(judge_reply) as fake:
        config = RunConfig(
            tasks=["gedit_bench"],
            model=card,
            out=tmp_path / "ming",
            argv=["test"],
            limit=3,
            task_options={"gedit_bench": {"judge": {"model": "gpt-4.1", "base_url": fake.url}}},
        )
        result = evaluate(config).results["gedit_bench"]
    assert result.counts["n"] == 3 and result.counts["ok"] == 3
    assert not result.comparable  # three samples of two task types
    edited = sorted((tmp_path / "ming" / "gedit_bench" / "images" / "fullset").rglob("*.png"))
    assert len([p for p in edited if not p.name.endswith("_SRCIMG.png")]) == 3
    # keys 0000 and 0001 (background_change numbers 0, 1), 0100 (color_alter number 0): mean of type means
    background = (math.sqrt(6 * 5) + math.sqrt(4 * 5)) / 2
    assert result.primary_metric.value == pytest.approx((background + math.sqrt(6 * 5)) / 2)


def test_the_hub_commit_the_data_came_from_is_recorded_and_a_revision_can_be_pinned(tmp_path, monkeypatch):
    import huggingface_hub

    sha = "0123456789abcdef0123456789abcdef01234567"
    folder = write_dataset(tmp_path / "hub" / "datasets--stepfun-ai--GEdit-Bench" / "snapshots" / sha, rows(1))
    asked: list[str] = []

    def fake_download(repo_id: str, *, revision: str, **kwargs: object) -> str:
        asked.append(revision)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    ctx = TaskContext(protocol=None, data=DataFiles("gedit_bench", [], cache_dir=tmp_path / "c"))  # type: ignore[arg-type]
    for revision, note in (("main", f"at commit {sha} (option revision main; pin it with"), (sha, f"at commit {sha}")):
        task = make_task(revision=revision)
        samples = task.samples(ctx)
        scores = [SampleScore(s.id, 1.0, details={"sc": 1.0, "pq": 1.0, "o": 1.0, "judge": "j"}) for s in samples]
        result = task.aggregate(samples, scores, ctx)
        assert result.info["dataset_commit"] == sha and result.info["dataset_revision"] == revision
        assert any(note in n for n in result.notes)
    assert asked == ["main", sha]
    local = make_task(parquet_dir=str(folder))
    samples = local.samples(ctx)
    result = local.aggregate(samples, [SampleScore(s.id, 0.0) for s in samples], ctx)
    assert result.info["dataset_commit"] is None and any("no hub commit" in n for n in result.notes)


def test_a_finished_run_runs_again_when_the_dataset_files_change(gedit_cards, tmp_path):
    # the samples come from parquet files outside the card's data files: the finished-run stamp must
    # see them, or a re-run (and score RUN) would report the old dataset's numbers as finished
    data = tmp_path / "hf"
    with FakeOpenAI(judge_reply) as fake:
        config = RunConfig(
            tasks=["gedit_bench"],
            model="pixel-editor",
            out=tmp_path / "run",
            argv=["test"],
            task_options={"gedit_bench": {"judge": {"model": "gpt-4.1", "base_url": fake.url}}},
        )
        first = evaluate(config)
        assert evaluate(config).inference[0].already_done == first.results["gedit_bench"].counts["n"] == 22
        write_dataset(data, rows(per_group=3))  # one more edit per task type and language
        again = evaluate(config)
        assert again.inference[0].total == 33 and again.inference[0].ran_here == 11
        assert again.results["gedit_bench"].counts["n"] == 33
        # score RUN keys its stamp the same way: with the dataset cut back, the task is scored again
        write_dataset(data, rows(per_group=1))
        rescored = rescore(tmp_path / "run", argv=["test"])["gedit_bench"]
        assert rescored.counts["n"] == 11


def test_the_finished_run_stamp_follows_the_cached_hub_snapshot(tmp_path, monkeypatch):
    import huggingface_hub

    from ming_eval.store.finished import stamp_key

    hub = tmp_path / "hub" / "datasets--stepfun-ai--GEdit-Bench" / "snapshots"
    old, new = (write_dataset(hub / sha, rows(1)) for sha in ("a" * 40, "b" * 40))
    cached: list[Path] = [old]

    def cache_lookup(repo_id: str, *, local_files_only: bool = False, **kwargs: object) -> str:
        assert local_files_only  # the stamp is checked without going online
        if not cached:
            raise FileNotFoundError("not in the cache")
        return str(cached[0])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", cache_lookup)
    task = make_task(revision="main")
    data = DataFiles("gedit_bench", [], cache_dir=tmp_path / "c")

    def key() -> dict:
        return stamp_key({}, None, {}, data, task.sample_sources(data))

    before = key()
    assert key() == before
    cached[0] = new  # `data download` moved revision main to another commit
    assert key() != before
    cached.clear()  # not downloaded: nothing to sign, and no error until the samples are built
    assert task.sample_sources(data) == []
