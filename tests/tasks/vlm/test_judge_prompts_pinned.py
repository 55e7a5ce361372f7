"""The judge prompts assembled from VLMEvalKit's pinned source files are VLMEvalKit's own, byte for byte.

Runs where the pinned files are available: ming-eval's cache (after ``ming-eval data download mmstar
hallusionbench mathvista_mini mmvet``) or a VLMEvalKit checkout at the pinned commit named by
``$MING_EVAL_VLMEVALKIT_SRC`` (then it must be there: a wrong checkout fails instead of skipping).
CI has neither and skips; there the stand-in tests (test_judge_prompts.py) cover the assembly.

Provenance of the expected values. ``ALL_ROWS``: VLMEvalKit commit e8e78f05 was run outside the project
(a scratch virtualenv, 2026-11-27) on the cross-check files and outputs of ``crosscheck_data``; for every
row, in file order, its own builders made the judge prompt (``build_prompt`` / ``build_prompt_cn`` with
``build_option_str(build_choices(row))``, after ``MMMU_preproc`` for MMMU; ``YOrN_match_prompt``;
``build_mathvista_gpt4_prompt``; ``build_mmvet_gpt4_prompt``); the value is the first 16 hex digits of the
sha256 of the JSON list of those prompts. ``SENT``: recorded by the first cross-check (issue 4): the first
12 hex digits of the sha256 of each prompt VLMEvalKit's scoring sent to its judge (MMBench CN with the
outputs of seed 14, as then); every one must be among the prompts assembled here.
"""

import hashlib
import json
import os

import pytest

from ming_eval.tasks.vlm.judge_prompts import MathVistaJudgePrompt, McqJudgePrompt, MMVetJudgePrompt, YesNoJudgePrompt
from tests.tasks.vlm import crosscheck_data as cd
from tests.tasks.vlm.helpers import load
from tests.tasks.vlm.standins import SRC_ENV, pinned_sources

ALL_ROWS = {
    "MMBench_DEV_EN": "e2dd1fd0a9eac344",
    "MMBench_DEV_CN": "fa28feaca4a67794",
    "MMStar": "e7166f112c8c52e8",
    "MMMU_DEV_VAL": "255b76b2c2287d48",
    "HallusionBench": "164fb54d255272e7",
    "MathVista_MINI": "60d3ef28268c8f05",
    "MMVet": "90319d78522f2c3a",
}
SENT = {
    ("MMBench_DEV_EN", 14): "0c4d68e4d2e4 1c63900e91e3 2ca930efc9c1 3e91b2e73a81 3f7534836919 6b4fd92c6321 "
    "764206812c20 7a68dce5dae3 ca0422ea00fc",
    ("MMBench_DEV_CN", 14): "11721182622b 3d988dc4b0ac c3dee5a37583 d100a374fb18 f01747dc6eba",
    ("MMStar", 6): "1d17b9d17f8a 3fe97a9f7d7d 49d677786ad1 5082d459a6c1 6dfa9206797c 7f74549a8a4e ac581b1e06f9 "
    "b5302ec12e9e b6f9ac36db3e bdaaa9395e37 c1815bcbbd2d d1fdc84a9a20 ec1b07f76707 ec4df6cc4c30 "
    "ef164de289b1 f531e3e20c3e",
    ("MMMU_DEV_VAL", 12): "0c44e5d0ebea 63ff633fa45b 939fc4d2740d 96bbc4c705d5 a24442892a78 d6f2d9038c9b",
    ("MathVista_MINI", 12): "19384116320e 1a093bf84e9d 1a30d8e1a983 1d0f06511e4f 3ae76f69a95a 3f9dbffc6620 "
    "3fafb96ab153 457f6f02b1e7 4bf55fdeec43 5063d038dd46 513faf7cb5f0 65e090dadac5 "
    "782b18314a9a 84204ed49dde 844bb010efd9 868f8c179750 8738e16742d0 965eb5d78a48 "
    "a9b76de2430f d9179445ad8f d94793e79615 dbcf16d4dc0e e2991f7c44b8 e40c8a1d533a "
    "e9ba9eecf5ea",
}


@pytest.fixture(scope="module")
def pinned():
    found, why = pinned_sources()
    if not found:
        if os.environ.get(SRC_ENV):
            pytest.fail(f"${SRC_ENV} is set, but: {why}")
        pytest.skip(f"the pinned VLMEvalKit prompt sources are not available: {why}")
    return found


def judge_prompts(dataset, tmp_path, sources, seed=None):
    """Our judge prompt for every sample of the cross-check file, with its cross-check output."""
    task, samples, ctx = load(cd.TASKS[dataset], tmp_path, cd.GENERATORS[dataset], sources=sources)
    outputs = cd.outputs_for(dataset, tmp_path / f"{task.opts.dataset}.tsv", seed)
    if dataset == "HallusionBench":
        yes_no = YesNoJudgePrompt.load(ctx.data)
        return [yes_no.build(s.meta["question"], outputs[s.id]) for s in samples]
    if dataset == "MathVista_MINI":
        mathvista = MathVistaJudgePrompt.load(ctx.data)
        return [mathvista.build(s.meta["question"], outputs[s.id]) for s in samples]
    if dataset == "MMVet":
        mmvet = MMVetJudgePrompt.load(ctx.data)
        return [mmvet.build(s.meta["question"], str(s.target), outputs[s.id]) for s in samples]
    mcq = McqJudgePrompt.load(ctx.data)
    return [mcq.build(s.meta["question"], s.meta["choices"], outputs[s.id]) for s in samples]


@pytest.mark.parametrize("dataset", list(ALL_ROWS))
def test_every_rows_prompt_is_vlmevalkits(dataset, tmp_path, pinned):
    prompts = judge_prompts(dataset, tmp_path, pinned)
    digest = hashlib.sha256(json.dumps(prompts, ensure_ascii=False).encode()).hexdigest()[:16]
    assert digest == ALL_ROWS[dataset]


@pytest.mark.parametrize(("dataset", "seed"), list(SENT))
def test_prompts_vlmevalkit_sent_are_among_ours(dataset, seed, tmp_path, pinned):
    ours = {hashlib.sha256(p.encode()).hexdigest()[:12] for p in judge_prompts(dataset, tmp_path, pinned, seed)}
    assert set(SENT[dataset, seed].split()) <= ours
