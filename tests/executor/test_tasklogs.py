"""The node side of ReadTaskLog: the job runner links each task's log into the node's index and
the executor manager reads chunks of it from the task's ids alone (no path escapes the index)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from executor import convert
from executor.events import LogData, ReadLogRequest
from executor.tasklogs import index_root, read_log
from flamepy.apps.joblog import INDEX_ENV, TaskLog, index_log, index_path, link_index
from flamepy.apps.jobrun import JobRunner
from flamepy.jobs import JobSpec, expand
from flamepy.proto import backend_pb2 as be


def test_ids_become_single_safe_path_components(tmp_path: Path) -> None:
    assert index_path(tmp_path, "ssn-1_a", "12") == tmp_path / "ssn-1_a" / "12.log"
    for sid, tid in [("..", "1"), ("a/../../etc", "1"), ("s", "../../x"), (".", "."), ("s", "/abs")]:
        path = index_path(tmp_path, sid, tid)
        assert path.parent.parent == tmp_path and ".." not in path.parts[-2:] and "/" not in path.name
    assert index_path(tmp_path, "a.b", "1") != index_path(tmp_path, "a%2Eb", "1")  # injective
    for bad in ("", "x" * 300):
        with pytest.raises(ValueError):
            index_path(tmp_path, bad, "1")


def test_read_log_chunks_offsets_and_eof(tmp_path: Path) -> None:
    target = tmp_path / "job" / "0.log"
    target.parent.mkdir()
    target.write_bytes(b"0123456789")
    root = index_root(tmp_path / "work")
    link_index(root, "s", "1", target)
    link_index(root, "s", "1", target)  # re-linked (a retry) atomically
    assert read_log(root, ReadLogRequest(1, "s", "1", 0, 4)) == LogData(1, b"0123", 0, 4, False, 10)
    assert read_log(root, ReadLogRequest(2, "s", "1", 8, 4)) == LogData(2, b"89", 8, 10, True, 10)
    assert read_log(root, ReadLogRequest(3, "s", "1", 50, 4)) == LogData(3, b"", 10, 10, True, 10)
    assert read_log(root, ReadLogRequest(4, "s", "1", 0, 0)).data == b"0123456789"  # 0: the default
    missing = read_log(root, ReadLogRequest(5, "s", "2", 0, 4))
    assert missing.not_found and "has no job log on this node" in missing.error
    target.unlink()  # the log was removed: the dangling link is not found either
    assert read_log(root, ReadLogRequest(6, "s", "1", 0, 4)).not_found
    assert read_log(root, ReadLogRequest(7, "", "1", 0, 4)).not_found


def test_read_log_round_trips_the_backend_messages() -> None:
    msg = be.ManagerMessage(
        read_log=be.ReadLog(request_id=9, session_id="s", task_id="3", offset=5, max_bytes=6)
    )
    assert convert.decode_manager_message(msg) == ReadLogRequest(9, "s", "3", 5, 6)
    [out] = convert.encode_node_messages([LogData(9, b"ab", 5, 7, True, 7)])
    assert (out.log_data.request_id, out.log_data.data, out.log_data.next_offset, out.log_data.eof) == (
        9, b"ab", 7, True,
    )  # fmt: skip


def test_the_job_runner_links_its_log_into_the_index(tmp_path: Path) -> None:
    root = tmp_path / "index"
    runner = JobRunner(base_dir=tmp_path, service_env={**os.environ, INDEX_ENV: str(root)})
    [launch] = expand(JobSpec(command="echo hi", workdir=str(tmp_path), upload=False), job_id="j")
    result = runner.run(launch, {"FLAME_SESSION_ID": "ssn/1", "FLAME_TASK_ID": "4"})
    linked = index_path(root, "ssn/1", "4")
    assert linked.is_symlink() and linked.resolve() == Path(result.log).resolve()
    assert b'"l":"hi"' in read_log(root, ReadLogRequest(1, "ssn/1", "4", 0, 0)).data


def test_an_index_that_cannot_be_written_is_a_warning_in_the_log(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = TaskLog(tmp_path / "t.log")
    index_log(log, {INDEX_ENV: str(blocker), "FLAME_SESSION_ID": "s", "FLAME_TASK_ID": "1"})
    index_log(log, {"FLAME_SESSION_ID": "s", "FLAME_TASK_ID": "1"})  # no index: nothing at all
    log.close()
    lines = (tmp_path / "t.log").read_text().splitlines()
    assert len(lines) == 1 and "log not indexed for the session manager" in lines[0]


def test_the_node_session_answers_a_read_from_a_worker_thread(tmp_path: Path) -> None:
    from executor.fake_launcher import FakeLauncher
    from executor.node import NodeSession
    from executor.shim import HostShim, ShimSettings

    target = tmp_path / "a.log"
    target.write_bytes(b"line\n")
    link_index(index_root(tmp_path), "s", "1", target)
    sent: list[object] = []

    async def main() -> None:
        answered = asyncio.Event()

        def emit(msg: object) -> None:
            sent.append(msg)
            answered.set()

        node = NodeSession(HostShim(ShimSettings(tmp_path, "http://x"), FakeLauncher()), emit)
        node.handle(ReadLogRequest(7, "s", "1", 0, 100))
        await asyncio.wait_for(answered.wait(), 10)
        await node.close()

    asyncio.run(main())
    assert sent == [LogData(7, b"line\n", 0, 5, True, 5)]
