"""``ming-eval run --ranks N``: the ranks see what torchrun would give them, a failing rank stops the
others, and two ranks give the results of one process."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ming_eval.runner import launch
from tests.conftest import REPO_ROOT
from tests.runner.test_processes import _env, _rows

REPORT = """
import json, os, sys
keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS")
with open(os.path.join(sys.argv[1], os.environ["RANK"] + ".json"), "w") as fh:
    json.dump({k: os.environ.get(k) for k in keys}, fh)
"""


def test_each_rank_gets_torchruns_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    assert launch.launch_ranks(["-c", REPORT, str(tmp_path)], 3, env) == 0
    seen = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(3)]
    port = seen[0]["MASTER_PORT"]
    assert port.isdigit()
    assert seen == [
        {
            "RANK": str(r),
            "LOCAL_RANK": str(r),
            "WORLD_SIZE": "3",
            "LOCAL_WORLD_SIZE": "3",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
        }
        for r in range(3)
    ]


@pytest.mark.parametrize(
    ("ending", "status", "said"),
    [
        ("sys.exit(3)", 3, "rank 1 of 2 exited with status 3"),
        ("os.kill(os.getpid(), 9)", 137, "rank 1 of 2 was killed by SIGKILL (out of memory?)"),
    ],
)
def test_a_failing_rank_stops_the_others_and_gives_its_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ending: str, status: int, said: str
) -> None:
    script = (
        "import os, sys, time\n"
        "if os.environ['RANK'] == '1':\n"
        f"    {ending}\n"
        "time.sleep(60)\n"
        "open(sys.argv[1], 'w').close()\n"
    )
    started = time.monotonic()
    assert launch.launch_ranks(["-c", script, str(tmp_path / "finished")], 2) == status
    assert time.monotonic() - started < 50  # rank 0 was stopped, not waited for
    assert not (tmp_path / "finished").exists()
    # the stopped ranks say only that they were stopped: the launcher names the one that failed
    assert capsys.readouterr().err == f"ming-eval: {said}; the other ranks were stopped\n"


def test_a_rank_that_fails_last_after_saying_why_is_not_reported_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rank 0 exits with a status of its own (a judge outage) once rank 1 has ended well: nothing was
    # stopped, and rank 0 has said why
    script = (
        "import os, sys, time\n"
        "pid_file = os.path.join(sys.argv[1], 'rank1')\n"
        "if os.environ['RANK'] == '1':\n"
        "    open(pid_file, 'w').write(str(os.getpid()))\n"
        "    sys.exit(0)\n"
        "while not os.path.exists(pid_file) or not open(pid_file).read():\n"
        "    time.sleep(0.01)\n"
        "while True:  # until the launcher has seen rank 1 end\n"
        "    try:\n"
        "        os.kill(int(open(pid_file).read()), 0)\n"
        "    except ProcessLookupError:\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "sys.exit(4)\n"
    )
    assert launch.launch_ranks(["-c", script, str(tmp_path)], 2) == 4
    assert capsys.readouterr().err == ""


def test_ranks_under_torchrun_is_refused(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), WORLD_SIZE="2", RANK="1")
    cli = [sys.executable, "-m", "ming_eval", "run", "color_vqa", "--model", "pixel", "--ranks", "2"]
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--ranks" in proc.stderr and "torchrun" in proc.stderr


@pytest.mark.parametrize("bad", [["-o", "nodot"], ["--data", "nofile"], ["--protocol", "noequals"]])
def test_a_bad_option_is_said_once_not_by_every_rank(tmp_path: Path, bad: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    cli = [sys.executable, "-m", "ming_eval", "run", "color_vqa", "--model", "pixel", "--ranks", "3", *bad]
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("Invalid value") == 1 and "rank" not in proc.stderr


@pytest.mark.slow
def test_two_ranks_equal_one_process(engine_cards: Path, tmp_path: Path) -> None:
    card_path = engine_cards / "model_zoo" / "pixel.yaml"  # paint's samples 00001 and 00004 fail, one per rank
    card_path.write_text(card_path.read_text().replace("options: {}", "options: {fail_on: green}"))
    env = _env(engine_cards)
    cli = [sys.executable, "-m", "ming_eval", "run", "color_vqa", "paint", "--model", "pixel", "--batch-size", "3"]
    for out, extra in (("one", []), ("two", ["--ranks", "2"])):
        proc = subprocess.run([*cli, *extra, "--out", str(tmp_path / out)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "paint: 2 samples failed; first error: ValueError: cannot handle 'a green square'" in proc.stdout
    assert "color_vqa" in proc.stdout  # rank 0's table
    for task in ("color_vqa", "paint"):
        one, two = tmp_path / "one" / task, tmp_path / "two" / task
        assert _rows(one / "predictions.jsonl") == _rows(two / "predictions.jsonl")
        assert _rows(one / "scores.jsonl") == _rows(two / "scores.jsonl")
        assert json.loads((one / "results.json").read_text()) == json.loads((two / "results.json").read_text())
        assert sorted(p.name for p in (two / "records").glob("rank-*.jsonl")) == [
            "rank-00000.jsonl",
            "rank-00001.jsonl",
        ]
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["invocations"][-1]["host"]["world_size"] == 2
    assert "--ranks" not in manifest["invocations"][-1]["argv"]


def test_stopping_the_launcher_stops_the_ranks(tmp_path: Path) -> None:
    rank = (
        "import os, sys, time\n"
        "open(os.path.join(sys.argv[1], os.environ['RANK']), 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    launcher = (
        "import sys\nfrom ming_eval.runner.launch import launch_ranks\n"
        f"sys.exit(launch_ranks(['-c', {rank!r}, sys.argv[1]], 2))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(tmp_path)], env=env)
    pids: list[int] = []
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [int(p.read_text()) for p in (tmp_path / "0", tmp_path / "1") if p.exists() and p.read_text()]
    proc.terminate()
    assert proc.wait(timeout=50) != 0

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)  # they sleep 60 s unless stopped


def test_a_rank_that_cannot_start_stops_the_ranks_already_started(monkeypatch: pytest.MonkeyPatch) -> None:
    from ming_eval.errors import MingEvalError

    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        if started:
            raise OSError(24, "Too many open files")
        proc = real([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(proc)
        return proc

    monkeypatch.setattr(launch.subprocess, "Popen", popen)
    with pytest.raises(MingEvalError, match=r"cannot start rank 1 of 2: .*Too many open files"):
        launch.launch_ranks(["-c", "pass"], 2)
    assert started[0].poll() is not None  # not left waiting for a rank that never came


LOST = """
import os, sys
from ming_eval.errors import MingEvalError
from ming_eval.runner.distributed import Dist
dist = Dist.from_env()
dist.init()
dist.barrier()
if dist.rank == 1:
    os._exit(3)  # a rank that fails between two barriers
try:
    dist.barrier()
except MingEvalError as exc:
    open(sys.argv[1], "w").write(exc.message)
"""


@pytest.mark.slow
def test_a_rank_waiting_for_one_that_ended_stops_with_a_one_line_error(tmp_path: Path) -> None:
    # each rank started alone (no launcher to stop rank 0 first): rank 0 learns at its barrier that
    # rank 1 is gone, and says so in one line instead of gloo's traceback
    port = launch.free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    procs = [
        subprocess.Popen([sys.executable, "-c", LOST, str(tmp_path / "said")], env=launch.rank_env(r, 2, port, env))
        for r in range(2)
    ]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 3]
    said = (tmp_path / "said").read_text()
    assert said.startswith("rank 0 of 2 stopped: another rank ended before reaching the same point (")
    assert "\n" not in said and "pair.cc" not in said
