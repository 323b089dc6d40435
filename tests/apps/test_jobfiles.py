"""The node side of an upload: safe extraction, once per job, deltas and deletions."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import threading
from pathlib import Path

import pytest

from flamepy.apps.jobfiles import DELETED_MEMBER, JobFiles, UnsafeArchiveError, safe_extract


def _archive(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


@pytest.mark.parametrize(
    ("files", "links", "why"),
    [
        ({"../x": b"evil"}, None, "'..'"),
        ({"ok/../../x": b"evil"}, None, "'..'"),
        ({"/etc/evil": b"evil"}, None, "absolute"),
        ({}, {"link": "/etc/passwd"}, "not a regular file"),
        ({DELETED_MEMBER: json.dumps(["../outside"]).encode()}, None, "'..'"),
    ],
)
def test_unsafe_members_are_refused_before_anything_is_written(
    tmp_path: Path, files: dict[str, bytes], links: dict[str, str] | None, why: str
) -> None:
    archive = _archive(tmp_path / "a.tar.gz", {"fine.txt": b"ok", **files}, links)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match=why):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "x").exists()


def test_a_corrupt_archive_is_an_unsafe_archive_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar at all")
    with pytest.raises(UnsafeArchiveError, match="cannot unpack"):
        safe_extract(bad, tmp_path)


class _Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.fetched: list[str] = []
        self._lock = threading.Lock()

    def add(self, key: str, files: dict[str, bytes]) -> str:
        _archive(self.root / key, files)
        return key

    def fetch(self, key: str, dest: Path) -> None:
        with self._lock:
            self.fetched.append(key)
        shutil.copyfile(self.root / key, dest)


def test_install_once_per_job_then_deltas_and_deletions(tmp_path: Path) -> None:
    store = _Store(tmp_path)
    base = store.add("base", {"a.txt": b"a1", "b.txt": b"b1", "pkg/c.txt": b"c1"})
    files = JobFiles(tmp_path / "jobs", fetch=store.fetch)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(files.install("job-1", base))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.fetched == ["base"]  # four tasks, one download and unpack
    folder = tmp_path / "jobs" / "job-1"
    assert set(results) == {folder}
    assert (folder / "pkg" / "c.txt").read_bytes() == b"c1"

    d1 = store.add("d1", {"a.txt": b"a2", DELETED_MEMBER: json.dumps(["b.txt", "pkg"]).encode()})
    assert files.install("job-1", base, [d1]) == folder
    assert (folder / "a.txt").read_bytes() == b"a2"
    assert not (folder / "b.txt").exists() and not (folder / "pkg").exists()
    assert not (folder / DELETED_MEMBER).exists()
    files.install("job-1", base, [d1])
    assert store.fetched == ["base", "d1"]  # a delta applies once

    other = store.add("base2", {"z.txt": b"z"})
    files.install("job-1", other)  # a new base replaces the folder
    assert sorted(p.name for p in folder.iterdir()) == ["z.txt"]


def test_a_deletion_through_a_link_the_command_made_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a").symlink_to(outside)  # what a command on the node could leave in its copy
    archive = _archive(tmp_path / "d.tar.gz", {DELETED_MEMBER: json.dumps(["a/precious"]).encode()})
    with pytest.raises(UnsafeArchiveError, match="leads outside"):
        safe_extract(archive, dest)
    assert (outside / "precious").read_text() == "keep"
