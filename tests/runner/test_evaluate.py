"""The whole engine, in process, on the test plugins (tests/engine_plugins.py)."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from ming_eval import load_run
from ming_eval.cards import loader
from ming_eval.errors import ConfigMismatchError, MingEvalError, RunStoreError, TooManyFailuresError
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore
from tests.engine_plugins import PixelModel, write_cards


def _config(tmp_path, **kw):
    base = {"tasks": ["color_vqa", "paint"], "model": "pixel", "out": tmp_path / "run", "argv": ["test"]}
    base.update(kw)
    return RunConfig(**base)


def _set_model_options(cards, **options):
    path = cards / "model_zoo" / "pixel.yaml"
    card = yaml.safe_load(path.read_text())
    card["options"] = options
    path.write_text(yaml.safe_dump(card))
    loader._INDEX = None


def test_run_writes_store_and_results(engine_cards, tmp_path):
    out = evaluate(_config(tmp_path))
    assert set(out.results) == {"color_vqa", "paint"} and out.model_loaded
    vqa = out.results["color_vqa"]
    assert vqa.primary == "accuracy" and vqa.counts["n"] == 24 and vqa.counts["missing"] == 0
    m = vqa.primary_metric
    assert m.ci_low <= m.value <= m.ci_high
    run = tmp_path / "run"
    preds = [json.loads(line) for line in (run / "color_vqa" / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == [str(i) for i in range(24)]  # sample order
    images = sorted(
        p.relative_to(run / "paint" / "images").as_posix() for p in (run / "paint" / "images").rglob("*.png")
    )
    assert images[:2] == ["00000/samples/0000.png", "00000/samples/0001.png"] and len(images) == 12
    assert (run / "paint" / "images" / "00000" / "metadata.jsonl").is_file()
    manifest = json.loads((run / "manifest.json").read_text())
    inv = manifest["invocations"][0]
    assert inv["status"] == "finished" and inv["end"] and "torch" in inv["versions"]
    assert manifest["tasks"]["paint"]["protocol"]["height"] == 8
    assert manifest["tasks"]["paint"]["seed"] == 7  # from the card's protocol


def test_load_run_dataframes(engine_cards, tmp_path):
    evaluate(_config(tmp_path))
    data = load_run(tmp_path / "run")
    assert set(data.predictions.task) == {"color_vqa", "paint"} and len(data.predictions) == 30
    assert {"task", "id", "score", "correct", "reason", "status"} <= set(data.scores.columns)
    primary = data.metrics[data.metrics.primary]
    assert set(primary.task) == {"color_vqa", "paint"}
    assert set(data.breakdowns.key) == {"warm", "cool"}


def test_resume_does_not_load_model_and_keeps_results(engine_cards, tmp_path):
    first = evaluate(_config(tmp_path))
    loads = PixelModel.loads
    again = evaluate(_config(tmp_path))
    assert PixelModel.loads == loads and not again.model_loaded
    assert {k: v.to_dict() for k, v in again.results.items()} == {k: v.to_dict() for k, v in first.results.items()}
    assert all(s.already_done == s.total for s in again.inference)


def test_results_do_not_depend_on_batch_size(engine_cards, tmp_path):
    a = evaluate(_config(tmp_path, out=tmp_path / "a", batch_size=1))
    b = evaluate(_config(tmp_path, out=tmp_path / "b", batch_size=5))
    assert {k: v.to_dict() for k, v in a.results.items()} == {k: v.to_dict() for k, v in b.results.items()}
    for task in ("color_vqa", "paint"):
        pa = (tmp_path / "a" / task / "scores.jsonl").read_text()
        pb = (tmp_path / "b" / task / "scores.jsonl").read_text()
        assert pa == pb


def test_image_granularity_resume(engine_cards, tmp_path):
    evaluate(_config(tmp_path, tasks=["paint"]))
    run = tmp_path / "run"
    img = run / "paint" / "images" / "00002" / "samples" / "0001.png"
    original = img.read_bytes()
    img.unlink()
    records = run / "paint" / "records" / "rank-00000.jsonl"
    lines = records.read_text().splitlines()
    records.write_text("\n".join(line for line in lines if '"id":"00002"' not in line) + "\n")
    PixelModel.batch_sizes = []
    evaluate(_config(tmp_path, tasks=["paint"]))
    assert PixelModel.batch_sizes == [1]  # only sample 00002 ran
    assert img.read_bytes() == original  # and its missing image is identical (same per-image seed)


def test_replaced_image_is_regenerated_and_rescored(engine_cards, tmp_path):
    evaluate(_config(tmp_path, tasks=["paint"]))
    img = tmp_path / "run" / "paint" / "images" / "00001" / "samples" / "0000.png"
    original = img.read_bytes()
    img.unlink()  # e.g. a user deletes a corrupt image of a finished sample
    PixelModel.batch_sizes = []
    out = evaluate(_config(tmp_path, tasks=["paint"]))
    assert PixelModel.batch_sizes == [1] and img.read_bytes() == original
    scoring = (tmp_path / "run" / "paint" / "scoring" / "rank-00000.jsonl").read_text().splitlines()
    assert sum('"id":"00001"' in line for line in scoring) == 2  # scored again for the new file
    assert out.results["paint"].counts["n"] == 6


def test_image_made_again_by_fewer_ranks_replaces_the_record_in_a_higher_ranks_file(engine_cards, tmp_path):
    # the rank files a 3-rank run leaves (sample i in rank-0000{i % 3}); then one process makes an image of
    # sample 00002 again, and its new record lands in rank-00000, read before rank-00002's old one
    evaluate(_config(tmp_path, tasks=["paint"]))
    task = tmp_path / "run" / "paint"
    lines = (task / "records" / "rank-00000.jsonl").read_text().splitlines(keepends=True)
    for rank in range(3):
        (task / "records" / f"rank-0000{rank}.jsonl").write_text("".join(lines[rank::3]))
    img = task / "images" / "00002" / "samples" / "0001.png"
    img.unlink()
    evaluate(_config(tmp_path, tasks=["paint"]))
    merged = {rec["id"]: rec for rec in map(json.loads, (task / "predictions.jsonl").read_text().splitlines())}
    assert merged["00002"]["files"][1] == [img.stat().st_size, img.stat().st_mtime_ns]
    records = sorted((task / "records").glob("rank-*.jsonl"))
    before = [path.read_bytes() for path in records]
    out = evaluate(_config(tmp_path, tasks=["paint"], force=True))  # the full resume path, not the stamp
    assert out.inference[0].already_done == 6  # nothing is made again
    assert [path.read_bytes() for path in records] == before


def test_a_rank_left_in_the_environment_without_its_world_is_refused(engine_cards, tmp_path, monkeypatch):
    # RANK=1 without WORLD_SIZE: the process took itself for rank 1 of 1, left the lock, the manifest and
    # the results to a rank 0 that did not exist, and ended with status 0 having written no result
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(MingEvalError, match=r"RANK=1 with WORLD_SIZE=1: a rank must be below the world size"):
        evaluate(_config(tmp_path))
    assert not (tmp_path / "run").exists()


def test_config_change_is_refused_then_forced(engine_cards, tmp_path):
    evaluate(_config(tmp_path))
    with pytest.raises(ConfigMismatchError) as err:
        evaluate(_config(tmp_path, seed=123))
    assert "seed: 0 -> 123" in str(err.value) and "--force" in str(err.value)
    out = evaluate(_config(tmp_path, seed=123, force=True))
    assert out.results
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any("seed" in d for d in manifest["invocations"][-1]["forced_differences"])


def test_failures_are_recorded_counted_and_retried(engine_cards, tmp_path):
    _set_model_options(engine_cards, fail_on="square")  # every paint prompt fails
    out = evaluate(_config(tmp_path, tasks=["color_vqa", "paint"]))
    paint = out.results["paint"]
    assert paint.counts["inference_failed"] == 6 and paint.primary_metric.value == 0.0
    assert any("inference failures" in n for n in paint.notes)
    scores = [json.loads(x) for x in (tmp_path / "run" / "paint" / "scores.jsonl").read_text().splitlines()]
    assert all("cannot handle" in s["reason"] for s in scores)
    _set_model_options(engine_cards)  # the card changed: resuming needs --force
    loads = PixelModel.loads
    evaluate(_config(tmp_path, force=True))  # failed samples are not retried by default
    assert PixelModel.loads == loads
    fixed = evaluate(_config(tmp_path, retry_failed=True, force=True))
    assert fixed.results["paint"].counts.get("inference_failed", 0) == 0
    assert fixed.results["paint"].primary_metric.value > 0


def test_oom_splits_batches(engine_cards, tmp_path):
    _set_model_options(engine_cards, oom_above=1)
    out = evaluate(_config(tmp_path, tasks=["color_vqa"], batch_size=4))
    assert out.results["color_vqa"].counts.get("inference_failed", 0) == 0
    assert out.inference[0].stats.oom_splits >= 1 and out.inference[0].stats.final_batch_size == 1


def test_systematic_failure_stops_but_keeps_records(engine_cards, tmp_path):
    _set_model_options(engine_cards, fail_on="colour")  # every VQA question fails
    with pytest.raises(TooManyFailuresError):
        evaluate(_config(tmp_path, tasks=["color_vqa"]))
    records = (tmp_path / "run" / "color_vqa" / "records" / "rank-00000.jsonl").read_text().splitlines()
    assert len(records) == 16
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["invocations"][-1]["status"].startswith("failed: TooManyFailuresError")


def test_manifest_holds_no_secret(engine_cards, tmp_path):
    _set_model_options(engine_cards, api_key="sk-supersecretvalue123")
    evaluate(_config(tmp_path, tasks=["color_vqa"], argv=["ming-eval", "--api-key", "sk-othersecret12345"]))
    text = (tmp_path / "run" / "manifest.json").read_text()
    assert "supersecret" not in text and "othersecret" not in text


def test_limit_and_incomplete(engine_cards, tmp_path):
    out = evaluate(_config(tmp_path, tasks=["color_vqa"], limit=5))
    r = out.results["color_vqa"]
    assert r.counts["n"] == 5 and any("--limit 5" in n for n in r.notes) and not r.comparable
    # a later full run resumes the five and adds the rest
    PixelModel.batch_sizes = []
    full = evaluate(_config(tmp_path, tasks=["color_vqa"]))
    assert full.results["color_vqa"].counts["n"] == 24 and sum(PixelModel.batch_sizes) == 19
    assert full.results["color_vqa"].comparable


def test_rescore_with_changed_option_moves_old_scores(engine_cards, tmp_path):
    evaluate(_config(tmp_path, tasks=["color_vqa"]))
    loads = PixelModel.loads
    same = rescore(tmp_path / "run")
    assert PixelModel.loads == loads and same["color_vqa"].counts["n"] == 24
    rescore(tmp_path / "run", task_options={"color_vqa": {"lowercase": False}})
    kept = list((tmp_path / "run" / "color_vqa").glob("scoring.*"))
    assert len(kept) == 1 and (kept[0] / "rank-00000.jsonl").is_file()


def test_missing_predictions_block_results(engine_cards, tmp_path):
    evaluate(_config(tmp_path, tasks=["color_vqa"]))
    records = tmp_path / "run" / "color_vqa" / "records" / "rank-00000.jsonl"
    records.write_text("\n".join(records.read_text().splitlines()[:20]) + "\n")
    import shutil

    shutil.rmtree(tmp_path / "run" / "color_vqa" / "scoring")
    with pytest.raises(RunStoreError, match="4 of 24 samples have no score"):
        rescore(tmp_path / "run")
    partial = rescore(tmp_path / "run", allow_incomplete=True)
    assert partial["color_vqa"].counts["missing"] == 4


def test_data_checksum_mismatch_names_file(engine_cards, tmp_path):
    import os
    from pathlib import Path

    from ming_eval.errors import ChecksumError

    data = Path(os.environ["MING_EVAL_CACHE"]) / "data" / "color_vqa" / "vqa.jsonl"
    data.write_text(data.read_text() + "\n")
    with pytest.raises(ChecksumError) as err:
        evaluate(_config(tmp_path, tasks=["color_vqa"]))
    assert "vqa.jsonl" in str(err.value) and "ming-eval data download color_vqa" in str(err.value)


def test_optional_data_is_not_fetched_at_start(engine_cards, tmp_path):
    card_path = engine_cards / "tasks" / "color_vqa.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["data"].append({"name": "judge_prompts.py", "url": "https://example.invalid/x.py", "required": False})
    card_path.write_text(yaml.safe_dump(card))
    loader._INDEX = None
    out = evaluate(_config(tmp_path, tasks=["color_vqa"]))  # offline: fetching it would fail
    assert out.results["color_vqa"].counts["n"] == 24


def test_failed_rescore_is_recorded_in_the_manifest(engine_cards, tmp_path):
    import shutil

    evaluate(_config(tmp_path, tasks=["color_vqa"]))
    shutil.rmtree(tmp_path / "run" / "color_vqa" / "records")
    with pytest.raises(RunStoreError, match="no predictions for task color_vqa"):
        rescore(tmp_path / "run")
    last = json.loads((tmp_path / "run" / "manifest.json").read_text())["invocations"][-1]
    assert last["command"] == "score" and last["status"].startswith("failed: RunStoreError") and last["end"]


def test_scores_carry_breakdown_keys_for_comparisons(engine_cards, tmp_path):
    evaluate(_config(tmp_path, tasks=["color_vqa"]))
    rows = [json.loads(line) for line in (tmp_path / "run" / "color_vqa" / "scores.jsonl").read_text().splitlines()]
    assert all(r["details"]["breakdown"]["category"] in ("warm", "cool") for r in rows)
    assert "cluster" not in rows[0]["details"]


def test_a_run_directory_from_the_dict_based_manifest_resumes(tmp_path, monkeypatch):
    """tests/store/data/manifest_v1.json was written by the code before the manifest had a schema, for
    `run color_vqa paint --model pixel --limit 3` on these cards (4 + 2 samples): resuming under it
    finds the same configuration and keeps its invocations as they were."""
    cards = write_cards(tmp_path / "cards", Path(os.environ["MING_EVAL_CACHE"]), n_vqa=4, n_paint=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(cards))
    monkeypatch.setattr(loader, "_INDEX", None)
    fixture = Path(__file__).parents[1] / "store" / "data" / "manifest_v1.json"
    (tmp_path / "run").mkdir()
    shutil.copy(fixture, tmp_path / "run" / "manifest.json")
    out = evaluate(_config(tmp_path, limit=3))
    assert out.results["color_vqa"].counts["n"] == 3
    old, new = json.loads(fixture.read_text()), json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert new["invocations"][:2] == old["invocations"]
    assert new["invocations"][2]["forced_differences"] == [] and new["invocations"][2]["status"] == "finished"
    assert {k: new[k] for k in ("created", "tasks", "model", "limits")} == {
        k: old[k] for k in ("created", "tasks", "model", "limits")
    }
