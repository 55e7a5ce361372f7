"""A full disk (or a file-size limit) is a user error naming the file, and leaves no partial file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ming_eval.errors import RunStoreError
from ming_eval.store import jsonl
from ming_eval.store.jsonl import JsonlWriter, write_json_atomic, write_jsonl_atomic


@pytest.mark.parametrize(("code", "reason"), [(errno.ENOSPC, "no space left"), (errno.EFBIG, "larger than")])
def test_atomic_writes_clean_up_and_say_why(
    code: int, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "results.json"
    target.write_text('{"old": true}\n')
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(code, os.strerror(code))))
    for write in (lambda: write_json_atomic(target, {"new": 1}), lambda: write_jsonl_atomic(target, [{"new": 1}])):
        with pytest.raises(RunStoreError, match=reason) as info:
            write()
        assert str(target) in info.value.message and "run the same command again" in (info.value.hint or "")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temporary file left
        assert target.read_text() == '{"old": true}\n'  # the complete old file stays


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_appended_records_on_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC
    writer = JsonlWriter(path)
    with pytest.raises(RunStoreError, match="no space left") as info:
        writer.write({"id": "b" * 10_000})
    assert str(path) in info.value.message
    with pytest.raises(OSError):  # /dev/full also refuses fsync (EINVAL): a device, not a file system
        writer.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_real_full_file_system(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.system(f"mount -t tmpfs -o size=64k tmpfs {mount} 2>/dev/null") != 0:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        with pytest.raises(RunStoreError, match="no space left"):
            write_json_atomic(mount / "big.json", {"x": "y" * 200_000})
        assert list(mount.iterdir()) == []
        writer = JsonlWriter(mount / "scores.jsonl")
        writer.write({"id": "kept"})
        with pytest.raises(RunStoreError, match="no space left"):
            for n in range(100):
                writer.write({"id": str(n), "pad": "z" * 4096})
        with pytest.raises(RunStoreError, match="no space left"):  # the buffered rest cannot be flushed either
            writer.close()
        assert next(jsonl.read_jsonl(mount / "scores.jsonl"))["id"] == "kept"
    finally:
        os.system(f"umount {mount}")
