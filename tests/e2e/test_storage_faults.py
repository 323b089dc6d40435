"""Storage faults against real processes: a session manager whose data directory is a small tmpfs
(mounted by the test; skipped where mounting is not permitted) fills up while a client submits; one
whose database files on a loop-mounted ext4 are made immutable (``chattr +i``: read-only even for
root and for files held open). Failed writes answer RESOURCE_EXHAUSTED / UNAVAILABLE naming the cause
within seconds, nothing whose CreateTask failed runs, every accepted task finishes once space is
back, reads keep working, and the database is consistent after a restart. Also: the data
directory is 0700 and the database, its WAL and SHM and data files 0600, whatever the umask."""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import frontend_pb2_grpc
from flamepy.types import TaskState
from tests.e2e.reliability_kit import register, wait_ready
from tests.support import channel as auth_channel
from tests.support import drop_tokens, serve_tokens, wait_until

pytestmark = pytest.mark.e2e
REQUEUED = 1003


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: the full-disk and read-only tests did not run")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)])
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here (exit {done.returncode}): test did not run")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    _mount_tmpfs(path, size)
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], check=False)
        subprocess.run(["umount", str(path)], check=True)


class Manager:
    """A session manager process (started and ended by the test, by pid)."""

    def __init__(self, data_dir: Path, logs: Path, umask: int | None = None) -> None:
        self.data_dir, self.logs, self.umask = data_dir, logs, umask
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> Manager:
        port_file = self.logs / "sm.port"
        port_file.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "session_manager", "--port", str(self.port), "--data-dir",
            str(self.data_dir), "--port-file", str(port_file), "--delay-release", "600",
        ]  # fmt: skip
        # Popen's own umask, set in C: a Python preexec_fn forces a plain fork() of this gRPC
        # process, whose fork handlers crashed the child before exec now and then (SIGABRT,
        # "epoll_wait error: Bad file descriptor")
        umask = -1 if self.umask is None else self.umask
        with open(self.logs / "session-manager.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, umask=umask)
        wait_until(lambda: self._alive() and port_file.exists() and port_file.read_text().strip(), timeout=30)
        self.port = int(port_file.read_text())
        serve_tokens(self.endpoint, self.data_dir / "auth")  # clients find the token as users' do
        return self

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the session manager exited {self.proc.returncode}: {self.log()[-2000:]}")
        return True

    def log(self) -> str:
        return (self.logs / "session-manager.log").read_text(errors="replace")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        drop_tokens(self.endpoint)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Executor:
    def __init__(self, endpoint: str, work: Path, logs: Path, token_file: Path | None = None) -> None:
        args = [
            sys.executable,
            "-m",
            "executor",
            "--endpoint",
            endpoint,
            "--name",
            "n1",
            "--work-dir",
            str(work),
        ]
        if token_file is not None:
            args += ["--token-file", str(token_file)]
        with open(logs / "executor-manager.log", "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "FLAME_NODE_CPUS": "2"}
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def cluster(data_dir: Path, side: Path) -> Iterator[tuple[Manager, frontend_pb2_grpc.FrontendStub, str]]:
    """A session manager on ``data_dir``, one node, the reliability service and one session whose
    service logs every run to ``side/runs.log``; yields the manager, a raw stub and the session id."""
    (side / "work").mkdir(exist_ok=True)
    sm = Manager(data_dir, side).start()
    node = Executor(sm.endpoint, side / "work", side, data_dir / "auth" / "node.token")
    channel = auth_channel(sm.endpoint)
    try:
        with flamepy.Connection(sm.endpoint) as conn:
            wait_ready(conn, "n1")
            register(conn)
            attrs = flamepy.SessionAttributes(
                application="reliable", common_data=f"log:{side / 'runs.log'}".encode()
            )
            sid = conn.create_session(attrs).id
        yield sm, frontend_pb2_grpc.FrontendStub(channel), sid
    finally:
        channel.close()
        node.stop()
        sm.stop()


def create(stub: frontend_pb2_grpc.FrontendStub, sid: str, data: bytes, timeout: float = 20) -> str:
    req = fe.CreateTaskRequest()
    req.task.session_id, req.task.input = sid, data
    return stub.CreateTask(req, timeout=timeout).metadata.id


def state(stub: frontend_pb2_grpc.FrontendStub, sid: str, tid: str) -> int:
    return stub.GetTask(fe.GetTaskRequest(session_id=sid, task_id=tid), timeout=10).status.state


def fill(root: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free the space)."""
    filler = root / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def watch(stub: frontend_pb2_grpc.FrontendStub, sid: str, tid: str) -> int:
    """What a client's future does: follow the task until its terminal state (returned)."""
    last = -1
    for t in stub.WatchTask(fe.WatchTaskRequest(session_id=sid, task_id=tid), timeout=180):
        last = t.status.state
    return last


def requeued(stub: frontend_pb2_grpc.FrontendStub, sid: str, tid: str) -> bool:
    t = stub.GetTask(fe.GetTaskRequest(session_id=sid, task_id=tid), timeout=10)
    return any(e.code == REQUEUED for e in t.status.events)


def test_full_disk_fails_closed_and_every_accepted_task_finishes(tmp_path: Path) -> None:
    runs = tmp_path / "runs.log"
    with (
        tmpfs(tmp_path / "db") as db,
        cluster(db, tmp_path) as (sm, stub, sid),
        ThreadPoolExecutor(8) as pool,
    ):
        # inputs and outputs of 64 KiB or more are files beside the database: a result needs space
        slow = b"sleep:0.5" + b" " * (70 << 10)
        accepted = {create(stub, sid, slow): slow for _ in range(6)}
        futures = {tid: pool.submit(watch, stub, sid, tid) for tid in accepted}
        wait_until(lambda: runs.exists() and len(runs.read_text().split()) >= 2, timeout=60)
        filler = fill(db)  # the two running tasks' results cannot be stored
        wait_until(lambda: any(requeued(stub, sid, t) for t in accepted), timeout=30)
        refused: list[grpc.RpcError] = []
        for i in range(40):
            data = f"t{i}-".encode() + b"x" * (2000 if i % 2 else 70 << 10)  # new WAL pages, a file
            try:
                accepted[create(stub, sid, data)] = data
            except grpc.RpcError as exc:
                refused.append(exc)
        assert refused, "no CreateTask failed on a full disk"
        for exc in refused:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (exc.code(), exc.details())
            details = exc.details() or ""
            assert "database or disk is full" in details or "No space left on device" in details, details
        assert not any(f.done() for f in futures.values())  # nothing announced that is not stored
        filler.unlink()  # space again: every accepted task finishes, its waiting caller told
        assert all(f.result(timeout=120) == int(TaskState.SUCCEED) for f in futures.values())
        wait_until(lambda: all(state(stub, sid, t) == int(TaskState.SUCCEED) for t in accepted), timeout=120)
        sm.stop()
        sm.start()  # the same port, the same database
        tasks = list(stub.ListTask(fe.ListTaskRequest(session_id=sid), timeout=30))
    ran = collections.Counter(runs.read_text().split())
    assert {t.metadata.id for t in tasks} == set(accepted)  # nothing refused was stored
    for t in tasks:
        assert t.status.state == int(TaskState.SUCCEED) and t.spec.output == accepted[t.metadata.id]
        starts = [e for e in t.status.events if e.code == int(TaskState.RUNNING)]
        reruns = [e for e in t.status.events if e.code == REQUEUED]
        assert ran[t.metadata.id] <= len(starts) == len(reruns) + 1, (ran[t.metadata.id], t.status.events)
    assert set(ran) <= set(accepted), "a task whose CreateTask failed ran"
    assert any(n > 1 for n in ran.values())  # the results that could not be stored: run again


@contextlib.contextmanager
def ext4(path: Path, image: Path, size: str = "32M") -> Iterator[Path]:
    """A loop-mounted ext4 file system (it honours ``chattr +i`` on files a process holds open)."""
    if os.geteuid() != 0:
        pytest.skip("a loop mount needs root: the read-only test did not run")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True)
    if made.returncode != 0 or subprocess.run(["mount", "-o", "loop", str(image), str(path)]).returncode != 0:
        pytest.skip("mkfs.ext4 or mount -o loop is not permitted here: the read-only test did not run")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False, capture_output=True)
        subprocess.run(["umount", str(path)], check=True)
        image.unlink()


