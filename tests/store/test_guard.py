import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ming_eval.store.guard import LOCK_FILE, ModelMismatchError, RunLock, RunLockedError, check_same_model
from tests.conftest import REPO_ROOT


def test_a_second_holder_is_refused_with_the_first_ones_name(tmp_path):
    with RunLock.acquire(tmp_path, ["ming-eval", "run", "color_vqa", "--api-key", "k123456"]):
        with pytest.raises(RunLockedError) as err:
            RunLock.acquire(tmp_path, ["ming-eval", "score", str(tmp_path)])
        message = str(err.value)
        assert str(tmp_path) in message and f"pid {os.getpid()}" in message
        assert "`ming-eval run color_vqa --api-key <redacted>`" in message and "--wait" in message
    # released: the next one gets it, and the file names the new holder
    with RunLock.acquire(tmp_path, ["second"]):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["argv"] == ["second"]
    assert (tmp_path / LOCK_FILE).read_text() == ""


def test_released_when_the_holder_fails(tmp_path):
    with pytest.raises(ValueError), RunLock.acquire(tmp_path, ["first"]):
        raise ValueError("boom")
    RunLock.acquire(tmp_path, ["second"]).release()


def test_wait_blocks_until_the_holder_is_done(tmp_path):
    first = RunLock.acquire(tmp_path, ["first"])
    notices: list[str] = []
    threading.Timer(0.3, first.release).start()
    start = time.monotonic()
    with RunLock.acquire(tmp_path, ["second"], wait=True, on_wait=notices.append):
        waited = time.monotonic() - start
    assert waited >= 0.25
    assert len(notices) == 1 and "in use by pid" in notices[0] and "`first`" in notices[0]


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from ming_eval.store.guard import RunLock;"
        f"RunLock.acquire(Path({str(tmp_path)!r}), ['killed']); print('locked', flush=True); time.sleep(60)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(RunLockedError, match=f"pid {proc.pid}"):
        RunLock.acquire(tmp_path, ["second"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    RunLock.acquire(tmp_path, ["second"]).release()  # the kernel dropped the dead process's lock


def test_another_model_is_refused_unless_forced(tmp_path):
    made = {"model": {"card": {"name": "janus-pro-7b"}, "checkpoint": "deepseek-ai/Janus-Pro-7B"}}
    same = {"card": {"name": "janus-pro-7b", "dtype": "bfloat16"}, "checkpoint": "deepseek-ai/Janus-Pro-7B"}
    assert check_same_model(made, same, tmp_path, force=False) == []
    assert check_same_model(None, same, tmp_path, force=False) == []
    other = {"card": {"name": "janus-pro-7b"}, "checkpoint": "/ckpt/step-2000"}
    with pytest.raises(ModelMismatchError) as err:
        check_same_model(made, other, tmp_path, force=False)
    assert "janus-pro-7b @ deepseek-ai/Janus-Pro-7B" in str(err.value) and "janus-pro-7b @ /ckpt/step-2000" in str(
        err.value
    )
    forced = check_same_model(made, other, tmp_path, force=True)
    assert forced == ["model: janus-pro-7b @ deepseek-ai/Janus-Pro-7B -> janus-pro-7b @ /ckpt/step-2000"]
