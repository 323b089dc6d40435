"""A node is only trusted for what it was given: a rogue executor manager, written with the raw
Backend stubs, against a real session manager process with a real node ("real") beside it."""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.proto import backend_pb2 as be
from flamepy.proto import backend_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.types import NodeState, TaskState
from tests.e2e.conftest import HERE, app_attrs
from tests.support import wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    data = tmp_path_factory.mktemp("trust")
    with LocalCluster(data, port=0, node_name="real", executors_env={"FLAME_NODE_CPUS": "1"}) as c:
        yield c


@pytest.fixture(scope="module")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(cluster.endpoint) as c:
        c.register_application("gate", app_attrs(HERE / "gate_service.py"))
        yield c


def _attach(cluster: LocalCluster, requests: Iterator[be.NodeMessage]) -> tuple[grpc.Channel, Iterator]:
    """The one place a rogue node connects: a node that holds the cluster's node token (a stolen
    or compromised node; without the token it gets nothing at all, see tests/security)."""
    ch = grpc.insecure_channel(cluster.endpoint.removeprefix("http://"))
    md = (("authorization", f"Bearer {cluster.node_token}"),)
    return ch, backend_pb2_grpc.BackendStub(ch).Attach(requests, metadata=md, timeout=60)


class RogueNode:
    """Registers ``name`` with ``capacity`` and sends whatever the test puts in ``send``."""

    def __init__(self, cluster: LocalCluster, name: str, cpu: int = 1, memory: int = 1 << 30) -> None:
        self.outbox: queue.SimpleQueue[be.NodeMessage | None] = queue.SimpleQueue()
        cap = pb.ResourceRequirement(cpu=cpu, memory=memory)
        node = pb.Node(
            metadata=pb.Metadata(id=name, name=name),
            spec=pb.NodeSpec(hostname=name),
            status=pb.NodeStatus(state=pb.Ready, capacity=cap, allocatable=cap),
        )
        self.send(be.NodeMessage(register=be.RegisterNode(node=node, shims=[pb.Host])))
        self.channel, self.replies = _attach(cluster, iter(self.outbox.get, None))

    def send(self, msg: be.NodeMessage) -> None:
        self.outbox.put(msg)

    def first_reply(self) -> be.ManagerMessage:
        return next(self.replies)

    def close(self) -> None:
        self.outbox.put(None)
        self.channel.close()


def _log(cluster: LocalCluster) -> str:
    return (cluster.logs_dir / "session-manager.log").read_text(errors="replace")


def test_a_forged_result_for_the_real_nodes_executor_is_dropped(
    cluster: LocalCluster, conn: flamepy.Connection, tmp_path: Path
) -> None:
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    ssn = conn.create_session(flamepy.SessionAttributes(application="gate"))
    task = ssn.create_task(str(fifo).encode())
    wait_until(lambda: ssn.get_task(task.id).state == TaskState.RUNNING, timeout=30)
    (executor,) = [e for e in conn.list_executors() if e.node == "real"]
    rogue = RogueNode(cluster, "rogue")
    try:
        assert rogue.first_reply().HasField("registered")
        forged = be.TaskOutcome(
            executor_id=executor.id, session_id=ssn.id, task_id=task.id, return_code=0, output=b"forged"
        )
        rogue.send(be.NodeMessage(task_results=be.TaskOutcomes(outcomes=[forged])))
        wait_until(lambda: f"node rogue sent a result of task {ssn.id}/{task.id}" in _log(cluster))
        assert ssn.get_task(task.id).state == TaskState.RUNNING
        with open(fifo, "wb") as gate:  # the real node's service now answers
            gate.write(b"real")
        final = list(ssn.watch_task(task.id, timeout=30))[-1]
        assert (final.state, final.output) == (TaskState.SUCCEED, b"real")
    finally:
        rogue.close()
        ssn.close()


def test_a_second_node_cannot_take_a_connected_nodes_name(
    cluster: LocalCluster, conn: flamepy.Connection, tmp_path: Path
) -> None:
    impostor = RogueNode(cluster, "real")
    try:
        with pytest.raises(grpc.RpcError) as refused:
            impostor.first_reply()
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "node 'real'" in (refused.value.details() or "")
        assert "a node of that name is connected" in (refused.value.details() or "")
    finally:
        impostor.close()
    assert conn.get_node("real").state == NodeState.READY
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    ssn = conn.create_session(flamepy.SessionAttributes(application="gate"))
    try:
        future = ssn.run(str(fifo).encode())
        with open(fifo, "wb") as gate:  # the real node still runs tasks
            gate.write(b"still here")
        assert future.result(timeout=30) == b"still here"
    finally:
        ssn.close()


@pytest.mark.parametrize(
    ("cpu", "memory", "field"),
    [(10**9, 1 << 30, "capacity.cpu"), (1, 1 << 62, "capacity.memory")],
)
def test_absurd_capacity_is_refused_naming_the_field(
    cluster: LocalCluster, cpu: int, memory: int, field: str
) -> None:
    rogue = RogueNode(cluster, "huge", cpu=cpu, memory=memory)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            rogue.first_reply()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (refused.value.details() or "")
    finally:
        rogue.close()
    with flamepy.Connection(cluster.endpoint) as conn:
        assert all(n.name != "huge" for n in conn.list_nodes())
