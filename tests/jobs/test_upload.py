"""The client side of a job upload: which directory, what goes, once per content, progress, warnings."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import pytest

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.jobs import JobSpec, TaskLaunch, expand
from flamepy.jobs import upload as up
from flamepy.runner.package import archive_members


class _Cache:
    """Stands for a CacheClient: stat/upload_object over a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def stat(self, key: str) -> object:
        if key not in self.objects:
            raise NotFoundError(key)
        return object()

    def upload_object(self, key: str, path: Path, progress: object = None) -> None:
        data = Path(path).read_bytes()
        self.objects[key] = data
        if callable(progress):
            progress(len(data))


class _Reporter:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def warn(self, message: str) -> None:
        self.events.append(("warn", message))

    def start(self, total: int, what: str) -> None:
        self.events.append(("start", total))

    def advance(self, sent: int) -> None:
        self.events.append(("advance", sent))

    def finish(self) -> None:
        self.events.append(("finish", None))


def test_upload_root_is_here_unless_the_workdir_is_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    proj = str(tmp_path / "proj")
    assert up.upload_root(JobSpec("true", workdir=proj), proj) == (proj, ".")
    assert up.upload_root(JobSpec("true", workdir=os.path.join(proj, "sub")), proj) == (proj, "sub")
    other = str(tmp_path / "other")
    assert up.upload_root(JobSpec("true", workdir=other), proj) == (other, ".")


def test_files_go_once_per_content_with_progress_and_flameignore(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "big.bin").write_bytes(b"x" * 10)
    (tmp_path / ".flameignore").write_text("big.bin\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    cache, reporter = _Cache(), _Reporter()
    first = up.upload_directory(tmp_path, client=cache, reporter=reporter)  # type: ignore[arg-type]
    assert first.key == f"{up.UPLOAD_PREFIX}/{first.digest}" and first.files == 2 and first.sent > 0
    assert archive_members(cache.objects[first.key]) == [".flameignore", "train.py"]
    kinds = [kind for kind, _ in reporter.events]
    assert kinds == ["start", "advance", "finish"]
    again = up.upload_directory(tmp_path, client=cache, reporter=reporter)  # type: ignore[arg-type]
    assert (again.key, again.sent) == (first.key, 0)  # same content: nothing sent
    excluded = up.upload_directory(tmp_path, ["train.py"], client=cache)  # type: ignore[arg-type]
    assert archive_members(cache.objects[excluded.key]) == [".flameignore"]


def test_a_big_upload_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data.bin").write_bytes(b"y" * 2048)
    monkeypatch.setattr(up, "WARN_BYTES", 1024)
    reporter = _Reporter()
    up.upload_directory(tmp_path, client=_Cache(), reporter=reporter)  # type: ignore[arg-type]
    warnings = [text for kind, text in reporter.events if kind == "warn"]
    assert len(warnings) == 1 and ".flameignore" in str(warnings[0]) and "1 files" in str(warnings[0])


def test_the_archive_fields_travel_and_old_inputs_still_decode() -> None:
    (launch,) = expand(JobSpec("true", workdir="/"), job_id="job-1")
    with_archive = dataclasses.replace(launch, archive="flmexec/uploads/abc", deltas=("flmexec/uploads/d1",))
    back = TaskLaunch.from_task_input(with_archive.to_task_input())
    assert (back.archive, back.deltas) == ("flmexec/uploads/abc", ("flmexec/uploads/d1",))
    old = json.loads(launch.to_task_input())
    del old["archive"], old["deltas"]
    decoded = TaskLaunch.from_task_input(json.dumps(old).encode())
    assert (decoded.archive, decoded.deltas) == (None, ())


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_cli_reporter_draws_a_bar_on_a_terminal_and_stays_quiet_in_a_pipe() -> None:
    from flamepy.cli.upload_view import CliUploadReporter

    piped = io.StringIO()
    quiet = CliUploadReporter(piped, quiet=True)
    quiet.start(100, "proj (2 files, 0.1 KiB)")
    quiet.advance(100)
    quiet.finish()
    quiet.warn("uploading 300 MiB")
    assert piped.getvalue() == "warning: uploading 300 MiB\n"  # no progress noise in a pipe

    tty = _Tty()
    bar = CliUploadReporter(tty)
    bar.start(2048, "proj (2 files, 2.0 KiB)")
    bar.advance(1024)
    bar.advance(1024)
    bar.finish()
    assert "uploading proj (2 files, 2.0 KiB)" in tty.getvalue()
    assert bar.tty and bar._progress is None  # drawn, then stopped


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(InvalidArgumentError, match=f"cannot upload {tmp_path}"):
        up.upload_directory(tmp_path, client=_Cache())  # type: ignore[arg-type]
