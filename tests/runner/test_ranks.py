"""Two torchrun ranks against one process on a judged task (MMStar, an LLM judge for the answers
the heuristics cannot read): the same predictions, scores and results; each rank scores only its
shard and asks the judge only about it; the judge's cache one rank writes serves the other."""

import json
import os
import subprocess
import sys

import pytest

from ming_eval.data.files import file_digest
from ming_eval.testing.fixtures.vlm import make_mcq
from tests.conftest import REPO_ROOT
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.plugins import write_model_card
from tests.tasks.vlm.standins import write_standins
from tests.tasks.vlm.test_e2e import standin_task_cards

pytestmark = pytest.mark.slow

N = 24
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29543"]


def _rows(path, drop=("elapsed_s",)):
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in path.read_text().splitlines()]


def test_two_ranks_judge_and_score_like_one(tmp_path):
    cards = write_model_card(tmp_path / "cards", empty_on="image 1")  # empty answers go to the judge
    sources = write_standins(tmp_path / "judge-sources")  # where the judge's prompt is read from
    standin_task_cards(cards, sources)
    data = make_mcq(tmp_path / "MMStar.tsv", n=N)

    def run(launcher, out, cache, fake):
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO_ROOT),
            OMP_NUM_THREADS="1",
            MING_EVAL_CARDS_PATH=str(cards),
            OPENAI_BASE_URL=fake.url,
            OPENAI_API_KEY="sk-test-123",
        )
        cli = ["-m", "ming_eval", "run", "mmstar", "--model", "colourvlm", "--data", f"MMStar.tsv={data}"]
        cli += [arg for name, path in sources.items() for arg in ("--data", f"{name}={path}")]
        cli += ["-o", f"mmstar.data_md5={file_digest(data, 'md5')}", "-o", f"mmstar.judge_cache_dir={cache}"]
        cli += ["--batch-size", "3", "--score-batch-size", "2", "--out", str(tmp_path / out)]
        proc = subprocess.run([*launcher, *cli], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return sorted(fake.prompts())

    with FakeOpenAI(lambda text, body: "B") as fake:
        asked_one = run([sys.executable], "one", tmp_path / "cache-one", fake)
    with FakeOpenAI(lambda text, body: "B") as fake:
        asked_two = run(TORCHRUN, "two", tmp_path / "cache-two", fake)
    # image 1 and images 10-19: 11 empty answers, each asked of the judge once, by one rank
    assert len(asked_one) == 11 and asked_two == asked_one

    one, two = tmp_path / "one" / "mmstar", tmp_path / "two" / "mmstar"
    assert _rows(one / "predictions.jsonl") == _rows(two / "predictions.jsonl")
    assert _rows(one / "scores.jsonl") == _rows(two / "scores.jsonl")
    assert json.loads((one / "results.json").read_text()) == json.loads((two / "results.json").read_text())
    assert json.loads((tmp_path / "one" / "results.json").read_text()) == json.loads(
        (tmp_path / "two" / "results.json").read_text()
    )

    ids = [row["id"] for row in _rows(two / "predictions.jsonl")]
    per_rank = [[row["id"] for row in _rows(two / "scoring" / f"rank-0000{r}.jsonl")] for r in (0, 1)]
    assert sorted(per_rank[0], key=int) == ids[0::2] and sorted(per_rank[1], key=int) == ids[1::2]
    judged = [
        {row["id"] for row in _rows(two / "scoring" / f"rank-0000{r}.jsonl") if row["details"].get("judge")}
        for r in (0, 1)
    ]
    assert judged[0] and judged[1] and len(judged[0]) + len(judged[1]) == 11  # both ranks asked, none twice

    # one process reads the replies both ranks cached: nothing is asked again
    with FakeOpenAI(lambda text, body: (500, "the cache should have answered")) as fake:
        assert run([sys.executable], "again", tmp_path / "cache-two", fake) == []
    assert _rows(tmp_path / "again" / "mmstar" / "scores.jsonl") == _rows(two / "scores.jsonl")
