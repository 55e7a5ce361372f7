"""``ming-eval run --ranks N``: N ranks on this machine without torchrun.

Each rank is a fresh ``python`` with the environment torchrun gives its workers (``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; and
``OMP_NUM_THREADS=1`` unless set, as torchrun sets it), so a rank cannot tell the two apart and
results do not depend on the launcher. What it saves is torchrun's own cost around the ranks: the
agent imports torch and sets up a rendezvous before any rank starts (about 2 s of one core) and waits
on an exit barrier after they end, which on a small run is a large share of the wall time. torchrun
stays the launcher for several machines, restarts and everything else it offers.

When a rank fails the others are stopped (SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`) and its
exit status is returned, as torchrun does; on Ctrl-C the ranks are sent SIGTERM (those the terminal
interrupted too ignore it) and given the same grace to record where they stopped; a SIGTERM to the
launcher is passed on to them.
A rank takes SIGTERM as it takes Ctrl-C (``cli.app.Terminated``): rank 0 records in the manifest how
the run ended, releases the lock and says once what was saved.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from ming_eval.errors import MingEvalError

#: how long stopped ranks are given to exit before they are killed
STOP_GRACE_S = 30.0
#: how often the launcher looks whether a rank has exited
POLL_S = 0.05
#: the ``TORCHELASTIC_RUN_ID`` of the ranks it starts: how a rank knows that ``run --ranks`` started it
RUN_ID = "ming-eval"


def launched_ranks() -> int | None:
    """The N of the ``run --ranks N`` that started this process; None if it was not started so."""
    if os.environ.get("TORCHELASTIC_RUN_ID") != RUN_ID:
        return None
    return int(os.environ.get("WORLD_SIZE", "1"))


def free_port() -> int:
    """A TCP port free on this machine now, for rank 0's rendezvous store."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rank_env(rank: int, ranks: int, port: int, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus what torchrun sets for rank ``rank`` of ``ranks`` on one machine."""
    env = dict(base)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        GROUP_RANK="0",
        ROLE_RANK=str(rank),
        WORLD_SIZE=str(ranks),
        LOCAL_WORLD_SIZE=str(ranks),
        ROLE_WORLD_SIZE=str(ranks),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        TORCHELASTIC_RUN_ID=RUN_ID,
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """Send SIGTERM to the ranks still running, wait up to :data:`STOP_GRACE_S` for them, then kill
    what is left."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in running:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ended(code: int) -> str:
    """How a rank that ended with ``Popen.returncode`` ``code`` ended, in words."""
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"was killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")


def launch_ranks(
    args: Sequence[str], ranks: int, env: Mapping[str, str] | None = None, *, output: int | None = None
) -> int:
    """Run ``python ARGS`` as ranks 0..``ranks``-1 and wait for all of them: 0 when every rank
    succeeded, else the exit status of the first that failed (130 after Ctrl-C). The ranks write to
    this process's stdout and stderr, or both to ``output`` (e.g. ``subprocess.DEVNULL``)."""
    port = free_port()
    base = os.environ if env is None else env
    procs: list[subprocess.Popen[bytes]] = []
    for r in range(ranks):
        try:
            procs.append(
                subprocess.Popen(
                    [sys.executable, *args], env=rank_env(r, ranks, port, base), stdout=output, stderr=output
                )
            )
        except OSError as exc:  # the ranks already started would wait for this one at their first barrier
            _stop(procs)
            raise MingEvalError(f"cannot start rank {r} of {ranks}: {exc}", hint="run fewer --ranks") from exc

    stopped: list[int] = []  # the signal the launcher was stopped with and passed on

    def forward(signum: int, frame: object) -> None:  # a scheduler stopping the launcher stops the ranks
        stopped.append(signum)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, forward) if main_thread else None
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = {r: c for r, c in enumerate(codes) if c is not None and c != 0}
            if failed:
                running = any(c is None for c in codes)
                _stop(procs)
                # what the ranks it stops print (rank 0: "stopped by SIGTERM") does not say which one failed,
                # nor does anything a killed rank; one that failed alone at the end (rank 0's exit status for a
                # judge outage) has said why itself
                if not stopped and (running or any(c < 0 for c in failed.values())):
                    # (all that ended since the last look: which of them ended first is not known)
                    ended = ", ".join(f"rank {r} of {ranks} {_ended(c)}" for r, c in failed.items())
                    others = "; the other ranks were stopped" if running else ""
                    print(f"ming-eval: {ended}{others}", file=sys.stderr)
                code = next(iter(failed.values()))
                return code if code > 0 else 128 - code  # killed by a signal: 128 + its number
            if all(c == 0 for c in codes):
                return 0
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        # passed on as SIGTERM: a rank that Ctrl-C reached too (the terminal's process group) ignores
        # it, one that it did not (`kill -INT` of the launcher alone) stops as well
        _stop(procs)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
