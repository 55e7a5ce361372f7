"""Task data: find it locally, download it once, and prove by checksum that it is the right file.

Every file a task reads is declared in its card (:class:`DataFile`: name, URL, sha256 and/or md5).
:class:`DataFiles` looks for each file in, in order: an explicit override, the task's extra search
folders (e.g. VLMEvalKit's ``$LMUData``), and ming-eval's cache (``$MING_EVAL_CACHE``, default
``~/.cache/ming_eval``). A file that is nowhere is downloaded into the cache, unless offline mode is on
(``MING_EVAL_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``), in which case the error says how to prefetch it.
Checksums of large files are remembered next to them (keyed by size and mtime) so a 1 GB TSV is
hashed once, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ming_eval.cards.schema import DataFile
from ming_eval.errors import ChecksumError, DataError, storage_error
from ming_eval.transport.retry import RetryPolicy, retry_after_seconds

CACHE_ENV = "MING_EVAL_CACHE"
OFFLINE_ENVS = ("MING_EVAL_OFFLINE", "HF_HUB_OFFLINE")
_CHUNK = 1 << 20
#: downloads: three tries, 1 s then 2 s apart (less some jitter), or what the server's Retry-After says
DOWNLOAD_RETRY = RetryPolicy(max_retries=2, backoff_s=1.0, max_backoff_s=10.0)


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return base / "ming_eval"


def offline() -> bool:
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on") for name in OFFLINE_ENVS)


#: not a hashlib name: git's object id of the file (sha1 of ``b"blob <size>\0"`` + content), the id
#: ``git ls-tree`` shows, for files whose only published checksum is their place in a commit
GIT_BLOB_SHA1 = "git-blob-sha1"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of the file: any :mod:`hashlib` algorithm, or :data:`GIT_BLOB_SHA1`."""
    if algorithm == GIT_BLOB_SHA1:
        h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    else:
        h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified.json")


def _read_stamp(path: Path, algorithm: str) -> str | None:
    stamp = _stamp_path(path)
    try:
        data = json.loads(stamp.read_text())
        st = path.stat()
        if data.get("size") == st.st_size and data.get("mtime_ns") == st.st_mtime_ns:
            return data.get(algorithm)
    except (OSError, ValueError):
        pass
    return None


def _write_stamp(path: Path, algorithm: str, digest: str) -> None:
    stamp = _stamp_path(path)
    try:
        st = path.stat()
        data: dict[str, object] = {}
        try:
            data = json.loads(stamp.read_text())
            if data.get("size") != st.st_size or data.get("mtime_ns") != st.st_mtime_ns:
                data = {}
        except (OSError, ValueError):
            pass
        data.update({"size": st.st_size, "mtime_ns": st.st_mtime_ns, algorithm: digest})
        stamp.write_text(json.dumps(data))
    except OSError:
        pass  # a read-only shared folder: we just hash again next time


def cached_digest(path: Path, algorithm: str) -> str:
    """The file's digest, computed once per (size, mtime) and remembered in a stamp beside it."""
    digest = _read_stamp(path, algorithm)
    if digest is None:
        digest = file_digest(path, algorithm)
        _write_stamp(path, algorithm, digest)
    return digest


def verify_file(path: Path, spec: DataFile, *, fix: str) -> None:
    """Raise :class:`ChecksumError` if ``path`` does not match the card's checksums."""
    for algorithm, expected in (("sha256", spec.sha256), ("md5", spec.md5), (GIT_BLOB_SHA1, spec.git_blob_sha1)):
        if expected:
            actual = cached_digest(path, algorithm)
            if actual != expected:
                raise ChecksumError(str(path), algorithm, expected, actual, fix=fix)


def download(
    url: str,
    dest: Path,
    *,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Download ``url`` to ``dest`` through a ``.part`` file; ``hf://`` URLs go through the hub.

    Dropped connections, timeouts, 408 / 429 and 5xx are tried again as ``retry`` says (the policy of
    every network call of the project, ``Retry-After`` honoured); another 4xx (404, 403) stops at once.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("hf://"):
        _download_hf(url, dest)
        return
    import urllib.error
    import urllib.request

    part = dest.with_name(dest.name + ".part")
    last_error: Exception | None = None
    for attempt in range(retry.tries):
        retry_after: float | None = None
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "ming-eval"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, part.open("wb") as out:
                total = resp.headers.get("Content-Length")
                total_n = int(total) if total and total.isdigit() else None
                done = 0
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total_n)
            os.replace(part, dest)
            return
        except urllib.error.HTTPError as exc:
            last_error = exc
            if exc.code not in (408, 409, 429) and exc.code < 500:
                break
            retry_after = retry_after_seconds(exc.headers)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            last_error = exc
            if isinstance(exc, OSError) and (full := storage_error(part, exc)) is not None:
                part.unlink(missing_ok=True)
                raise full from exc
            if isinstance(getattr(exc, "reason", None), socket.gaierror):
                break  # the host name does not resolve: no network (or a typo), which retrying will not fix
        if attempt < retry.max_retries:
            sleep(retry.delay(attempt, retry_after))
    part.unlink(missing_ok=True)
    reason = getattr(last_error, "reason", None)
    why = f"the host name does not resolve ({reason})" if isinstance(reason, socket.gaierror) else str(last_error)
    raise DataError(
        f"could not download {url} -> {dest}: {why}",
        hint="check the network, or download the file by hand and place it at that path "
        "(ming-eval verifies its checksum)",
    )


