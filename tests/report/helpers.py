"""Run directories in the real on-disk format, written through the run store, without a model.

``write_run`` lays out what ``ming-eval run`` leaves behind for the tasks reports know (GenEval with
its tag metrics and per-prompt scores, understanding suites with ``overall`` on 0-100): the manifest
with per-task configuration, ``<task>/scores.jsonl``, ``<task>/results.json`` and the run's
``results.json`` with the suite summaries, as the runner writes them. Scores are drawn from a
seeded generator, so a test can plant a regression.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ming_eval.core.results import DETAIL_BREAKDOWN, DETAIL_GROUPS, DETAIL_PROMPT, SampleScore, TaskResult
from ming_eval.core.statistic import Mean, MeanOfMeans, Statistic
from ming_eval.runner.results import write_run_results
from ming_eval.stats.bootstrap import BootstrapConfig, grouped_mean_metrics, mean_metric, mean_of_means_metric
from ming_eval.stats.headline import headline_metric
from ming_eval.store.jsonl import write_jsonl_atomic
from ming_eval.store.manifest import FORMAT, RunManifest
from ming_eval.store.run_store import RunStore

GENEVAL_TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
FAST = BootstrapConfig(n_resamples=200)


def model_block(name: str = "ming-lite-uni", checkpoint: str = "inclusionAI/Ming-Lite-Uni") -> dict[str, Any]:
    return {
        "card": {
            "name": name,
            "class": "ming_eval.models.ming_lite_uni:MingLiteUni",
            "family": "ming",
            "checkpoint": "inclusionAI/Ming-Lite-Uni",
            "revision": None,
            "dtype": "bfloat16",
            "capabilities": ["understand", "generate"],
            "options": {},
            "batch_size": {"understand": 8},
            "protocol": {"understand": {"max_new_tokens": 512}, "generate": {"seed": 42, "cfg": 5.0}},
            "tasks": {},
            "paper_name": "Ming-Lite-Uni",
        },
        "checkpoint": checkpoint,
    }


def task_block(
    task: str,
    *,
    capability: str,
    protocol: dict[str, Any],
    options: dict[str, Any] | None = None,
    data_name: str | None = None,
) -> dict[str, Any]:
    # GenEval's cards (geneval_rewritten's too) name the original prompt file
    default_data = "evaluation_metadata.jsonl" if capability == "generate" else f"{task}.tsv"
    return {
        "task": {
            "name": task,
            "class": f"ming_eval.tasks.x:{task}",
            "capability": capability,
            "version": "1",
            "data": [
                {
                    "name": data_name or default_data,
                    "url": None,
                    "sha256": "0" * 64,
                    "md5": None,
                    "size": None,
                    "description": "",
                }
            ],
            "options": options or {},
        },
        "options": options or {},
        "protocol": protocol,
        "seed": 0,
    }


@dataclass
class TaskData:
    """Per-sample scores of one task. ``breakdown`` maps sample index to {breakdown: key}."""

    scores: list[float]
    ids: list[str] | None = None
    breakdown: list[dict[str, str]] | None = None
    clusters: list[str] | None = None
    statuses: list[str] | None = None
    #: the text each score stores for reports (a generation prompt), as the engine stores it
    prompts: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    data_name: str | None = None
    #: a declared headline other than the plain mean (x 100); ``groups`` are its per-sample group keys
    headline: Statistic | None = None
    groups: list[dict[str, str]] | None = None

    def sample_ids(self) -> list[str]:
        return self.ids or [f"{i:05d}" for i in range(len(self.scores))]


def understanding_scores(n: int, p: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=n) < p).astype(float).tolist()


def geneval_data(seed: int, *, per_tag: int = 20, accuracy: dict[str, float] | None = None) -> TaskData:
    """Prompts of the six tags, each scored as the share of 4 images found correct."""
    rng = np.random.default_rng(seed)
    acc = accuracy or dict(zip(GENEVAL_TAGS, (0.99, 0.76, 0.53, 0.87, 0.26, 0.30), strict=True))
    scores, breakdown = [], []
    for tag in GENEVAL_TAGS:
        for _ in range(per_tag):
            scores.append(float(rng.binomial(4, acc[tag])) / 4.0)
            breakdown.append({"tag": tag})
    return TaskData(scores, breakdown=breakdown)


def _result(task: str, data: TaskData) -> TaskResult:
    v = np.asarray(data.scores, dtype=float)
    clusters = data.clusters
    if task.startswith("geneval"):
        assert data.breakdown is not None
        tags = [b["tag"] for b in data.breakdown]
        per_tag = grouped_mean_metrics(v, tags, cfg=FAST)
        metrics = {
            "overall": mean_of_means_metric(v, tags, cfg=FAST),
            **per_tag,
            "prompt_accuracy": mean_metric((v > 0).astype(float), cfg=FAST),
        }
        return TaskResult(task, "overall", metrics, breakdowns={"tag": per_tag}, headline=MeanOfMeans(by="tag"))
    headline = data.headline or Mean(scale=100.0)
    keys = {
        name: np.asarray(
            [
                {**(data.breakdown or [{}] * len(v))[i], **(data.groups or [{}] * len(v))[i]}[name]
                for i in range(len(v))
            ],
            dtype=object,
        )
        for name in headline.key_names()
    }
    metrics = {"overall": headline_metric(headline, v, keys, clusters=clusters, cfg=FAST)}
    if task == "ocrbench":  # the final score as on the full benchmark (1000 questions); overall = it / 10
        metrics["final_score"] = mean_metric(v, clusters=clusters, scale=1000.0, cfg=FAST)
    breakdowns = {}
    if data.breakdown:
        name = next(iter(data.breakdown[0]))
        breakdowns[name] = grouped_mean_metrics(v, [b[name] for b in data.breakdown], scale=100.0, cfg=FAST)
    return TaskResult(task, "overall", metrics, breakdowns=breakdowns, headline=headline)


def write_run(
    root: Path,
    tasks: dict[str, TaskData],
    *,
    model: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    protocol_overrides: dict[str, Any] | None = None,
    skip_results: tuple[str, ...] = (),
    limit: int | None = None,
) -> Path:
    """Write a finished run of ``tasks`` under ``root``; tasks in ``skip_results`` stop after scoring."""
    store = RunStore.create(root)
    mblock = copy.deepcopy(model or model_block())
    if checkpoint is not None:
        mblock["checkpoint"] = checkpoint
    configs: dict[str, Any] = {}
    results: dict[str, TaskResult] = {}
    for task, data in tasks.items():
        generate = task.startswith("geneval")
        protocol = (
            {"seed": 42, "cfg": 5.0, "steps": 30, "height": 512, "width": 512}
            if generate
            else {"max_new_tokens": 512, "temperature": 0.0, "prompt_style": "default"}
        )
        protocol.update(protocol_overrides or {})
        cfg = task_block(
            task,
            capability="generate" if generate else "understand",
            protocol=protocol,
            options=data.options,
            data_name=data.data_name,
        )
        cfg["model"] = mblock
        configs[task] = cfg
        ts = store.task(task)
        rows = []
        for i, sid in enumerate(data.sample_ids()):
            details: dict[str, Any] = {}
            if data.breakdown:
                details[DETAIL_BREAKDOWN] = data.breakdown[i]
            if data.clusters:
                details["cluster"] = data.clusters[i]
            if data.prompts:
                details[DETAIL_PROMPT] = data.prompts[i]
            if data.groups:
                details[DETAIL_GROUPS] = data.groups[i]
            status = data.statuses[i] if data.statuses else "ok"
            score = data.scores[i]
            rows.append(SampleScore(sid, score, correct=score == 1.0, status=status, details=details).to_record())
        write_jsonl_atomic(ts.scores_path, rows)
        write_jsonl_atomic(ts.predictions_path, [{"id": r["id"], "status": "ok", "output": "x"} for r in rows])
        (ts.scoring_dir).mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(ts.scoring_dir / "rank-00000.jsonl", rows)
        if task in skip_results:
            continue
        result = _result(task, data)
        result.counts.update({"n": len(rows), "missing": 0, "ok": len(rows)})
        if limit is not None:
            result.info["limit"] = limit
            result.notes.append(f"--limit {limit}: a subset of the benchmark; not comparable to published numbers")
        ts.write_results(result)
        results[task] = result
    manifest = RunManifest.model_validate(
        {
            "format": FORMAT,
            "created": "2026-11-27T00:00:00+00:00",
            "tasks": configs,
            "model": mblock,
            "limits": dict.fromkeys(tasks, limit),
            "invocations": [
                {
                    "command": "run",
                    "start": "2026-11-27T00:00:00+00:00",
                    "end": "2026-11-27T00:10:00+00:00",
                    "status": "finished",
                    "argv": ["ming-eval", "run"],
                    "git": {"commit": "abc1234def", "dirty": False},
                    "versions": {"python": "3.11"},
                    "host": {"world_size": 1},
                }
            ],
        }
    )
    store.write_manifest(manifest)
    write_run_results(store, results)
    return root


UNDERSTANDING = (
    "mmbench_test_en_v11",
    "mmbench_test_cn_v11",
    "mmstar",
    "mmmu_dev_val",
    "mathvista_mini",
    "hallusionbench",
    "ai2d_test",
    "mmvet",
    "ocrbench",
)


def understanding_suite(seed: int, n: int = 60, shift: float = 0.0) -> dict[str, TaskData]:
    """All 9 understanding tasks, with accuracies near Ming-Lite-Uni's published ones (plus ``shift``)."""
    base = {
        "mmbench_test_en_v11": 0.81,
        "mmbench_test_cn_v11": 0.80,
        "mmstar": 0.6,
        "mmmu_dev_val": 0.51,
        "mathvista_mini": 0.68,
        "hallusionbench": 0.52,
        "ai2d_test": 0.84,
        "mmvet": 0.72,
        "ocrbench": 0.88,
    }
    return {
        t: TaskData(understanding_scores(n, min(1.0, p + shift), seed + i)) for i, (t, p) in enumerate(base.items())
    }
