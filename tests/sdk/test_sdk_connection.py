"""Connection over the memory transport (the default-connection helpers, which need a real endpoint,
are in test_sdk_wire.py)."""

from __future__ import annotations

import re

import pytest

import flamepy
from flamepy import client
from flamepy.transport.memory import MemoryTransport


def test_application_lifecycle(conn: flamepy.Connection) -> None:
    attrs = flamepy.ApplicationAttributes(
        shim=flamepy.Shim.HOST,
        command="python",
        arguments=["-m", "svc"],
        environments={"A": "1"},
        schema=flamepy.ApplicationSchema(input="bytes"),
        max_instances=3,
    )
    conn.register_application("app1", attrs)
    app = conn.get_application("app1")
    assert app is not None
    assert app.name == "app1" and app.command == "python" and app.arguments == ["-m", "svc"]
    assert app.attributes.environments == {"A": "1"}
    assert app.attributes.schema == flamepy.ApplicationSchema(input="bytes")
    assert [a.name for a in conn.list_applications()] == ["app1"]
    with pytest.raises(flamepy.AlreadyExistsError, match="already exists"):
        conn.register_application("app1", attrs)
    conn.update_application("app1", flamepy.ApplicationAttributes(command="bash"))
    app = conn.get_application("app1")
    assert app is not None and app.command == "bash"
    conn.unregister_application("app1")
    assert conn.get_application("app1") is None
    with pytest.raises(flamepy.NotFoundError):
        conn.unregister_application("app1")


@pytest.mark.parametrize("name", ["", "   ", None])
def test_empty_application_name_is_rejected(conn: flamepy.Connection, name) -> None:
    with pytest.raises(flamepy.InvalidArgumentError, match="application name"):
        conn.register_application(name, flamepy.ApplicationAttributes())


def test_session_lifecycle(conn: flamepy.Connection) -> None:
    attrs = flamepy.SessionAttributes(
        application="flmping",
        common_data=b"shared",
        min_instances=1,
        max_instances=4,
        resreq=flamepy.ResourceRequirement.from_string("cpu=2,mem=1g"),
    )
    ssn = conn.create_session(attrs)
    assert re.fullmatch(r"flmping-[A-Za-z0-9]{6}", ssn.id)
    assert ssn.application == "flmping"
    assert ssn.state == flamepy.SessionState.OPEN
    assert ssn.common_data() == b"shared"
    assert ssn.attributes.resreq == flamepy.ResourceRequirement(cpu=2, memory=1 << 30)
    assert ssn.attributes.max_instances == 4
    assert conn.get_session(ssn.id).id == ssn.id
    assert [s.id for s in conn.list_sessions()] == [ssn.id]
    assert conn.open_session(ssn.id).id == ssn.id
    closed = conn.close_session(ssn.id)
    assert closed.state == flamepy.SessionState.CLOSED
    assert ssn.refresh().state == flamepy.SessionState.CLOSED
    with pytest.raises(flamepy.InvalidStateError, match="is not open"):
        conn.open_session(ssn.id)


def test_open_session_with_spec_creates_it(conn: flamepy.Connection) -> None:
    with pytest.raises(flamepy.NotFoundError):
        conn.open_session("s-new")
    ssn = conn.open_session("s-new", flamepy.SessionAttributes(application="flmping"))
    assert ssn.id == "s-new" and ssn.application == "flmping"


def test_explicit_session_id_and_duplicate(conn: flamepy.Connection) -> None:
    conn.create_session(flamepy.SessionAttributes(application="a", id="mine"))
    with pytest.raises(flamepy.AlreadyExistsError):
        conn.create_session(flamepy.SessionAttributes(application="a", id="mine"))


def test_executors_and_nodes(conn: flamepy.Connection) -> None:
    [ex] = conn.list_executors()
    assert ex.id == "e1" and ex.node == "n1"
    [node] = conn.list_nodes()
    assert node.name == "n1" and node.capacity.gpu == 1
    assert conn.get_node("n1").allocatable.cpu == 4
    with pytest.raises(flamepy.NotFoundError):
        conn.get_node("n2")


def test_closed_connection_refuses_calls() -> None:
    conn = flamepy.Connection.over(MemoryTransport())
    conn.close()
    conn.close()  # idempotent
    with pytest.raises(flamepy.InvalidStateError, match="closed"):
        conn.list_sessions()


@pytest.mark.parametrize(
    ("resreq", "expected"),
    [
        ("cpu=2", flamepy.ResourceRequirement(cpu=2)),
        ("mem=2g,gpu=1", flamepy.ResourceRequirement(memory=2 << 30, gpu=1)),
        (flamepy.ResourceRequirement(cpu=3), flamepy.ResourceRequirement(cpu=3)),
        (None, None),
    ],
)
def test_resreq_strings(resreq, expected) -> None:
    assert client.session_attributes("a", resreq=resreq).resreq == expected


@pytest.mark.parametrize("resreq", ["cpu=x", "disk=1", 5])
def test_bad_resreq_is_invalid_argument(resreq) -> None:
    with pytest.raises(flamepy.InvalidArgumentError):
        client.session_attributes("a", resreq=resreq)


def test_bad_session_arguments() -> None:
    with pytest.raises(flamepy.InvalidArgumentError, match="common_data"):
        client.session_attributes("a", common_data="text")  # type: ignore[arg-type]
    with pytest.raises(flamepy.InvalidArgumentError, match="min_instances"):
        client.session_attributes("a", min_instances=-1)
