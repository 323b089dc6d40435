"""FrontendExt.SetSessionPlacement on a real server, and the SDK's create_session(spread=...) over
it and over the in-memory transport."""

from __future__ import annotations

import grpc
import pytest

import flamepy
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from flamepy.transport.memory import MemoryTransport


def code_of(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def test_set_session_placement_answers_the_setting_and_refuses_unknown_or_closed(stubs) -> None:
    fs, xs = stubs
    fs.CreateSession(fe.CreateSessionRequest(session_id="s1", session=pb.SessionSpec(application="flmping")))
    got = xs.SetSessionPlacement(ext.SetSessionPlacementRequest(session_id="s1", spread=True))
    assert got.spread is True
    assert (
        xs.SetSessionPlacement(ext.SetSessionPlacementRequest(session_id="s1", spread=False)).spread is False
    )
    code, msg = code_of(lambda: xs.SetSessionPlacement(ext.SetSessionPlacementRequest(session_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND and "nope" in msg
    fs.CloseSession(fe.CloseSessionRequest(session_id="s1"))
    code, msg = code_of(
        lambda: xs.SetSessionPlacement(ext.SetSessionPlacementRequest(session_id="s1", spread=True))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "closed" in msg


def test_create_session_with_spread_over_grpc(server) -> None:
    with flamepy.Connection(f"http://{server.target}") as conn:
        ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", id="s2"), spread=True)
        assert server.sm.broker.core.get_session(ssn.id).spread


def test_create_session_with_spread_in_memory() -> None:
    memory = MemoryTransport()
    with flamepy.Connection.over(memory) as conn:
        conn.register_application("app", flamepy.ApplicationAttributes())
        ssn = conn.create_session(flamepy.SessionAttributes(application="app", id="s1"), spread=True)
        assert memory.placements == {ssn.id: True}
        conn.create_session(flamepy.SessionAttributes(application="app", id="s2"))
        assert "s2" not in memory.placements
