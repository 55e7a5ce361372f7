"""Installed package versions and entry points are kept per state of the environment: a package
installed, upgraded or removed since is seen at once."""

from importlib import metadata
from pathlib import Path

import pytest

from ming_eval import installed


def _install(site: Path, name: str, version: str, entry_points: str = "") -> Path:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)
    return info


def test_versions_follow_installs_upgrades_and_removals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert installed.package_versions(("labpkg",)) == {}
    old = _install(site, "labpkg", "1.0")
    assert installed.package_versions(("labpkg",)) == {"labpkg": "1.0"}
    scans: list[str] = []
    with monkeypatch.context() as spy:
        spy.setattr(metadata, "version", lambda name: scans.append(name) or "scanned")
        assert installed.package_versions(("labpkg",)) == {"labpkg": "1.0"}  # unchanged: not looked up again
    assert scans == []
    for path in old.iterdir():
        path.unlink()
    old.rmdir()
    _install(site, "labpkg", "2.0")
    assert installed.package_versions(("labpkg",)) == {"labpkg": "2.0"}
    for path in (site / "labpkg-2.0.dist-info").iterdir():
        path.unlink()
    (site / "labpkg-2.0.dist-info").rmdir()
    assert installed.package_versions(("labpkg",)) == {}


def test_entry_points_of_a_new_package_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert installed.entry_points("lab.group") == []
    _install(site, "labpkg", "1.0", "[lab.group]\ncards = labpkg.cards\n")
    found = installed.entry_points("lab.group")
    assert [(ep.name, ep.value, ep.group) for ep in found] == [("cards", "labpkg.cards", "lab.group")]
    again = installed.entry_points("lab.group")  # read back from the cache
    assert [(ep.name, ep.value, ep.group) for ep in again] == [("cards", "labpkg.cards", "lab.group")]


def test_an_unwritable_cache_still_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MING_EVAL_CACHE", str(blocker / "cache"))  # under a file: cannot be created
    assert installed.package_versions(("pytest",)) == {"pytest": pytest.__version__}
