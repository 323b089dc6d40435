"""Backstops for executors that do not stop: sans-IO, called by ``Core.handle(CheckDeadlines)``.

The executor manager enforces a task's timeout and always reports an executor released after its
kill deadline; these backstops cover an executor manager that does not (frozen, buggy). Entries
sit in one heap (``CoreState.deadlines``, only for tasks with a timeout and for Releasing
executors), checked on one shell timer armed for the earliest:

* a task still Running past ``timeout * its place in the executor's queue + stop_timeout`` fails
  with reason Timeout (or runs again under ``retry_on_error``) and its executor is dropped (asked
  to release, forgotten, its resources returned);
* an executor still Releasing ``stop_timeout`` after it was asked is dropped the same way.

Entries that no longer apply (the task moved on, the executor is gone) are skipped.
"""

from __future__ import annotations

import heapq
import logging

from flamepy.common.durations import format_duration
from flamepy.types import ExecutorState, TaskState
from session_manager import effects, events
from session_manager.core import placement
from session_manager.core.state import RELEASE_DEADLINE, CoreState
from session_manager.model import ExecutorRecord

log = logging.getLogger(__name__)


def check_deadlines(st: CoreState, ev: events.CheckDeadlines) -> float | None:
    now = st.clock.mono()
    heap = st.deadlines
    while heap and heap[0][0] <= now:
        _, _, kind, eid, num, attempt, timeout = heapq.heappop(heap)
        ex = st.executors.get(eid)
        if ex is None:
            continue
        if kind == RELEASE_DEADLINE:
            if ex.state == ExecutorState.RELEASING:
                _drop(
                    st,
                    ex,
                    f"executor {eid} on node {ex.node} not released after {format_duration(st.stop_timeout)}",
                )
            continue
        ses = st.sessions.get(ex.session_id)
        rec = ses.tasks.get(num) if ses is not None else None
        if ses is None or rec is None or rec.state != TaskState.RUNNING:
            continue
        if rec.executor_id != eid or rec.attempt != attempt:
            continue
        st.fail_or_retry(
            ses,
            rec,
            f"timed out after {format_duration(timeout)} (attempt {attempt}; executor {eid} on node "
            f"{ex.node} did not stop it within {format_duration(st.stop_timeout)} and was dropped)",
        )
        _drop(st, ex, f"executor {eid} on node {ex.node} did not end timed-out task {num}")
    return max(0.0, heap[0][0] - now) if heap else None


def _drop(st: CoreState, ex: ExecutorRecord, reason: str) -> None:
    log.warning("%s: dropping it and returning its resources", reason)
    st.out.commands.append(effects.ReleaseCmd(ex.node, ex.id))  # if its node still listens
    placement.forget_executor(st, ex, reason)
