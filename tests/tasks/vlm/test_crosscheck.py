"""Our scoring against VLMEvalKit's own, on the same data, outputs and (scripted) judge replies.

Provenance of the expected values: VLMEvalKit commit e8e78f05 (2026-08-18) was cloned outside the
project and its scoring functions were run in a separate virtualenv (pandas 3.1, Python 3.11) on the
files and outputs that ``crosscheck_data`` generates, with a fake judge object answering through the
same ``crosscheck_data.judge_for`` judges: ``mcq_circular_eval`` / ``mcq_vanilla_eval`` + ``report_acc``
(MMBench DEV EN and CN, MMStar, MMMU_DEV_VAL), ``YOrN_Extraction`` + ``YOrN_auxeval`` +
``Hallusion_rating``, ``MathVista_auxeval`` + ``MathVista_acc``, ``MMVet_auxeval`` + ``MMVet_acc`` and
``OCRBench_eval`` (recorded 2026-11-27); for the prompts, ``ImageMCQDataset.build_prompt`` (+
``MMMUDataset.split_MMMU``), ``ImageBaseDataset.build_prompt`` and ``Qwen2VLPromptMixin.build_prompt``.

The scripted judge replies depend on the sample a judge prompt is about, not on the prompt's wording,
so the scoring tests run on the stand-in prompt sources (``standins.py``) everywhere, and also on the
pinned VLMEvalKit files where those are available: the same results either way. That the judge prompts
are VLMEvalKit's byte for byte is checked by ``test_judge_prompts_pinned.py``.

Judge call counts differ on purpose: our cache answers repeated identical prompts; circular questions
are judged row by row (VLMEvalKit stops at a question's first miss); MathVista's text answers, which
VLMEvalKit never credits, are not sent to the judge.
"""

import hashlib
import json
import re

import pytest

from ming_eval.core.sample import ImagePart
from ming_eval.tasks.vlm.mcq import _group_outcome
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm import crosscheck_data as cd
from tests.tasks.vlm.helpers import load, score
from tests.tasks.vlm.standins import pinned_sources

pytestmark = pytest.mark.slow

DIGESTS = {
    "MMBench_DEV_EN": "986b1ba86825e518",
    "MMBench_DEV_CN": "6b0a2667ff081ff5",
    "MMStar": "345a8a7bc91d010e",
    "MMMU_DEV_VAL": "dbe02df906f776a7",
    "MathVista_MINI": "9b3f319c5f910693",
    "HallusionBench": "91c3bcfa8846f518",
    "MMVet": "adba32af5266fb1c",
    "OCRBench": "5084fbeaa7cf77b7",
}

# --- recorded from VLMEvalKit (see the module docstring) ---------------------------------------------
MMBENCH_EN = {"hits": "010000100100000000000001", "Overall": 0.1666666667, "CP": 0.25, "FP-S": 0.125, "LR": 0.125}
MMBENCH_CN = {"hits": "100000100000", "Overall": 0.1666666667}
MMSTAR = {
    "hits": "101101101110110001111000000101100111111011010001",
    "Overall": 0.5625,
    "image scene": 0.5416666667,
    "numeric": 0.5833333333,
}
MMMU = {
    "hits": dict(
        zip(
            ["dev_Art_22", "dev_Art_23", *sorted(f"validation_Art_{i}" for i in range(22))],
            "010111101011001100010110",
            strict=True,
        )
    ),
    "validation": 0.5454545455,
    "dev": 0.5,
}
HALLUSION = {
    "scores": "11000011000111001110100100111001",
    "aAcc": 50.0,
    "fAcc": 31.25,
    "qAcc": 6.25,
    "VD": (50.0, 37.5, 12.5),
    "VS": (50.0, 25.0, 0.0),
}
MATHVISTA = {"acc": 40.0, "prefetch_rate": 37.5, "figure question answering": 40.0, "statistical reasoning": 40.0}
MMVET = {
    "Overall": 39.5833333333,
    "rec": 40.8333333333,
    "ocr": 46.6666666667,
    "spat": 45.0,
    "know": 15.0,
    "ocr_rec": 48.3333333333,
    "grades": [
        0.7,
        0.3,
        0.0,
        0.9,
        1.0,
        0.1,
        0.2,
        0.8,
        0.2,
        0.5,
        0.0,
        0.4,
        0.2,
        0.2,
        0.2,
        0.1,
        0.1,
        0.9,
        0.1,
        0.3,
        0.8,
        0.9,
        0.4,
        0.2,
    ],
}
OCRBENCH = {"Final Score": 10, "Text Recognition": 6, "Doc-oriented VQA": 2, "Key Information Extraction": 2}


