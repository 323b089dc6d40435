"""Nodes, executors and placement: what executor managers report, and the scheduling pass.

Sans-IO functions of :class:`~session_manager.core.state.CoreState`, called by ``Core.handle``.
``schedule`` runs the pure scheduler (``session_manager.scheduler.plan``) and carries out its
decisions: bind new executors (``BindCmd``), release idle ones (``ReleaseCmd``).

Liveness: ``check_liveness`` (the ``CheckLiveness`` event, on a shell timer) declares nodes whose
last message is older than ``node_timeout`` lost, like a stream that ended, and closes their
streams (``DropNodeCmd``). A lost executor's running task is charged to its retry limit
(``CoreState.requeue``); results for an attempt that is no longer the task's are ignored. The
bind-failure limit is in :func:`bind_failed` (past it, ``failures.give_up_binding``); a node
registering or leaving asks for ``failures.check_resources``. A node is believed only about its
own executors and the tasks they were sent (``core.trust``): every report goes through it first,
and a registration under the name of a connected node is refused there.
"""

from __future__ import annotations

import logging
import uuid

from flamepy.types import (
    EventCode,
    ExecutorState,
    NodeState,
    ResourceRequirement,
    SessionState,
    Shim,
    TaskState,
)
from session_manager import effects, events, scheduler
from session_manager.core import failures, sessions, trust
from session_manager.core.state import CoreState
from session_manager.model import ExecutorRecord, NodeRecord, SessionRecord, TaskRecord

log = logging.getLogger(__name__)
_AVERAGE_WEIGHT = 0.2  # of the newest observation in a session's moving average of task time


# -- nodes ---------------------------------------------------------------------------------------


def node_registered(st: CoreState, ev: events.NodeRegistered) -> None:
    name, capacity = ev.node, ev.capacity
    trust.check_new_stream(st, name)
    if name in st.nodes:
        node_lost(st, events.NodeLost(name))
    st.nodes[name] = NodeRecord(
        name=name,
        capacity=capacity,
        allocatable=capacity,
        shims=frozenset(ev.shims) or frozenset({Shim.HOST}),
        hostname=ev.hostname or name,
        arch=ev.arch,
        os=ev.os,
        last_heartbeat_time=st.clock.ms(),
        last_seen=st.clock.mono(),
        free_gpus=list(range(capacity.gpu)),
    )
    st.schedule_needed = True
    st.resources_check_needed = True
    log.info("node %s registered: %s", name, capacity)


def node_heartbeat(st: CoreState, ev: events.NodeHeartbeat) -> None:
    node = st.nodes.get(ev.node)
    if node is not None:
        node.last_heartbeat_time = st.clock.ms()
        node.last_seen = st.clock.mono()


def node_lost(st: CoreState, ev: events.NodeLost) -> None:
    """The node's stream ended: its executors are gone; their unfinished tasks run again."""
    _lose_node(st, ev.node, f"node {ev.node} lost (its stream ended)")


def check_liveness(st: CoreState, ev: events.CheckLiveness) -> float | None:
    """Nodes silent for longer than ``node_timeout`` are lost, and their streams closed (they
    register afresh when they come back); returns seconds until the next one could time out."""
    now, limit = st.clock.mono(), st.node_timeout
    wake: float | None = None
    for node in list(st.nodes.values()):
        if node.state != NodeState.READY:
            continue
        silent = now - node.last_seen
        if silent > limit:
            log.warning(
                "node %s silent for %.1f s (node timeout %.1f s): not ready", node.name, silent, limit
            )
            _lose_node(st, node.name, f"node {node.name} lost (silent for {silent:.1f} s)")
            st.out.commands.append(effects.DropNodeCmd(node.name))
        else:
            left = limit - silent
            wake = left if wake is None else min(wake, left)
    return wake


def _lose_node(st: CoreState, name: str, reason: str) -> None:
    node = st.nodes.get(name)
    if node is None:
        return
    for eid in list(node.executors):
        _forget_executor(st, st.executors[eid], reason, charged=True)
    if node.state != NodeState.NOT_READY:
        log.info("%s", reason)
    node.state = NodeState.NOT_READY
    node.allocatable = ResourceRequirement(0, 0, 0)
    st.schedule_needed = True
    st.resources_check_needed = True


