"""Retry policies of applications and sessions (sans-IO; called by ``Core.handle``).

A task's policy is its session's, else its application's, else the server's
(``CoreState.policy``); ``CoreState.requeue`` applies it. Policies are persisted as
``SaveRetryPolicy`` records and restored by ``recovery``.
"""

from __future__ import annotations

from dataclasses import replace

from flamepy.errors import InvalidArgumentError
from session_manager import effects, events
from session_manager.core import applications, sessions
from session_manager.core.state import CoreState
from session_manager.model import RetryPolicy

APPLICATION, SESSION = "application", "session"
MAX_RETRIES_LIMIT = 100
MAX_TASK_TIMEOUT_S = 30 * 86_400.0


def set_policy(st: CoreState, ev: events.SetRetryPolicy) -> RetryPolicy:
    if ev.max_retries is not None and not 0 <= ev.max_retries <= MAX_RETRIES_LIMIT:
        raise InvalidArgumentError(f"max_retries must be from 0 to {MAX_RETRIES_LIMIT}, got {ev.max_retries}")
    if ev.task_timeout is not None and not 0 <= ev.task_timeout <= MAX_TASK_TIMEOUT_S:
        raise InvalidArgumentError(
            f"task_timeout_s must be from 0 (no limit) to {MAX_TASK_TIMEOUT_S:g}, got {ev.task_timeout}"
        )
    if ev.kind == APPLICATION:
        app = applications.get(st, ev.name)
        app.retry = _merged(app.retry or st.retry, ev)
        st.out.records.append(effects.SaveRetryPolicy(APPLICATION, app.name, app.retry))
        return app.retry
    if ev.kind == SESSION:
        ses = sessions.get(st, ev.name)
        ses.retry = _merged(st.policy(ses), ev)
        st.out.records.append(effects.SaveRetryPolicy(SESSION, ses.id, ses.retry))
        return ses.retry
    raise InvalidArgumentError(f"a retry policy is set on an application or a session, not {ev.kind!r}")


def _merged(base: RetryPolicy, ev: events.SetRetryPolicy) -> RetryPolicy:
    policy = base
    if ev.max_retries is not None:
        policy = replace(policy, max_retries=ev.max_retries)
    if ev.retry_on_error is not None:
        policy = replace(policy, retry_on_error=ev.retry_on_error)
    if ev.task_timeout is not None:
        policy = replace(policy, task_timeout=ev.task_timeout or None)
    return policy


def restore(st: CoreState, policies: dict[tuple[str, str], RetryPolicy]) -> None:
    for (kind, name), policy in policies.items():
        if kind == APPLICATION and name in st.apps:
            st.apps[name].retry = policy
        elif kind == SESSION and name in st.sessions:
            st.sessions[name].retry = policy
