"""The ``--device`` option checked before anything loads: an unknown name or an absent accelerator is a
one-line user error, not a traceback from deep inside a model's ``.to()`` minutes later."""

from __future__ import annotations

import difflib

from ming_eval.errors import MingEvalError

#: device types torch names that ming-eval can place a model on
KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "npu")


def check_device(requested: str | None) -> None:
    """Raise a :class:`MingEvalError` if ``requested`` (``cpu``, ``cuda``, ``cuda:N``, ...) is not usable
    here; ``None`` and ``auto`` (pick the best present) always are."""
    if requested is None or requested == "auto":
        return
    kind, colon, index = requested.partition(":")
    # ``cuda:`` and ``cuda:²`` (str.isdigit takes superscripts, int() does not) are no devices either
    if kind not in KNOWN_TYPES or (colon and not (index.isascii() and index.isdigit())):
        close = ["cuda"] if kind == "gpu" else difflib.get_close_matches(kind, KNOWN_TYPES, n=1, cutoff=0.5)
        raise MingEvalError(
            f"--device {requested!r} is not a device: use cpu, cuda, cuda:N, mps, xpu or npu",
            hint=f"did you mean {close[0]!r}?" if close else "or leave --device out to use the best device present",
        )
    if kind == "cpu":
        if index:
            raise MingEvalError(f"--device {requested!r}: the CPU has no index", hint="use --device cpu")
        return
    import torch

    backend = torch.backends.mps if kind == "mps" else getattr(torch, kind, None)
    if backend is None or not backend.is_available():
        raise MingEvalError(
            f"--device {requested}: no {kind.upper() if kind != 'mps' else 'MPS'} device is available on this "
            f"machine (torch {torch.__version__})",
            hint="use --device cpu, or install a torch build for your accelerator (see the README's Install "
            "section) and check `nvidia-smi` / CUDA_VISIBLE_DEVICES",
        )
    count = int(backend.device_count()) if hasattr(backend, "device_count") else 1
    if index and int(index) >= count:
        raise MingEvalError(
            f"--device {requested}: this machine has {count} {kind} device(s), numbered 0 to {count - 1}",
            hint=f"use --device {kind}:0 ... {kind}:{count - 1}, or check CUDA_VISIBLE_DEVICES",
        )
