"""Packaging: which files ship, the content digest, the archive and its one-time extraction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flamepy.errors import InvalidArgumentError
from flamepy.runner.package import (
    archive_members,
    build_archive,
    collect_files,
    extract_package,
    package_digest,
)


def write(root: Path, rel: str, text: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel in (
        "main.py",
        "lib/util.py",
        "lib/data.csv",
        "notes.log",
        "secret/key.txt",
        "build/out.bin",
        ".git/config",
        "__pycache__/main.cpython-311.pyc",
        "lib/__pycache__/util.pyc",
        "node_modules/x/index.js",
        ".mypy_cache/x.json",
        "myenv/pyvenv.cfg",
        "myenv/lib/site.py",
        "pkg.egg-info/PKG-INFO",
        "stale.pyc",
    ):
        write(root, rel)
    write(root, ".gitignore", "build/\n*.log\n")
    write(root, ".flameignore", "secret/\n")
    return root


def paths(root: Path, excludes: tuple[str, ...] = ()) -> list[str]:
    return [f.path for f in collect_files(root, excludes)]


def test_junk_and_ignored_files_are_left_out(project: Path) -> None:
    assert paths(project) == [".flameignore", ".gitignore", "lib/data.csv", "lib/util.py", "main.py"]


def test_context_excludes_apply(project: Path) -> None:
    assert paths(project, ("*.csv", "main.py")) == [".flameignore", ".gitignore", "lib/util.py"]


def test_negation_and_anchoring_follow_gitignore(project: Path) -> None:
    write(project, "lib/keep.log")
    write(project, ".gitignore", "*.log\n!lib/keep.log\n/main.py\n")
    write(project, "lib/main.py")
    got = paths(project)
    assert "lib/keep.log" in got and "notes.log" not in got
    assert "main.py" not in got and "lib/main.py" in got


def test_symlinked_folders_are_not_followed(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "big.bin")
    os.symlink(outside, project / "link")
    os.symlink(project / "main.py", project / "alias.py")
    got = paths(project)
    assert not any(p.startswith("link") for p in got)
    assert "alias.py" in got


def test_not_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="not a directory"):
        collect_files(tmp_path / "missing")


def test_digest_depends_on_content_not_time(project: Path) -> None:
    files = collect_files(project)
    before = package_digest(project, files)
    os.utime(project / "main.py", (1, 1))
    assert package_digest(project, collect_files(project)) == before
    write(project, "secret/key.txt", "changed")  # excluded: no effect
    assert package_digest(project, collect_files(project)) == before
    write(project, "main.py", "print(1)")
    assert package_digest(project, collect_files(project)) != before


def test_digest_sees_the_executable_bit(project: Path) -> None:
    before = package_digest(project, collect_files(project))
    os.chmod(project / "main.py", 0o755)
    assert package_digest(project, collect_files(project)) != before


def test_archive_is_deterministic_and_extracts_once(project: Path, tmp_path: Path) -> None:
    files = collect_files(project)
    a = build_archive(project, files, tmp_path / "a.tar.gz")
    os.utime(project / "main.py", (5, 5))
    b = build_archive(project, files, tmp_path / "b.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    assert archive_members(a.read_bytes()) == [f.path for f in files]

    work = tmp_path / "work"
    digest = package_digest(project, files)
    out = extract_package(a, work, digest)
    assert out == work / digest
    assert (out / "lib" / "util.py").read_text() == "x"
    (out / "marker").write_text("kept")
    assert extract_package(a, work, digest) == out  # already there: not extracted again
    assert (out / "marker").exists()
    assert [p.name for p in work.iterdir()] == [digest]  # no temporary folders left