# -- executors -----------------------------------------------------------------------------------


def executor_bound(st: CoreState, ev: events.ExecutorBound) -> None:
    ex = trust.held_executor(st, ev.node, ev.executor_id, "a bound report")
    if ex is None:
        return
    st.executor_to(ex, ExecutorState.BOUND)
    ex.idle_since = st.clock.mono()
    ses = st.sessions.get(ex.session_id)
    if ses is None or ses.state != SessionState.OPEN:
        st.release(ex)
        return
    ses.bind_failures = 0
    sessions.dispatch(st, ex, ses)
    if not ex.inflight:
        st.schedule_needed = True


def bind_failed(st: CoreState, ev: events.BindFailed) -> None:
    ex = trust.held_executor(st, ev.node, ev.executor_id, "a bind failure")
    if ex is None:
        return
    ses = st.sessions.get(ex.session_id)
    _forget_executor(st, ex, "executor failed to bind")
    if ses is None or ses.failure is not None:  # it already gave up: nothing more to say
        return
    ses.bind_failures += 1
    ses.bind_retry_at = st.clock.mono() + min(30.0, 0.5 * 2 ** (ses.bind_failures - 1))
    text = f"failed to bind session {ses.id} on executor {ex.id} (node {ex.node}): {ev.message}"
    failures.record(st, ses, EventCode.BIND_FAILED, text)
    log.warning("%s", text)
    if ses.bind_failures >= st.max_bind_failures and ses.state == SessionState.OPEN:
        failures.give_up_binding(st, ses, ev.message)


def executor_released(st: CoreState, ev: events.ExecutorReleased) -> None:
    ex = trust.held_executor(st, ev.node, ev.executor_id, "a release report")
    if ex is None:
        return
    if ev.message:
        log.warning("executor %s ended: %s", ex.id, ev.message)
    if ev.message:  # it ended on its own (its service died): the task it ran is charged
        _forget_executor(st, ex, f"executor {ex.id} on node {ex.node} ended: {ev.message}", charged=True)
    else:
        _forget_executor(st, ex, f"executor {ex.id} released")


def task_results(st: CoreState, ev: events.TaskResults) -> None:
    node = st.nodes.get(ev.node)
    if node is not None:
        node.last_seen = st.clock.mono()
    for outcome in ev.outcomes:
        what = f"a result of task {outcome.session_id}/{outcome.task_id}"
        ex = trust.held_executor(st, ev.node, outcome.executor_id, what)
        if ex is not None:
            _task_outcome(st, ex, outcome)


def _task_outcome(st: CoreState, ex: ExecutorRecord, r: events.TaskOutcome) -> None:
    """An outcome from the node that holds ``ex``: applied when the task was sent to ``ex`` in its
    current attempt (else a stale result, ignored); then ``ex`` gets more work or is released."""
    ses = st.sessions.get(r.session_id)
    num = int(r.task_id)
    sent = trust.sent_task(st, ex, r)
    if sent:  # it left ex: learn the task time from the queue's head
        now = st.clock.mono()
        if ses is not None and ex.inflight[0] == num and not r.requeue:
            prev, observed = ses.task_time, now - ex.head_since
            ses.task_time = observed if prev is None else prev + _AVERAGE_WEIGHT * (observed - prev)
            ex.head_since = now
        ex.inflight.remove(num)
        if not ex.inflight:
            ex.idle_since = now
    rec = ses.tasks.get(num) if ses is not None else None
    if ses is None or rec is None or not sent or rec.state != TaskState.RUNNING:
        log.debug(
            "ignoring a stale result of task %s/%s (attempt %d) from executor %s",
            r.session_id,
            r.task_id,
            r.attempt,
            ex.id,
        )
    else:
        _apply_outcome(st, ses, rec, r)
    if (r.crashed or r.service_stopped) and ex.state == ExecutorState.BOUND:
        st.executor_to(ex, ExecutorState.RELEASING)  # its service is dead: the node releases it
    if ex.state != ExecutorState.BOUND:
        return
    if ses is None or ses.state != SessionState.OPEN:
        if not ex.inflight:
            st.release(ex)
        return
    sessions.dispatch(st, ex, ses)
    if not ex.inflight:
        st.schedule_needed = True