def test_read_only_data_directory_fails_writes_at_once_and_reads_work(tmp_path: Path) -> None:
    with ext4(tmp_path / "fs", tmp_path / "fs.img") as fs, cluster(fs / "data", tmp_path) as (sm, stub, sid):
        data = fs / "data"
        done = create(stub, sid, b"before")
        wait_until(lambda: state(stub, sid, done) == int(TaskState.SUCCEED), timeout=60)
        # as root neither chmod nor a busy remount stops the writes: make the files immutable
        # (the SHM stays writable: readers take their locks in it)
        frozen = [str(data / "flame.db"), str(data / "flame.db-wal"), str(data)]
        subprocess.run(["chattr", "+i", *frozen], check=True)
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            create(stub, sid, b"while read-only", timeout=30)
        assert time.monotonic() - began < 5
        details = raised.value.details() or ""
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, details
        assert "disk I/O error" in details or "not permitted" in details, details
        # reads keep working: the session, a finished task (read from the database), the list
        assert stub.GetSession(fe.GetSessionRequest(session_id=sid), timeout=10).metadata.id == sid
        assert state(stub, sid, done) == int(TaskState.SUCCEED)
        assert [t.metadata.id for t in stub.ListTask(fe.ListTaskRequest(session_id=sid), timeout=10)] == [
            done
        ]
        subprocess.run(["chattr", "-i", *frozen], check=True)
        again = create(stub, sid, b"after")
        wait_until(lambda: state(stub, sid, again) == int(TaskState.SUCCEED), timeout=60)
        assert sm.proc is not None and sm.proc.poll() is None


def _modes(data_dir: Path) -> dict[str, int]:
    found = {}
    for path in [data_dir, *data_dir.rglob("*")]:
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.parametrize("loose", [False, True])
def test_data_directory_and_database_are_owner_only_whatever_the_umask(tmp_path: Path, loose: bool) -> None:
    data = tmp_path / "data"
    if loose:  # an older session manager left them readable by everyone
        data.mkdir(mode=0o755)
        os.chmod(data, 0o755)
        (data / "flame.db").touch()
        os.chmod(data / "flame.db", 0o644)
    sm = Manager(data, tmp_path, umask=0).start()
    try:
        with flamepy.Connection(sm.endpoint) as conn:
            register(conn)
            ssn = conn.create_session(flamepy.SessionAttributes(application="reliable"))
            ssn.create_task(b"x" * (100 << 10))  # stored as a file under blobs/
        modes = _modes(data)
    finally:
        sm.stop()
    assert {"flame.db", "flame.db-wal", "flame.db-shm"} <= set(modes), modes
    assert any(name.startswith("blobs/") and name.endswith(".0") for name in modes), modes
    for name, mode in modes.items():
        is_dir = (data / name).is_dir() if name != "." else True
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))
    if loose:
        assert "made it 0700" in sm.log() and "made it 0600" in sm.log()