def _download_hf(url: str, dest: Path) -> None:
    from huggingface_hub import hf_hub_download

    spec = url[len("hf://") :]
    spec, _, revision = spec.partition("@")
    repo_type = "dataset"
    if spec.startswith("models/"):
        repo_type, spec = "model", spec[len("models/") :]
    parts = spec.split("/")
    if len(parts) < 3:
        raise DataError(f"bad hf:// URL {url!r}: expected hf://<org>/<repo>/<path>[@revision]")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        local = hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision or None)
    except Exception as exc:
        raise DataError(f"could not download {url}: {exc}") from exc
    shutil.copyfile(local, dest)


class DataFiles:
    """The data files of one task, found, fetched and verified on demand."""

    def __init__(
        self,
        task: str,
        specs: Sequence[DataFile],
        *,
        overrides: dict[str, Path] | None = None,
        search_dirs: Sequence[Path] = (),
        cache_dir: Path | None = None,
    ) -> None:
        self.task = task
        self.specs = {spec.name: spec for spec in specs}
        self.overrides = dict(overrides or {})
        self.search_dirs = list(search_dirs)
        self.cache_dir = cache_dir or cache_root() / "data" / task

    def spec(self, name: str) -> DataFile:
        if name not in self.specs:
            raise DataError(f"task {self.task} declares no data file {name!r}; known: {sorted(self.specs)}")
        return self.specs[name]

    def _fix(self, name: str) -> str:
        return (
            f"delete the file and run `ming-eval data download {self.task}` to fetch a verified copy "
            f"(or pass the right file with --data {name}=PATH)"
        )

    def locate(self, name: str) -> Path | None:
        """Where the file is now, without downloading or verifying it."""
        self.spec(name)
        if name in self.overrides:
            return self.overrides[name]
        for folder in [*self.search_dirs, self.cache_dir]:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        return None

    def path(self, name: str, *, verify: bool = True) -> Path:
        """The local path of a verified copy of ``name``, downloading it if needed."""
        spec = self.spec(name)
        found = self.locate(name)
        if found is not None:
            if not found.is_file():
                raise DataError(f"data file {found} for task {self.task} does not exist")
            if verify:
                verify_file(found, spec, fix=self._fix(name))
            return found
        dest = self.cache_dir / name
        if spec.url is None:
            raise DataError(
                f"task {self.task} needs {name}, which has no download URL and was not found in "
                f"{', '.join(str(p) for p in [*self.search_dirs, self.cache_dir])}",
                hint=f"place it there or pass --data {name}=PATH",
            )
        if offline():
            raise DataError(
                f"task {self.task} needs {name} ({spec.url}), which is not cached at {dest}, and offline mode is on",
                hint=self._offline_ways(name),
            )
        try:
            download(spec.url, dest)
        except DataError as exc:
            raise DataError(exc.message, hint=self._offline_ways(name)) from exc
        verify_file(dest, spec, fix=self._fix(name))
        return dest

    def _offline_ways(self, name: str) -> str:
        """Every way to give the task ``name`` without this machine downloading it."""
        places = ", ".join(str(p) for p in [*self.search_dirs, self.cache_dir])
        return (
            f"on a machine with internet run `ming-eval data download {self.task}` and copy {self.cache_dir} here "
            f"(or set {CACHE_ENV} to a shared cache); or pass the file with --data {name}=PATH, or place it in "
            f"one of {places} (VLMEvalKit's $LMUData folder is searched for its TSVs)"
            + ("" if offline() else "; set MING_EVAL_OFFLINE=1 to stop at once instead of trying the network")
        )

    def status(self) -> list[tuple[str, Path | None, str]]:
        """(name, location, state) for every file; state is verified, missing or a checksum error."""
        rows: list[tuple[str, Path | None, str]] = []
        for name, spec in self.specs.items():
            found = self.locate(name)
            if found is None or not found.is_file():
                rows.append((name, found, "missing" if spec.required else "missing (optional)"))
                continue
            try:
                verify_file(found, spec, fix=self._fix(name))
                rows.append((name, found, "verified"))
            except ChecksumError as exc:
                rows.append((name, found, f"checksum mismatch: {exc.message}"))
        return rows
