"""FrontendExt.GetTaskStats / ExecInTask against a real session manager and a scripted node
(``FakeNode``): each goes to the node that runs the task and comes back as the node answered; a
task that is not running, not a job, or on a node that is gone gets its status and a message
naming what is wrong; an exec whose caller leaves is stopped on the node."""

from __future__ import annotations

import grpc
import pytest

from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import types_pb2 as pb
from tests.session_manager.fake_node import FakeNode
from tests.session_manager.test_frontend import code_of, create_session, create_task, watch
from tests.session_manager.test_task_logs import _stubs
from tests.support import wait_until

HOLD = b"hold"


def _running_task(fs, node: FakeNode, sid: str = "s1") -> str:
    node.hold.add(HOLD)
    create_session(fs, sid)
    tid = create_task(fs, sid, HOLD).metadata.id
    wait_until(lambda: any(m.WhichOneof("msg") in ("invoke_task", "invoke_tasks") for m in node.received), 10)
    return tid


def _stats(xs, sid: str, tid: str) -> ext.TaskStats:
    return xs.GetTaskStats(ext.TaskStatsRequest(session_id=sid, task_id=tid), timeout=30)


def _exec(xs, sid: str, tid: str, argv: list[str], timeout_s: float = 0.0) -> list[ext.ExecChunk]:
    req = ext.ExecInTaskRequest(session_id=sid, task_id=tid, argv=argv, timeout_s=timeout_s)
    return list(xs.ExecInTask(req, timeout=30))


def _sent(node: FakeNode, kind: str) -> list:
    return [getattr(m, kind) for m in node.received if m.WhichOneof("msg") == kind]


def test_stats_come_from_the_node_that_runs_the_task(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _running_task(fs, fake_node)
    gpu = ext.GpuStats(index=1, util_percent=40.0, memory_used_bytes=1 << 30, memory_total_bytes=8 << 30)
    fake_node.stats[("s1", tid)] = ext.TaskStats(
        pids=[41, 42], cpu_percent=150.0, rss_bytes=5 << 20, gpus=[gpu], running=True
    )
    got = _stats(xs, "s1", tid)
    assert (list(got.pids), got.cpu_percent, got.rss_bytes, got.running) == ([41, 42], 150.0, 5 << 20, True)
    assert got.node == fake_node.name and list(got.gpus) == [gpu]
    [probe] = _sent(fake_node, "task_stats")
    assert (probe.session_id, probe.task_id) == ("s1", tid)

    fake_node.stats[("s1", tid)] = ext.TaskStats(running=False)  # its processes are gone
    code, details = code_of(lambda: _stats(xs, "s1", tid))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "has ended" in details


def test_stats_of_a_task_that_is_not_a_running_job(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _running_task(fs, fake_node)
    code, details = code_of(lambda: _stats(xs, "s1", tid))  # the node has no job for it
    assert (
        code == grpc.StatusCode.NOT_FOUND and f"task s1/{tid} has no job on node {fake_node.name}" in details
    )
    done = create_task(fs, "s1", b"x").metadata.id
    assert watch(fs, "s1", done)[-1].status.state == pb.Succeed
    code, details = code_of(lambda: _stats(xs, "s1", done))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and f"task s1/{done} is not running" in details
    assert code_of(lambda: _stats(xs, "s1", "99"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: _exec(xs, "s1", done, ["true"]))[0] == grpc.StatusCode.FAILED_PRECONDITION


def test_exec_streams_the_nodes_output_and_exit_code(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _running_task(fs, fake_node)
    fake_node.execs[("s1", tid)] = [
        ext.ExecChunk(data=b"one\n"),
        ext.ExecChunk(data=b"two\n"),
        ext.ExecChunk(done=True, exit_code=7),
    ]
    chunks = _exec(xs, "s1", tid, ["sh", "-c", "exit 7"])
    assert [(c.data, c.done, c.exit_code) for c in chunks] == [
        (b"one\n", False, 0),
        (b"two\n", False, 0),
        (b"", True, 7),
    ]
    assert {c.node for c in chunks} == {fake_node.name}
    [start] = _sent(fake_node, "exec_start")
    assert (start.session_id, start.task_id, list(start.argv), start.timeout_s) == (
        "s1", tid, ["sh", "-c", "exit 7"], 600.0,
    )  # fmt: skip
    code, details = code_of(lambda: _exec(xs, "s1", "99", ["true"]))
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("argv", "timeout_s", "words"),
    [
        ([], 0.0, "argv is empty"),
        (["x"] * 300, 0.0, "at most 256"),
        (["true"], -1.0, "timeout_s"),
        (["a\0b"], 0.0, "NUL"),
        (["true"], 1e9, "timeout_s"),
    ],
)
def test_exec_refuses_bad_requests_before_the_node(
    stubs, fake_node: FakeNode, argv, timeout_s, words
) -> None:
    fs, xs = stubs
    tid = _running_task(fs, fake_node)
    code, details = code_of(lambda: _exec(xs, "s1", tid, argv, timeout_s))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and words in details
    assert not _sent(fake_node, "exec_start")


def test_an_exec_whose_caller_leaves_is_stopped_on_the_node(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _running_task(fs, fake_node)
    fake_node.execs[("s1", tid)] = [ext.ExecChunk(data=b"working\n")]  # never done
    call = xs.ExecInTask(ext.ExecInTaskRequest(session_id="s1", task_id=tid, argv=["sleep", "9"]), timeout=30)
    assert next(call).data == b"working\n"
    call.cancel()
    [start] = _sent(fake_node, "exec_start")
    stop = wait_until(lambda: _sent(fake_node, "exec_stop"), 10)
    assert [s.request_id for s in stop] == [start.request_id]


def test_an_exec_fails_when_the_nodes_stream_ends(start_server) -> None:
    srv = start_server(node_log_timeout=60.0)
    ch, fs, xs = _stubs(srv)
    node = FakeNode(srv.target, name="n-gone").start()
    tid = _running_task(fs, node)
    node.execs[("s1", tid)] = [ext.ExecChunk(data=b"x")]
    call = xs.ExecInTask(ext.ExecInTaskRequest(session_id="s1", task_id=tid, argv=["sleep", "9"]), timeout=30)
    assert next(call).data == b"x"
    node.stop()
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (
        "the stream of node n-gone ended before it sent the command run beside task" in info.value.details()
    )
    ch.close()
