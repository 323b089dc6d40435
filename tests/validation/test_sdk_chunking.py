"""The SDK keeps its CreateTasks calls under the server's per-request limit, whatever it is."""

from __future__ import annotations

from flamepy.common.bounds import DEFAULT_MAX_TASKS_PER_REQUEST
from flamepy.dispatch_state import BATCH_LIMIT
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from flamepy.transport.grpc import GrpcTransport
from session_manager.limits import Limits
from tests.validation.conftest import Clients


def test_the_dispatcher_batches_under_the_default_limit() -> None:
    assert BATCH_LIMIT <= DEFAULT_MAX_TASKS_PER_REQUEST


def test_a_submission_larger_than_the_server_takes_is_split(start_sm) -> None:
    srv = start_sm(limits=Limits(max_tasks_per_request=7))
    raw = Clients(srv.target)
    spec = pb.SessionSpec(application="flmping")
    raw.fe.CreateSession(fe.CreateSessionRequest(session_id="s1", session=spec), timeout=10)
    transport = GrpcTransport(f"http://{srv.target}", local_pipe=False)
    try:
        ids, err = transport.create_tasks("s1", [str(i).encode() for i in range(50)])
        assert err is None
        assert ids == [str(i) for i in range(1, 51)]
        assert transport.tasks_per_call <= 7
        inputs = [t.spec.input for t in raw.fe.ListTask(fe.ListTaskRequest(session_id="s1"), timeout=10)]
        assert inputs == [str(i).encode() for i in range(50)]  # each once, in order
        more, err = transport.create_tasks("s1", [b"x"] * 20)
        assert err is None and more == [str(i) for i in range(51, 71)]
    finally:
        transport.close()
        raw.close()