def _apply_outcome(st: CoreState, ses: SessionRecord, rec: TaskRecord, r: events.TaskOutcome) -> None:
    if r.requeue:
        st.requeue(ses, rec, r.message or f"executor {r.executor_id} gave the task back")
    elif r.timed_out:
        st.fail_or_retry(ses, rec, f"{r.message or 'timed out'} (attempt {rec.attempt})")
    elif r.cancelled:
        st.task_to(ses, rec, TaskState.CANCELLED, r.message or "cancelled")
    elif r.return_code == 0:
        rec.output = r.output
        st.task_to(ses, rec, TaskState.SUCCEED, None)
    elif r.crashed:
        why = (r.message or "").splitlines()[0] if r.message else "its service process died"
        st.requeue(ses, rec, f"{why} (node {rec.node})", charged=True)
    else:
        st.fail_or_retry(ses, rec, r.message or f"task failed with return code {r.return_code}")


def forget_executor(st: CoreState, ex: ExecutorRecord, reason: str, charged: bool = False) -> None:
    """Drop an executor the core stopped waiting for (``core.deadlines``), as if it were released."""
    _forget_executor(st, ex, reason, charged)


def _forget_executor(st: CoreState, ex: ExecutorRecord, reason: str, charged: bool = False) -> None:
    """The executor is gone: its tasks run again; with ``charged`` the one it was running (the head
    of its queue; the others never started) counts against its retry limit."""
    st.executor_to(ex, ExecutorState.RELEASED)
    ses = st.sessions.get(ex.session_id)
    head = ex.inflight[0] if ex.inflight else None
    for num in list(ex.inflight):
        rec = ses.tasks.get(num) if ses is not None else None
        if (
            ses is not None
            and rec is not None
            and rec.state == TaskState.RUNNING
            and rec.executor_id == ex.id
        ):
            st.requeue(ses, rec, reason, charged=charged and num == head)
    ex.inflight.clear()
    del st.executors[ex.id]
    if ses is not None:
        ses.executors.discard(ex.id)
    node = st.nodes.get(ex.node)
    if node is not None and ex.id in node.executors:
        node.executors.discard(ex.id)
        if node.state == NodeState.READY:
            node.allocatable = node.allocatable + ex.resreq
            node.free_gpus.extend(ex.gpu_ids)
    st.schedule_needed = True
    log.info("executor %s released (session %s)", ex.id, ex.session_id)


# -- placement -----------------------------------------------------------------------------------


def schedule(st: CoreState, ev: events.SchedulePass) -> float | None:
    """Run one scheduling pass; return seconds until the next timer-based pass is due."""
    st.schedule_needed = False
    for ses in st.sessions.values():  # tasks requeued meanwhile go to idle bound executors at once
        if ses.pending and ses.executors and ses.state == SessionState.OPEN:
            sessions.dispatch_session(st, ses)
    decision = scheduler.plan(
        st.sessions,
        st.apps,
        st.nodes,
        st.executors,
        st.clock.mono(),
        st.default_resreq,
        st.default_delay_release,
    )
    for eid in decision.release:
        ex = st.executors.get(eid)
        if ex is not None and ex.state == ExecutorState.BOUND:
            st.release(ex)
    for sid, node in decision.create:
        _place(st, st.sessions[sid], st.nodes[node])
    return decision.wake_in


def _place(st: CoreState, ses: SessionRecord, node: NodeRecord) -> None:
    app = st.apps[ses.attrs.application]
    req = scheduler.session_resreq(ses, st.default_resreq)
    gpu_ids = tuple(node.free_gpus[: req.gpu])
    del node.free_gpus[: req.gpu]
    ex = ExecutorRecord(
        id=f"{node.name}-{uuid.uuid4().hex[:8]}",
        node=node.name,
        session_id=ses.id,
        state=ExecutorState.BINDING,
        resreq=req,
        gpu_ids=gpu_ids,
        shim=app.attrs.shim or Shim.HOST,
    )
    node.allocatable = node.allocatable - req
    node.executors.add(ex.id)
    ses.executors.add(ex.id)
    st.executors[ex.id] = ex
    st.out.commands.append(
        effects.BindCmd(node.name, ex.id, app.snapshot(), ses.id, ses.attrs.common_data, req, gpu_ids)
    )
    log.info("executor %s binding session %s on node %s", ex.id, ses.id, node.name)
