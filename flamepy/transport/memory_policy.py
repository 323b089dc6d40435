"""``MemoryTransport.set_retry_policy``: retry policies in the in-memory session manager.

As the real session manager answers SetRetryPolicy: the target (a session, else an application)
must exist (NotFoundError), ``max_retries`` is 0 to 100 and ``task_timeout`` 0 (no limit) to 30
days (InvalidArgumentError); None fields keep the value in effect (the session's own policy, else
its application's, else the default :class:`~flamepy.types.RetryPolicy`). The policies are only
stored: the memory transport does not re-run tasks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.types import RetryPolicy

if TYPE_CHECKING:
    from flamepy.transport.memory import MemoryTransport

MAX_RETRIES = 100
MAX_TASK_TIMEOUT_S = 30 * 86_400.0


def in_effect(t: MemoryTransport, kind: str, name: str) -> RetryPolicy:
    """The policy of an application or a session: its own, else its application's, else the
    default."""
    own = t.policies.get((kind, name))
    if own is not None:
        return own
    if kind == "session":
        return in_effect(t, "application", t.sessions[name][0].application)
    return RetryPolicy()


def set_retry_policy(
    t: MemoryTransport,
    application: str | None,
    session_id: str | None,
    max_retries: int | None,
    retry_on_error: bool | None,
    task_timeout: float | None,
) -> RetryPolicy:
    with t.cond:
        t._enter("set_retry_policy")
        kind, name = ("session", session_id) if session_id is not None else ("application", application)
        if name is None or name not in (t.sessions if kind == "session" else t.apps):
            raise NotFoundError(f"set the retry policy of {kind} {name!r}: {kind} {name} not found")
        if max_retries is not None and not 0 <= max_retries <= MAX_RETRIES:
            raise InvalidArgumentError(f"max_retries must be from 0 to {MAX_RETRIES}, got {max_retries}")
        if task_timeout is not None and not 0 <= task_timeout <= MAX_TASK_TIMEOUT_S:
            raise InvalidArgumentError(
                f"task_timeout_s must be from 0 (no limit) to {MAX_TASK_TIMEOUT_S:g}, got {task_timeout}"
            )
        policy = in_effect(t, kind, name)
        if max_retries is not None:
            policy = replace(policy, max_retries=max_retries)
        if retry_on_error is not None:
            policy = replace(policy, retry_on_error=retry_on_error)
        if task_timeout is not None:
            policy = replace(policy, task_timeout=task_timeout or None)
        t.policies[(kind, name)] = policy
        return policy


def set_session_placement(t: MemoryTransport, session_id: str, spread: bool) -> bool:
    """As SetSessionPlacement answers: the session must exist; the setting is only stored (the
    memory transport has one node)."""
    with t.cond:
        t._enter("set_session_placement")
        if session_id not in t.sessions:
            raise NotFoundError(f"set the placement of session {session_id!r}: not found")
        t.placements[session_id] = spread
        return spread
