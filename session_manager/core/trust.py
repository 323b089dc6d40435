"""A node is believed only about what it was given (sans-IO).

Executor ids are public (``ListExecutor``), so an executor manager's word about an executor counts
only when that executor was placed on the node whose stream carries the report: every per-executor
report (``ExecutorBound``, ``BindFailed``, ``ExecutorReleased``, each outcome of ``TaskResults``)
goes through :func:`held_executor` first, and a task outcome also through :func:`sent_task` (the
task was sent to that executor in its current attempt). The node name of an event is the one its
stream registered with (``node_stream``), and a second stream cannot take over a connected node's
name (:func:`check_new_stream`), so the name is as good as the stream.

A report about another node's executor is dropped without changing any state, counted on the
reporting node's record (``NodeRecord.rejected_reports``) and logged at warning level once per
node registration (later ones at debug), so a misbehaving node cannot flood the log. A report
about an executor the core no longer knows is the ordinary late report of a released executor:
dropped at debug level, not counted.
"""

from __future__ import annotations

import logging

from flamepy.errors import AlreadyExistsError
from flamepy.types import NodeState
from session_manager import events
from session_manager.core.state import CoreState
from session_manager.model import ExecutorRecord

log = logging.getLogger(__name__)


def check_new_stream(st: CoreState, name: str) -> None:
    """Refuse a registration under the name of a node whose stream is live (it is Ready: a stream
    that ended or went silent past the node timeout has made it NotReady)."""
    node = st.nodes.get(name)
    if node is not None and node.state == NodeState.READY:
        raise AlreadyExistsError(
            f"node {name!r} is already registered: a node of that name is connected (it can "
            "register again once its stream has ended or timed out)"
        )


def held_executor(st: CoreState, node: str, executor_id: str, what: str) -> ExecutorRecord | None:
    """The executor ``executor_id`` when it was placed on ``node``; else None (report dropped)."""
    ex = st.executors.get(executor_id)
    if ex is None:
        log.debug("%s from node %s about unknown executor %s: dropped", what, node, executor_id)
        return None
    if ex.node != node:
        reject(st, node, f"{what} about executor {executor_id}, which runs on node {ex.node}")
        return None
    return ex


def sent_task(st: CoreState, ex: ExecutorRecord, r: events.TaskOutcome) -> bool:
    """``r`` is about a task of ``ex``'s session that ``ex`` holds now, in the task's current
    attempt (``attempt`` 0: an older executor manager that does not say). A task the core no longer
    holds (its session was deleted) counts as sent: ``ex`` is done with it either way."""
    num = int(r.task_id)
    if r.session_id != ex.session_id or num not in ex.inflight:
        return False
    ses = st.sessions.get(r.session_id)
    rec = ses.tasks.get(num) if ses is not None else None
    if rec is None:
        return True
    return rec.executor_id == ex.id and (not r.attempt or r.attempt == rec.attempt)


def reject(st: CoreState, node_name: str, what: str) -> None:
    """Count a report of ``node_name`` that is not believed; warn about the first one only."""
    node = st.nodes.get(node_name)
    count = 1
    if node is not None:
        node.rejected_reports += 1
        count = node.rejected_reports
    level = logging.WARNING if count == 1 else logging.DEBUG
    log.log(
        level,
        "node %s sent %s: dropped (%d such report(s) from this node; further ones are logged at "
        "debug level) [%s]",
        node_name,
        what,
        count,
        st.stimulus_id,
    )
