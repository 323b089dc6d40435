"""Property-based fuzzing of every RPC the servers offer: Frontend, FrontendExt, Backend (session
manager) and ObjectCache, each driven with hypothesis-generated raw request bytes (``wire.py``)
through raw channel calls against real in-process servers on 127.0.0.1:0.

For every generated request: the answer is OK or a status that names a client mistake (never
UNKNOWN or INTERNAL, never a timeout except on the calls that wait for work by design), its
details are bounded, and no server logs an error. After the run: what was created before it is
still there, unchanged, and a normal request still works. Examples are derandomized (a fixed
sequence per test, stable in CI) and bounded so the file runs in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flamepy.common.bounds import MAX_DETAILS_CHARS
from flamepy.proto import (
    backend_pb2,
    cache_pb2,
    cache_pb2_grpc,
    extensions_pb2,
    extensions_pb2_grpc,
    frontend_pb2,
    frontend_pb2_grpc,
)
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from session_manager.config import ServerConfig
from tests.cache.cache_testkit import CacheServerThread
from tests.fuzz.wire import INT_EDGES, message
from tests.session_manager.conftest import ServerThread
from tests.support import channel as auth_channel

CLIENT_MISTAKES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
}
WAITS_FOR_WORK = {"RunTask", "WatchTask", "WatchSession"}  # may run out of time by design
RESULT_CODES_OK = {0, 3, 5, 6, 8, 9, 11}  # a Result's return_code: ok or a client mistake
integers_u64 = st.sampled_from([e for e in INT_EDGES if 0 <= e < 2**64])
integers_i32 = st.sampled_from([e for e in INT_EDGES if -(2**31) <= e < 2**31])
CALL_TIMEOUT = 10.0
WAIT_TIMEOUT = 1.0


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def methods(service: ServiceDescriptor) -> list[MethodDescriptor]:
    return list(service.methods)


def requests_for(service: ServiceDescriptor) -> st.SearchStrategy[tuple[str, list[bytes]]]:
    """A method name of ``service`` and the raw request(s) to send it (several for client streams)."""

    def payloads(m: MethodDescriptor) -> st.SearchStrategy[tuple[str, list[bytes]]]:
        most = 4 if m.client_streaming else 1
        return st.tuples(st.just(m.name), st.lists(message(m.input_type), min_size=1, max_size=most))

    return st.sampled_from(methods(service)).flatmap(payloads)


@st.composite
def node_streams(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    """A Backend stream that often begins with a plausible register (so what follows is read)."""
    m = BACKEND.methods_by_name["Attach"]
    rest = draw(st.lists(message(m.input_type), max_size=3))
    if draw(st.booleans()):
        return m.name, [draw(message(m.input_type)), *rest]
    res = pb.ResourceRequirement(cpu=draw(integers_u64), memory=draw(integers_u64), gpu=draw(integers_i32))
    name = draw(st.sampled_from(["n1", "n2", "node-a", "x" * 300]))
    node = pb.Node(metadata=pb.Metadata(name=name), status=pb.NodeStatus(capacity=res, allocatable=res))
    register = backend_pb2.NodeMessage(register=backend_pb2.RegisterNode(node=node, shims=[pb.Host]))
    return m.name, [register.SerializeToString(), *rest]


def call(channel: grpc.Channel, m: MethodDescriptor, reqs: list[bytes]) -> tuple[grpc.StatusCode, str, bytes]:
    """Send ``reqs`` to method ``m`` unencoded; its status, details and (unary) response bytes."""
    path = f"/{m.containing_service.full_name}/{m.name}"
    timeout = WAIT_TIMEOUT if m.name in WAITS_FOR_WORK else CALL_TIMEOUT
    kind = {(False, False): "unary_unary", (False, True): "unary_stream"}
    kind |= {(True, False): "stream_unary", (True, True): "stream_stream"}
    fn = getattr(channel, kind[(m.client_streaming, m.server_streaming)])(path, None, None)
    arg = iter(reqs) if m.client_streaming else reqs[0]
    try:
        out = fn(arg, timeout=timeout)
        body = b"" if m.server_streaming else out
        if m.server_streaming:
            list(out)
    except grpc.RpcError as err:
        return err.code(), err.details() or "", b""
    return grpc.StatusCode.OK, "", body


def check_answer(m: MethodDescriptor, code: grpc.StatusCode, details: str, body: bytes) -> None:
    allowed = CLIENT_MISTAKES | ({grpc.StatusCode.DEADLINE_EXCEEDED} if m.name in WAITS_FOR_WORK else set())
    assert code in allowed, f"{m.name}: {code} {details[:300]}"
    assert len(details) <= MAX_DETAILS_CHARS + 64, f"{m.name}: {len(details)} chars of details"
    if body and m.output_type.full_name == "flame.v1.Result":
        result = pb.Result.FromString(body)
        assert result.return_code in RESULT_CODES_OK, f"{m.name}: Result {result}"
        assert len(result.message) <= MAX_DETAILS_CHARS + 64


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage()[:300] for r in errors]


# -- session manager ----------------------------------------------------------------------------


def seed(fs: frontend_pb2_grpc.FrontendStub) -> dict[str, bytes]:
    """Objects the fuzzer cannot name (it never draws these strings); their state as bytes."""
    spec = pb.ApplicationSpec(
        command="python", arguments=["-c", "pass"], environments=[pb.Environment(name="K", value="V")]
    )
    assert (
        fs.RegisterApplication(fe.RegisterApplicationRequest(name="fzkeep", application=spec)).return_code
        == 0
    )
    fs.CreateSession(
        fe.CreateSessionRequest(session_id="fzkeep-s", session=pb.SessionSpec(application="fzkeep"))
    )
    for data in (b"a", b"", None):
        task = pb.TaskSpec(session_id="fzkeep-s")
        if data is not None:
            task.input = data
        fs.CreateTask(fe.CreateTaskRequest(task=task))
    fs.CloseSession(fe.CloseSessionRequest(session_id="fzkeep-s"))
    fs.CreateSession(
        fe.CreateSessionRequest(session_id="fz-s1", session=pb.SessionSpec(application="flmping"))
    )
    fs.CreateTask(fe.CreateTaskRequest(task=pb.TaskSpec(session_id="fz-s1", input=b"x")))
    fs.CloseSession(fe.CloseSessionRequest(session_id="fz-s1"))
    return snapshot(fs)


def snapshot(fs: frontend_pb2_grpc.FrontendStub) -> dict[str, bytes]:
    state = {"app": fs.GetApplication(fe.GetApplicationRequest(name="fzkeep")).SerializeToString()}
    state["session"] = fs.GetSession(fe.GetSessionRequest(session_id="fzkeep-s")).SerializeToString()
    for tid in ("1", "2", "3"):
        task = fs.GetTask(fe.GetTaskRequest(session_id="fzkeep-s", task_id=tid))
        state[f"task{tid}"] = task.SerializeToString()
    return state


def still_answers(fs: frontend_pb2_grpc.FrontendStub, xs: extensions_pb2_grpc.FrontendExtStub) -> None:
    fs.CreateSession(
        fe.CreateSessionRequest(session_id="fz-after", session=pb.SessionSpec(application="fzkeep")),
        timeout=10,
    )
    ids = xs.CreateTasks(
        ext.CreateTasksRequest(session_id="fz-after", inputs=[ext.TaskInput(input=b"q")]), timeout=10
    )
    got = fs.GetTask(fe.GetTaskRequest(session_id="fz-after", task_id=ids.task_ids[0]), timeout=10)
    assert got.spec.input == b"q"


@pytest.fixture
def session_manager(tmp_path: Path) -> Iterator[ServerThread]:
    cfg = ServerConfig(port=0, storage="sqlite", data_dir=str(tmp_path / "data"), unschedulable_timeout=0.2)
    srv = ServerThread(cfg).start()
    yield srv
    srv.stop()


FRONTEND = frontend_pb2.DESCRIPTOR.services_by_name["Frontend"]
FRONTEND_EXT = extensions_pb2.DESCRIPTOR.services_by_name["FrontendExt"]
BACKEND = backend_pb2.DESCRIPTOR.services_by_name["Backend"]
CACHE = cache_pb2.DESCRIPTOR.services_by_name["ObjectCache"]


@pytest.mark.parametrize(("service", "examples"), [("Frontend", 250), ("FrontendExt", 120), ("Backend", 120)])
def test_session_manager_survives_any_request(session_manager, no_server_errors, service, examples) -> None:
    channel = auth_channel(session_manager.target, "node")
    fs = frontend_pb2_grpc.FrontendStub(channel)
    before = seed(fs)

    @fuzz_settings(examples)
    @given(STRATEGIES[service]())
    def one(request: tuple[str, list[bytes]]) -> None:
        m = SERVICES[service].methods_by_name[request[0]]
        check_answer(m, *call(channel, m, request[1]))

    try:
        one()
        assert snapshot(fs) == before
        still_answers(fs, extensions_pb2_grpc.FrontendExtStub(channel))
    finally:
        channel.close()


SERVICES = {"Frontend": FRONTEND, "FrontendExt": FRONTEND_EXT, "Backend": BACKEND}
STRATEGIES = {
    "Frontend": lambda: requests_for(FRONTEND),
    "FrontendExt": lambda: requests_for(FRONTEND_EXT),
    "Backend": node_streams,
}


# -- object cache -------------------------------------------------------------------------------


def cache_state(stub: cache_pb2_grpc.ObjectCacheStub) -> tuple[bytes, bytes]:
    info = stub.Stat(cache_pb2.StatRequest(key="fzkeep/base/obj"), timeout=10)
    data = b"".join(
        r.data for r in stub.Get(cache_pb2.GetRequest(key="fzkeep/base/obj"), timeout=10) if r.data
    )
    return info.SerializeToString(), data


def test_object_cache_survives_any_request(no_server_errors) -> None:
    with CacheServerThread() as srv:
        channel = auth_channel(srv.endpoint.removeprefix("grpc://"))
        stub = cache_pb2_grpc.ObjectCacheStub(channel)
        header = cache_pb2.WriteHeader(key="fzkeep/base/obj", encoding=cache_pb2.ENCODING_RAW, size=4)
        stub.Put(
            iter([cache_pb2.WriteRequest(header=header), cache_pb2.WriteRequest(data=b"keep")]), timeout=10
        )
        before = cache_state(stub)

        @fuzz_settings(250)
        @given(requests_for(CACHE))
        def one(request: tuple[str, list[bytes]]) -> None:
            m = CACHE.methods_by_name[request[0]]
            check_answer(m, *call(channel, m, request[1]))

        try:
            one()
            assert cache_state(stub) == before
            header.key = "fzkeep/base/after"
            stub.Put(
                iter([cache_pb2.WriteRequest(header=header), cache_pb2.WriteRequest(data=b"next")]),
                timeout=10,
            )
            assert stub.Stat(cache_pb2.StatRequest(key="fzkeep/base/after"), timeout=10).base_size == 4
        finally:
            channel.close()