JUDGE = {}


@pytest.fixture(scope="module")
def judge_server():
    with FakeOpenAI(lambda prompt, body: JUDGE["now"](prompt, body.get("temperature", 0.0)), lifetime_s=300) as fake:
        yield fake


@pytest.fixture(params=["standin", "pinned"])
def sources(request, tmp_path):
    """The prompt sources: the tests' stand-ins (always), and VLMEvalKit's pinned files where present."""
    if request.param == "standin":
        return None
    found, why = pinned_sources()
    if not found:
        pytest.skip(f"the pinned VLMEvalKit prompt sources are not available: {why}")
    return found


def run(task_name, dataset, tmp_path, monkeypatch, judge_server, sources=None):
    monkeypatch.setenv("OPENAI_BASE_URL", judge_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    seen = {}

    def make(path):
        out = cd.GENERATORS[dataset](path)
        seen["path"] = out
        return out

    opts = {} if dataset == "OCRBench" else {"judge_retries": 0, "judge_cache_dir": str(tmp_path / "cache")}
    task, samples, ctx = load(task_name, tmp_path, make, sources=sources, **opts)
    assert cd.metadata_digest(seen["path"]) == DIGESTS[dataset], "the generators changed: re-record the cross-check"
    outputs = cd.outputs_for(dataset, seen["path"])
    if dataset != "OCRBench":
        JUDGE["now"] = cd.judge_for(dataset, cd.rows_of(seen["path"]), outputs)
    scores, result = score(task, ctx, samples, outputs)
    return samples, scores, result


def group_hits(samples, scores):
    rows = {}
    for s, sc in zip(samples, scores, strict=True):
        rows.setdefault(s.meta["group"], []).append(sc)
    return "".join(str(int(bool(_group_outcome(rows[s.meta["group"]])))) for s in samples if s.meta["main"])


def test_mmbench_circular(tmp_path, monkeypatch, judge_server, sources):
    samples, scores, result = run("mmbench_dev_en", "MMBench_DEV_EN", tmp_path, monkeypatch, judge_server, sources)
    assert group_hits(samples, scores) == MMBENCH_EN["hits"]
    assert result.metrics["overall"].value == pytest.approx(100 * MMBENCH_EN["Overall"])
    for ability in ("CP", "FP-S", "LR"):
        assert result.breakdowns["l2-category"][ability].value == pytest.approx(100 * MMBENCH_EN[ability])
    samples, scores, result = run(
        "mmbench_dev_cn", "MMBench_DEV_CN", tmp_path / "cn", monkeypatch, judge_server, sources
    )
    assert group_hits(samples, scores) == MMBENCH_CN["hits"]  # Chinese judge prompt
    assert result.metrics["overall"].value == pytest.approx(100 * MMBENCH_CN["Overall"])


def test_mmstar(tmp_path, monkeypatch, judge_server, sources):
    _, scores, result = run("mmstar", "MMStar", tmp_path, monkeypatch, judge_server, sources)
    assert "".join(str(int(s.score)) for s in scores) == MMSTAR["hits"]
    assert result.metrics["overall"].value == pytest.approx(100 * MMSTAR["Overall"])
    for label in ("image scene", "numeric"):
        assert result.breakdowns["l2-category"][label].value == pytest.approx(100 * MMSTAR[label])


def test_mmmu(tmp_path, monkeypatch, judge_server, sources):
    samples, scores, result = run("mmmu_dev_val", "MMMU_DEV_VAL", tmp_path, monkeypatch, judge_server, sources)
    assert {s.id: str(int(sc.score)) for s, sc in zip(samples, scores, strict=True)} == MMMU["hits"]
    assert result.metrics["overall"].value == pytest.approx(100 * MMMU["validation"])
    assert result.metrics["dev"].value == pytest.approx(100 * MMMU["dev"])


def test_hallusionbench(tmp_path, monkeypatch, judge_server, sources):
    _, scores, result = run("hallusionbench", "HallusionBench", tmp_path, monkeypatch, judge_server, sources)
    assert "".join(str(int(s.score)) for s in scores) == HALLUSION["scores"]
    for name in ("aAcc", "fAcc", "qAcc"):
        assert result.metrics[name].value == pytest.approx(HALLUSION[name])
    assert result.metrics["overall"].value == pytest.approx(sum(HALLUSION[m] for m in ("aAcc", "fAcc", "qAcc")) / 3)
    for cat in ("VD", "VS"):
        got = tuple(result.breakdowns["category"][f"{cat} {m}"].value for m in ("aAcc", "fAcc", "qAcc"))
        assert got == pytest.approx(HALLUSION[cat])


def test_mathvista(tmp_path, monkeypatch, judge_server, sources):
    _, _, result = run("mathvista_mini", "MathVista_MINI", tmp_path, monkeypatch, judge_server, sources)
    assert result.metrics["overall"].value == pytest.approx(MATHVISTA["acc"])
    assert result.metrics["prefetch_rate"].value == pytest.approx(MATHVISTA["prefetch_rate"])
    assert result.breakdowns["task"]["figure question answering"].value == pytest.approx(40.0)
    assert result.breakdowns["skill"]["statistical reasoning"].value == pytest.approx(40.0)


def test_mmvet(tmp_path, monkeypatch, judge_server, sources):
    _, scores, result = run("mmvet", "MMVet", tmp_path, monkeypatch, judge_server, sources)
    assert [s.score for s in scores] == MMVET["grades"]
    assert result.metrics["overall"].value == pytest.approx(MMVET["Overall"])
    for cap in ("ocr", "spat", "know"):
        assert result.breakdowns["capability"][cap].value == pytest.approx(MMVET[cap])
    assert result.breakdowns["category"]["ocr_rec"].value == pytest.approx(MMVET["ocr_rec"])
    # VLMEvalKit keeps capabilities and category combinations in one dict, so the rows whose category is
    # exactly "rec" count twice in its "rec" (18 + 6 rows, 52.5); here each sample counts once
    grades = MMVET["grades"]
    rec_rows = [g for i, g in enumerate(grades) if i % 4 != 3]  # every category but "math,ocr,spat" has rec
    only_rec = [g for i, g in enumerate(grades) if i % 4 == 0]
    assert result.breakdowns["capability"]["rec"].value == pytest.approx(100 * sum(rec_rows) / 18)
    assert 100 * (sum(rec_rows) + sum(only_rec)) / 24 == pytest.approx(MMVET["rec"])


def test_ocrbench(tmp_path, monkeypatch, judge_server):
    _, _, result = run("ocrbench", "OCRBench", tmp_path, monkeypatch, judge_server)
    assert result.metrics["final_score"].value == pytest.approx(OCRBENCH["Final Score"])
    assert result.metrics["overall"].value == pytest.approx(OCRBENCH["Final Score"] / 10)
    for group in ("Text Recognition", "Doc-oriented VQA", "Key Information Extraction"):
        assert result.breakdowns["group"][group].value == pytest.approx(OCRBENCH[group])


# digests of every model prompt ([image k] and text parts, in order) built by VLMEvalKit e8e78f05 from the
# same files: ImageMCQDataset.build_prompt (+ MMMUDataset.split_MMMU), ImageBaseDataset.build_prompt, and
# Qwen2VLPromptMixin.build_prompt where it applies (run outside the project, as above)
PROMPT_DIGESTS = {
    "MMBench_DEV_EN": ("9bf05414d52b2ef9", "7cb6eb18cee90424"),
    "MMBench_DEV_CN": ("749e32cffeea112c", "3fa24f4a30b62dd4"),
    "MMStar": ("4ace21daf6eb51d4", "edd37d8d5352f6ab"),
    "MMMU_DEV_VAL": ("ee1a68043436f557", "c0d421893b8a365b"),
    "HallusionBench": ("a790d7398be182cb", "30e9e6d4543ac0ef"),
    "MathVista_MINI": ("699ef7df69d9cea8", "c5e867599fc398b0"),
    "MMVet": ("bcdefa08622175f0", "bcdefa08622175f0"),
    "OCRBench": ("a4957dee20f93c5b", "b9b007d0cd1435c9"),
}


def prompt_digest(samples):
    h = hashlib.sha256()
    for s in samples:
        parts = []
        for p in s.request.content:
            if isinstance(p, ImagePart):
                k = re.search(r" image (\d+)(?: \(stored|$)", p.image.source)
                parts.append(["image", f"img{int(k.group(1)) - 1 if k else 0}"])
            else:
                parts.append(["text", p.text])
        h.update(json.dumps(parts, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("dataset", list(PROMPT_DIGESTS))
def test_prompts_are_vlmevalkits(dataset, tmp_path):
    for style, expected in zip(("default", "qwen2vl"), PROMPT_DIGESTS[dataset], strict=True):
        _, samples, _ = load(cd.TASKS[dataset], tmp_path / style, cd.GENERATORS[dataset], style=style)
        assert prompt_digest(samples) == expected, f"{dataset} {style}"
