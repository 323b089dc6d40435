"""The SDK's retry-policy API over the in-memory transport: Connection.set_retry_policy for an
application or a session, and create_session(max_retries=, retry_on_error=, task_timeout=)."""

from __future__ import annotations

import pytest

import flamepy
from flamepy.transport.memory import MemoryTransport
from flamepy.types import RetryPolicy, SessionState


def _register(conn: flamepy.Connection) -> None:
    conn.register_application("app", flamepy.ApplicationAttributes())


def test_application_policy_is_the_default_of_its_sessions(
    memory: MemoryTransport, conn: flamepy.Connection
) -> None:
    _register(conn)
    got = conn.set_retry_policy("app", max_retries=1, task_timeout=2.5)
    assert got == RetryPolicy(max_retries=1, retry_on_error=False, task_timeout=2.5)
    ssn = conn.create_session(flamepy.SessionAttributes(application="app", id="s1"))
    # a session that sets one option inherits the others from its application
    assert conn.set_retry_policy(session=ssn, retry_on_error=True) == RetryPolicy(1, True, 2.5)
    assert conn.set_retry_policy(session="s1", task_timeout=0) == RetryPolicy(1, True, None)
    assert memory.policies[("application", "app")] == RetryPolicy(1, False, 2.5)


def test_create_session_sets_its_policy(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    _register(conn)
    attrs = flamepy.SessionAttributes(application="app", id="s1")
    ssn = conn.create_session(attrs, max_retries=0, retry_on_error=True, task_timeout=1)
    assert memory.policies[("session", ssn.id)] == RetryPolicy(0, True, 1)
    plain = conn.create_session(flamepy.SessionAttributes(application="app", id="s2"))
    assert ("session", plain.id) not in memory.policies  # None everywhere: inherits, no call
    assert memory.counters["set_retry_policy"] == 1


def test_create_session_closes_the_session_when_its_policy_is_refused(
    memory: MemoryTransport, conn: flamepy.Connection
) -> None:
    _register(conn)
    with pytest.raises(flamepy.InvalidArgumentError, match="max_retries must be from 0 to 100"):
        conn.create_session(flamepy.SessionAttributes(application="app", id="s1"), max_retries=101)
    assert memory.sessions["s1"][1].state == SessionState.CLOSED


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "an application or a session"),
        ({"application": "app", "session": "s1"}, "an application or a session"),
        ({"application": "app", "max_retries": True}, "max_retries must be an integer"),
        ({"application": "app", "max_retries": 1.5}, "max_retries must be an integer"),
        ({"application": "app", "retry_on_error": 1}, "retry_on_error must be True or False"),
        ({"application": "app", "task_timeout": -1}, "task_timeout must be seconds >= 0"),
        ({"application": "app", "task_timeout": "1"}, "task_timeout must be seconds >= 0"),
    ],
)
def test_bad_options_are_refused_before_any_call(
    memory: MemoryTransport, conn: flamepy.Connection, kwargs: dict, match: str
) -> None:
    _register(conn)
    with pytest.raises(flamepy.InvalidArgumentError, match=match):
        conn.set_retry_policy(**kwargs)
    assert memory.counters["set_retry_policy"] == 0


def test_unknown_target_is_not_found(conn: flamepy.Connection) -> None:
    with pytest.raises(flamepy.NotFoundError):
        conn.set_retry_policy("nope", max_retries=1)
    with pytest.raises(flamepy.NotFoundError):
        conn.set_retry_policy(session="nope", max_retries=1)


def test_top_level_create_session_passes_the_policy(memory: MemoryTransport) -> None:
    from flamepy import client

    conn = flamepy.Connection.over(memory)
    _register(conn)
    client._default = conn
    try:
        ssn = flamepy.create_session("app", session_id="s9", max_retries=2, task_timeout=5.0)
        assert memory.policies[("session", ssn.id)] == RetryPolicy(2, False, 5.0)
    finally:
        flamepy.reset_default_connection()
