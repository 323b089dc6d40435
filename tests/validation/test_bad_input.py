"""Bad input against a real session manager, with raw stubs: each case is one finding of the
bad-input review, answered INVALID_ARGUMENT / RESOURCE_EXHAUSTED naming the field and the limit,
never UNKNOWN, never echoing the input back unbounded, and never touching state."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from flamepy.proto import backend_pb2 as be
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from session_manager.limits import Limits
from tests.validation.conftest import Clients, rpc_error

U32 = 2**32 - 1
U64 = 2**64 - 1
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads under 128 bytes)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def create_session(c: Clients, sid: str, **spec: object) -> pb.Session:
    return c.fe.CreateSession(
        fe.CreateSessionRequest(session_id=sid, session=pb.SessionSpec(application="flmping", **spec)),
        timeout=10,
    )


def node_register(name: str = "n1", cpu: int = 4, gpu: int = 0, memory: int = 8 << 30) -> be.NodeMessage:
    res = pb.ResourceRequirement(cpu=cpu, memory=memory, gpu=gpu)
    node = pb.Node(
        metadata=pb.Metadata(id=name, name=name),
        spec=pb.NodeSpec(hostname="h"),
        status=pb.NodeStatus(state=pb.Ready, capacity=res, allocatable=res),
    )
    return be.NodeMessage(register=be.RegisterNode(node=node, shims=[pb.Host]))


def attach(c: Clients, *messages: be.NodeMessage) -> grpc.RpcError:
    """Send ``messages`` on a Backend stream; the error the stream ends with."""
    return rpc_error(lambda: list(c.be.Attach(iter(messages), timeout=10)))


# -- decoding: invalid UTF-8 and unknown enum values ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("/flame.v1.Frontend/GetSession", _field(1, b"\xff\xfe"), "session_id"),
        (
            "/flame.v1.Frontend/CreateSession",
            _field(1, b"s") + _field(2, _field(2, b"a\xc3")),
            "session.application",
        ),
        ("/flamepy.v1.FrontendExt/CreateTasks", _field(1, b"\xed\xa0\x80"), "session_id"),
        ("/flamepy.v1.FrontendExt/RunTask", _field(1, b"\x80"), "session_id"),
    ],
)
def test_invalid_utf8_is_invalid_argument_naming_the_field(clients, method, payload, field) -> None:
    err = rpc_error(lambda: clients.raw(method)(payload, timeout=10))
    assert err.code() == INVALID, err.details()
    assert f"{field}: invalid UTF-8" in err.details()


def test_unknown_enum_value_is_invalid_argument_naming_the_field(clients) -> None:
    spec = pb.ApplicationSpec(shim=7, command="x")
    req = fe.RegisterApplicationRequest(name="odd", application=spec)
    err = rpc_error(lambda: clients.fe.RegisterApplication(req, timeout=10))
    assert err.code() == INVALID and "application.shim" in err.details() and "7" in err.details()
    missing = rpc_error(lambda: clients.fe.GetApplication(fe.GetApplicationRequest(name="odd"), timeout=10))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_shim_in_a_node_registration_is_rejected(clients) -> None:
    msg = node_register("n-shim")
    msg.register.shims.append(9)
    err = attach(clients, msg)
    assert err.code() == INVALID and "register.shims" in err.details()


# -- echoes and ids ------------------------------------------------------------------------------


def test_a_huge_id_is_rejected_without_being_echoed(clients) -> None:
    huge = "x" * 1_000_000
    calls = [
        lambda: clients.fe.GetSession(fe.GetSessionRequest(session_id=huge), timeout=10),
        lambda: clients.fe.GetTask(fe.GetTaskRequest(session_id="s", task_id=huge), timeout=10),
        lambda: create_session(clients, huge),
        lambda: clients.ext.CreateTasks(ext.CreateTasksRequest(session_id=huge), timeout=10),
        lambda: clients.fe.GetNode(fe.GetNodeRequest(name=huge), timeout=10),
    ]
    for call in calls:
        err = rpc_error(call)
        assert err.code() == INVALID, err.details()
        assert len(err.details()) < 300 and "…" in err.details()


@pytest.mark.parametrize("tid", [" 1", "1 ", "\u0661", "01", "+1", "1_0", "0x1", "0", "-1", "9" * 40])
def test_task_ids_are_canonical(clients, tid) -> None:
    create_session(clients, "s1")
    clients.fe.CreateTask(fe.CreateTaskRequest(task=pb.TaskSpec(session_id="s1", input=b"a")), timeout=10)
    assert clients.fe.GetTask(fe.GetTaskRequest(session_id="s1", task_id="1"), timeout=10).metadata.id == "1"
    err = rpc_error(lambda: clients.fe.GetTask(fe.GetTaskRequest(session_id="s1", task_id=tid), timeout=10))
    assert err.code() == INVALID and "task id" in err.details()


# -- absurd values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"min_instances": U32}, "min_instances"),
        ({"max_instances": U32}, "max_instances"),
        ({"priority": U32}, "priority"),
        ({"batch_size": U32}, "batch_size"),
        ({"resreq": pb.ResourceRequirement(cpu=U64)}, "resreq.cpu"),
        ({"resreq": pb.ResourceRequirement(memory=U64)}, "resreq.memory"),
        ({"resreq": pb.ResourceRequirement(gpu=-7)}, "resreq.gpu"),
    ],
)
def test_absurd_session_values_are_rejected_and_nothing_is_created(clients, spec, field) -> None:
    err = rpc_error(lambda: create_session(clients, "s-absurd", **spec))
    assert err.code() == INVALID and field in err.details(), err.details()
    assert "allowed" in err.details()  # names the range
    gone = rpc_error(lambda: clients.fe.GetSession(fe.GetSessionRequest(session_id="s-absurd"), timeout=10))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"environments": [pb.Environment(name=f"K{i}", value="v") for i in range(100_000)]}, "environments"),
        ({"arguments": ["a"] * 5_000}, "arguments"),
        ({"command": "c" * 1_000_000}, "command"),
        ({"arguments": ["a\x00b"]}, "arguments[0]"),
        ({"environments": [pb.Environment(name="A=B", value="v")]}, "environment name"),
        ({"max_instances": U32}, "max_instances"),
        ({"delay_release": -1}, "delay_release"),
    ],
)
def test_absurd_application_specs_are_rejected(clients, spec, field) -> None:
    req = fe.RegisterApplicationRequest(name="absurd", application=pb.ApplicationSpec(**spec))
    res = clients.fe.RegisterApplication(req, timeout=30)
    assert res.return_code == INVALID.value[0] and field in res.message, res.message
    assert len(res.message) < 400
    gone = rpc_error(lambda: clients.fe.GetApplication(fe.GetApplicationRequest(name="absurd"), timeout=10))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (node_register(name="n" * 1_000_000), "node name"),
        (node_register(name="bad name"), "node name"),
        (node_register(cpu=U64), "capacity.cpu"),
        (node_register(gpu=-7), "capacity.gpu"),
        (node_register(memory=U64), "capacity.memory"),
    ],
)
def test_absurd_node_registrations_are_rejected(clients, msg, field) -> None:
    err = attach(clients, msg)
    assert err.code() == INVALID and field in err.details(), err.details()
    assert len(err.details()) < 300
    assert list(clients.fe.ListNodes(fe.ListNodesRequest(), timeout=10).nodes) == []


def test_a_node_reporting_a_non_canonical_task_id_is_cut_off(clients) -> None:
    bad = be.NodeMessage(task_result=be.TaskOutcome(executor_id="e", session_id="s", task_id="\u0661"))
    err = attach(clients, node_register("n-bad"), bad)
    assert err.code() == INVALID and "task id" in err.details()


def test_huge_min_instances_and_a_huge_node_do_not_wedge_the_server(clients) -> None:
    err = rpc_error(lambda: create_session(clients, "greedy", min_instances=U32))
    assert err.code() == INVALID
    assert attach(clients, node_register("huge", cpu=U64)).code() == INVALID
    create_session(clients, "modest", min_instances=1)
    got = clients.fe.GetSession(fe.GetSessionRequest(session_id="modest"), timeout=5)
    assert got.spec.min_instances == 1


# -- tasks per request ---------------------------------------------------------------------------


def test_too_many_tasks_in_one_request_is_resource_exhausted_and_creates_none(clients) -> None:
    create_session(clients, "s1")
    many = ext.CreateTasksRequest(session_id="s1", inputs=[ext.TaskInput()] * 300_000)
    err = rpc_error(lambda: clients.ext.CreateTasks(many, timeout=30))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_tasks_per_request" in err.details() and "10000" in err.details()
    assert clients.fe.GetSession(fe.GetSessionRequest(session_id="s1"), timeout=10).status.pending == 0
    at_limit = ext.CreateTasksRequest(session_id="s1", inputs=[ext.TaskInput()] * 10_000)
    assert len(clients.ext.CreateTasks(at_limit, timeout=60).task_ids) == 10_000


def test_the_tasks_per_request_limit_is_configurable(start_sm) -> None:
    srv = start_sm(limits=Limits(max_tasks_per_request=3))
    c = Clients(srv.target)
    try:
        create_session(c, "s1")
        ok = c.ext.CreateTasks(
            ext.CreateTasksRequest(session_id="s1", inputs=[ext.TaskInput()] * 3), timeout=10
        )
        assert list(ok.task_ids) == ["1", "2", "3"]
        four = ext.CreateTasksRequest(session_id="s1", inputs=[ext.TaskInput()] * 4)
        err = rpc_error(lambda: c.ext.CreateTasks(four, timeout=10))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "at most 3" in err.details()
    finally:
        c.close()


def test_a_huge_submission_does_not_stall_other_clients(clients, sm) -> None:
    create_session(clients, "s1")
    other = Clients(sm.target)
    many = ext.CreateTasksRequest(session_id="s1", inputs=[ext.TaskInput()] * 300_000)
    sender = threading.Thread(target=lambda: rpc_error(lambda: clients.ext.CreateTasks(many, timeout=60)))
    try:
        sender.start()
        slowest = 0.0
        while sender.is_alive():
            began = time.monotonic()
            other.fe.GetSession(fe.GetSessionRequest(session_id="s1"), timeout=30)
            slowest = max(slowest, time.monotonic() - began)
        sender.join()
        assert slowest < 3.0, f"another client waited {slowest:.1f} s"
    finally:
        other.close()
