"""Comparing two runs: planted regressions are found, identical runs are not, protocols are checked."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ming_eval.core.statistic import AllCorrect, Average, Mean, Sum
from ming_eval.errors import MingEvalError, RunStoreError
from ming_eval.report.compare import ProtocolMismatchError, compare_runs
from ming_eval.report.render_compare import render_markdown
from ming_eval.stats.bootstrap import BootstrapConfig
from ming_eval.stats.headline import CLUSTER_SWAP_EXACT, CLUSTER_SWAP_MC
from ming_eval.stats.paired import MCNEMAR_CHI2
from tests.report.helpers import GENEVAL_TAGS, TaskData, geneval_data, model_block, understanding_scores, write_run

FAST = BootstrapConfig(n_resamples=300)


def _flip(scores, fraction, seed, to=0.0):
    """A copy of binary ``scores`` with ``fraction`` of the samples not already ``to`` set to ``to``."""
    rng = np.random.default_rng(seed)
    out = np.array(scores)
    candidates = np.flatnonzero(out != to)
    out[rng.choice(candidates, int(len(out) * fraction), replace=False)] = to
    return out.tolist()


@pytest.fixture()
def base_data():
    return {
        "mmstar": TaskData(understanding_scores(400, 0.6, 1)),
        "ai2d_test": TaskData(understanding_scores(400, 0.8, 2)),
        "geneval": geneval_data(3, per_tag=40),
    }


def test_identical_runs_show_no_regression(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    b = write_run(tmp_path / "b", base_data, checkpoint="/ck/step2")  # only the checkpoint differs
    comp = compare_runs(a, b, cfg=FAST)
    assert not comp.regressions and not comp.improvements and not comp.forced_differences
    for t in comp.tasks:
        assert t.overall.delta == 0.0 and t.overall.p_value == 1.0 and t.p_adjusted == 1.0
        assert t.n_shared == t.n_base == t.n_new
    assert "No significant regression (3 benchmarks compared)" in render_markdown(comp)


def test_a_planted_regression_is_found_and_only_there(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    worse = dict(base_data, mmstar=TaskData(_flip(base_data["mmstar"].scores, 0.08, 7)))
    b = write_run(tmp_path / "b", worse)
    comp = compare_runs(a, b, cfg=FAST)
    assert [t.task for t in comp.regressions] == ["mmstar"]
    mm = comp.tasks[0].overall
    assert mm.delta == pytest.approx(-8.0) and mm.test == MCNEMAR_CHI2 and mm.discordant == (32, 0)
    assert mm.ci_high < 0 < 1 - mm.p_value
    md = render_markdown(comp)
    assert "Significant regression in 1 of 3 benchmarks: mmstar" in md and "▼ regression" in md


def test_min_delta_and_correction(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    b = write_run(tmp_path / "b", dict(base_data, mmstar=TaskData(_flip(base_data["mmstar"].scores, 0.03, 7))))
    strict = compare_runs(a, b, min_delta=5.0, cfg=FAST)  # a 3-point drop is below 5 points
    assert strict.tasks[0].significant and not strict.regressions
    holm = compare_runs(a, b, cfg=FAST)
    plain = compare_runs(a, b, correction="none", cfg=FAST)
    assert holm.tasks[0].p_adjusted == pytest.approx(min(1.0, 3 * plain.tasks[0].p_adjusted))


def test_geneval_compares_the_mean_of_tag_means_and_each_tag(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    gen = base_data["geneval"]
    scores = list(gen.scores)
    positions = [i for i, b in enumerate(gen.breakdown) if b["tag"] == "position"]
    for i in positions:
        scores[i] = max(0.0, scores[i] - 0.5)  # position collapses
    b = write_run(tmp_path / "b", dict(base_data, geneval=replace(gen, scores=scores)))
    comp = compare_runs(a, b, cfg=FAST)
    (g,) = [t for t in comp.tasks if t.task == "geneval"]
    assert g.overall.estimator == "mean of tag means" and not g.notes
    assert g.overall.delta == pytest.approx(g.metric_new - g.metric_base)  # the stored metrics' difference
    assert list(g.categories["tag"]) == list(GENEVAL_TAGS)
    assert g.categories["tag"]["position"].delta < 0 and g.categories["tag"]["position"].p_value < 0.01
    assert g.categories["tag"]["counting"].delta == 0.0
    assert g.regression


def test_only_shared_samples_are_compared_and_counted(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    fewer = replace(base_data["ai2d_test"], scores=base_data["ai2d_test"].scores[:350])
    comp = compare_runs(a, write_run(tmp_path / "b", dict(base_data, ai2d_test=fewer)), cfg=FAST)
    (t,) = [t for t in comp.tasks if t.task == "ai2d_test"]
    assert (t.n_shared, t.n_base, t.n_new) == (350, 400, 350)
    assert "ai2d_test: compared on the 350 samples both runs scored (base 400, new 350)" in render_markdown(comp)


def test_runs_on_different_samples_cannot_be_compared(tmp_path):
    a = write_run(tmp_path / "a", {"mmstar": TaskData([1.0, 0.0], ids=["1", "2"])})
    b = write_run(tmp_path / "b", {"mmstar": TaskData([1.0, 0.0], ids=["3", "4"])})
    with pytest.raises(MingEvalError, match="share no sample ids"):
        compare_runs(a, b)


def test_different_protocols_are_refused_unless_forced(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    b = write_run(tmp_path / "b", base_data, protocol_overrides={"max_new_tokens": 128})
    with pytest.raises(ProtocolMismatchError) as exc:
        compare_runs(a, b)
    assert "mmstar: protocol.max_new_tokens: 512 -> 128" in str(exc.value) and "--force" in str(exc.value)
    assert "geneval: protocol.max_new_tokens: added (128)" in str(exc.value)
    forced = compare_runs(a, b, force=True, cfg=FAST)
    assert forced.forced_differences["mmstar"] == ["protocol.max_new_tokens: 512 -> 128"]
    assert "compared with --force although the protocols differ" in render_markdown(forced)


def test_model_settings_and_judge_options_count_but_names_and_batch_sizes_do_not(tmp_path):
    data = {"mmvet": TaskData([1.0, 0.5, 0.0])}
    a = write_run(tmp_path / "a", data)
    renamed = model_block(name="ming-lite-uni-v2")
    renamed["card"]["batch_size"] = {"understand": 32}
    assert not compare_runs(a, write_run(tmp_path / "b", data, model=renamed), cfg=FAST).forced_differences
    bf16 = model_block()
    bf16["card"]["dtype"] = "float16"
    judged = {"mmvet": replace(data["mmvet"], options={"judge": "gpt-4o-mini"})}
    with pytest.raises(ProtocolMismatchError, match=r"model.card.dtype: 'bfloat16' -> 'float16'"):
        compare_runs(a, write_run(tmp_path / "c", data, model=bf16))
    with pytest.raises(ProtocolMismatchError, match=r"options.judge: added \('gpt-4o-mini'\)"):
        compare_runs(a, write_run(tmp_path / "d", judged))


def test_a_different_scoring_version_is_a_protocol_difference(tmp_path):
    data = {"mmstar": TaskData([1.0, 0.0])}
    a = write_run(tmp_path / "a", data)
    b = write_run(tmp_path / "b", data)
    for root, version in ((a, "1"), (b, "2")):
        (root / "mmstar" / "scoring" / "config.json").write_text(json.dumps({"scoring_version": version}))
    with pytest.raises(ProtocolMismatchError, match=r"scoring.scoring_version: '1' -> '2'"):
        compare_runs(a, b)


def test_incomplete_runs_say_what_is_missing(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    b = write_run(tmp_path / "b", base_data, skip_results=("ai2d_test",))
    with pytest.raises(RunStoreError) as exc:
        compare_runs(a, b)
    assert f"{b}: task ai2d_test: scores but no results.json" in str(exc.value)
    comp = compare_runs(a, b, tasks=["mmstar"], cfg=FAST)  # the finished tasks can still be compared
    assert [t.task for t in comp.tasks] == ["mmstar"]
    with pytest.raises(MingEvalError, match="not in both runs"):
        compare_runs(a, b, tasks=["mmbench_dev_en"])


def test_tasks_only_in_one_run_are_listed(tmp_path, base_data):
    a = write_run(tmp_path / "a", base_data)
    b = write_run(tmp_path / "b", {"mmstar": base_data["mmstar"], "mmvet": TaskData([1.0])})
    comp = compare_runs(a, b, cfg=FAST)
    assert comp.only_base == ["ai2d_test", "geneval"] and comp.only_new == ["mmvet"]
    with pytest.raises(MingEvalError, match="no task in common"):
        compare_runs(a, write_run(tmp_path / "c", {"mmvet": TaskData([1.0])}))


def test_clusters_are_resampled_and_tested_as_units(tmp_path):
    base = understanding_scores(200, 0.7, 4)
    clusters = [f"q{i // 4}" for i in range(200)]  # circular groups of 4 rotations
    a = write_run(tmp_path / "a", {"mmbench_dev_en": TaskData(base, clusters=clusters)})
    b = write_run(tmp_path / "b", {"mmbench_dev_en": TaskData(_flip(base, 0.05, 3), clusters=clusters)})
    t = compare_runs(a, b, cfg=FAST).tasks[0]
    assert t.overall.n == 200 and t.overall.n_clusters == 50
    assert t.overall.test.startswith("sign-flip")  # McNemar assumes independent samples


def _hallusion_like(n_sets: int, broken: int) -> TaskData:
    """Sets of 2 figures x 2 questions, all right except figure 0 / question 0 in the first ``broken`` sets."""
    scores, groups, clusters = [], [], []
    for k in range(n_sets):
        for fig in ("0", "1"):
            for q in ("0", "1"):
                scores.append(0.0 if k < broken and fig == "0" and q == "0" else 1.0)
                groups.append({"figure": fig, "question": q})
                clusters.append(f"chart_{k}")
    headline = Average(parts=[Mean(), AllCorrect(group="figure"), AllCorrect(group="question")], scale=100.0)
    return TaskData(scores, clusters=clusters, groups=groups, headline=headline)


def test_a_composite_headline_is_recomputed_and_tested_by_clusters(tmp_path):
    a = write_run(tmp_path / "a", {"hallusionbench": _hallusion_like(2, 0)})
    b = write_run(tmp_path / "b", {"hallusionbench": _hallusion_like(2, 1)})
    (t,) = compare_runs(a, b, cfg=FAST).tasks
    # one wrong answer of 8: aAcc 87.5, fAcc 75 and qAcc 75 (a figure and a question group broken)
    assert t.overall.base == 100.0 and t.overall.new == pytest.approx((87.5 + 75 + 75) / 3)
    assert t.overall.delta == pytest.approx(t.metric_new - t.metric_base) and not t.notes
    assert t.overall.estimator == "mean of mean, share of figures all right, share of questions all right"
    # one of two clusters moved: swapping its runs gives +delta or -delta, both as extreme
    assert t.overall.test == CLUSTER_SWAP_EXACT and t.overall.p_value == 1.0 and t.overall.n_clusters == 2
    many = compare_runs(
        write_run(tmp_path / "c", {"hallusionbench": _hallusion_like(40, 0)}),
        write_run(tmp_path / "d", {"hallusionbench": _hallusion_like(40, 20)}),
        cfg=FAST,
    ).tasks[0]
    assert many.overall.delta == pytest.approx(t.overall.delta)  # half the sets, the same shares
    assert many.overall.test == CLUSTER_SWAP_MC and many.overall.p_value < 0.001 and many.regression
    assert many.overall.ci_high < many.overall.delta / 2 < 0


def test_circular_accuracy_counts_questions_not_rotations(tmp_path):
    clusters = [f"q{i // 4}" for i in range(200)]
    base = [1.0] * 200
    new = [0.0 if i % 4 == 0 and i < 40 else 1.0 for i in range(200)]  # one rotation of 10 questions
    circular = AllCorrect(group="cluster", scale=100.0)
    a = write_run(tmp_path / "a", {"mmbench_dev_en": TaskData(base, clusters=clusters, headline=circular)})
    b = write_run(tmp_path / "b", {"mmbench_dev_en": TaskData(new, clusters=clusters, headline=circular)})
    (t,) = compare_runs(a, b, cfg=FAST).tasks
    assert t.overall.delta == pytest.approx(-20.0)  # 10 of 50 questions lost; the row mean drops 5 points
    assert t.metric_new == pytest.approx(80.0) and t.overall.n_clusters == 50
    assert t.overall.test == CLUSTER_SWAP_EXACT and t.overall.p_value == pytest.approx(2 / 2**10)


def test_a_split_headline_ignores_the_other_split(tmp_path):
    splits = [{"split": "validation" if i % 2 else "dev"} for i in range(100)]
    base = [1.0] * 100
    new = [0.0 if i % 2 == 0 and i < 40 else 1.0 for i in range(100)]  # 20 dev answers lost
    val = Mean(where={"split": "validation"}, scale=100.0)
    a = write_run(tmp_path / "a", {"mmmu_dev_val": TaskData(base, breakdown=splits, headline=val)})
    b = write_run(tmp_path / "b", {"mmmu_dev_val": TaskData(new, breakdown=splits, headline=val)})
    (t,) = compare_runs(a, b, cfg=FAST).tasks
    assert t.overall.delta == 0.0 and t.overall.n == 50 and not t.regression
    assert t.categories["split"]["dev"].delta == pytest.approx(-40.0)


def test_a_sum_headline_compares_counts(tmp_path):
    base = understanding_scores(300, 0.7, 5)
    a = write_run(tmp_path / "a", {"ocrbench": TaskData(base, headline=Sum(scale=0.1))})
    b = write_run(tmp_path / "b", {"ocrbench": TaskData(_flip(base, 0.1, 2), headline=Sum(scale=0.1))})
    (t,) = compare_runs(a, b, cfg=FAST).tasks
    assert t.overall.delta == pytest.approx(-3.0)  # 30 answers lost, / 10
    assert t.metric_base == pytest.approx(sum(base) / 10) and t.overall.base == pytest.approx(sum(base) / 10)


def test_a_stored_metric_the_declaration_does_not_give_is_said(tmp_path):
    data = {"hallusionbench": TaskData([1.0, 0.0, 1.0, 1.0])}
    a = write_run(tmp_path / "a", data)
    results = json.loads((a / "hallusionbench" / "results.json").read_text())
    results["metrics"]["overall"]["value"] = 61.0
    (a / "hallusionbench" / "results.json").write_text(json.dumps(results))
    comp = compare_runs(a, write_run(tmp_path / "b", data), cfg=FAST)
    assert "the mean of the per-sample scores (75) is not the stored overall (61)" in comp.tasks[0].notes[0]
    del results["headline"]
    results["metrics"]["overall"]["value"] = 75.0
    (a / "hallusionbench" / "results.json").write_text(json.dumps(results))
    comp = compare_runs(a, write_run(tmp_path / "c", data), cfg=FAST)
    assert comp.tasks[0].notes == [
        "results.json of hallusionbench declares no headline statistic (made by an older ming-eval): overall "
        "is compared as the mean of the per-sample scores"
    ]


def test_package_versions_are_shown_not_refused(tmp_path):
    data = {"mmstar": TaskData([1.0, 0.0])}
    a = write_run(tmp_path / "a", data)
    b = write_run(tmp_path / "b", data)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["invocations"][-1]["versions"]["transformers"] = "5.24.0"
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert compare_runs(a, b, cfg=FAST).versions == ["transformers: None -> 5.24.0"]


@pytest.mark.parametrize(("alpha", "min_delta"), [(0.0, 0.0), (1.0, 0.0), (0.05, -1.0)])
def test_bad_thresholds(tmp_path, alpha, min_delta):
    a = write_run(tmp_path / "a", {"mmstar": TaskData([1.0])})
    with pytest.raises(MingEvalError):
        compare_runs(a, a, alpha=alpha, min_delta=min_delta)
