"""Sessions that can never run their tasks, and telling their callers so (sans-IO).

Two causes, both recorded on the session as a :class:`~session_manager.model.SessionFailure`:

* **bind failures** — its service failed to start ``max_bind_failures`` times in a row (a raising
  ``on_session_enter``, a command that does not exist...). ``placement.bind_failed`` counts them
  (with backoff between attempts) and calls :func:`give_up_binding`; a successful bind resets the
  count. ``UpdateApplication`` (:func:`application_updated`) clears the count and the failure of
  the application's open sessions, so they bind again with the new attributes.
* **impossible resources** — no registered node (by total capacity, not free capacity) can hold
  the session's resource request, or no executor manager is connected at all. Decided by
  :func:`check_resources` (the ``CheckResources`` event), which the shell runs after a node
  registered or left, a session was created, and on the timer it returns, never per task. A
  session fails only once ``unschedulable_timeout`` seconds have passed with no node that fits
  (nodes may still be joining); a node that fits, joining later, clears the failure. A spread
  session also needs as many nodes that could hold it as it wants executors (``core.spread``).

A failed session gets no new executors; its pending tasks, those given back, and every task
created later fail at once (``PENDING -> FAILED``, task event code 3 with the failure's message,
the one place a Flame client reads a failure from). The session records event 1001 (bind) or
:data:`UNSCHEDULABLE` (resources). Neither the count nor the failure is persisted: after a
restart of the session manager a session tries again.
"""

from __future__ import annotations

import logging

from flamepy.types import (
    EventCode,
    NodeState,
    ResourceRequirement,
    SessionState,
    Shim,
    TaskState,
    format_memory,
)
from session_manager import events, scheduler
from session_manager.core import spread
from session_manager.core.state import CoreState
from session_manager.model import NodeRecord, SessionFailure, SessionRecord

log = logging.getLogger(__name__)

BIND = "bind"
RESOURCES = "resources"
UNSCHEDULABLE = 1002  # session event: no registered node can hold the session's resource request
MAX_SESSION_EVENTS = 100


def record(st: CoreState, ses: SessionRecord, code: int, message: str) -> None:
    """Append a session event (keeping the newest ``MAX_SESSION_EVENTS``) and persist it."""
    ses.events.append(st.event(code, message))
    del ses.events[:-MAX_SESSION_EVENTS]
    st.save_session(ses)


def fail_pending(st: CoreState, ses: SessionRecord) -> None:
    """Fail every pending task of a failed session with the failure's message."""
    assert ses.failure is not None
    message = ses.failure.message
    while ses.pending:
        st.task_to(ses, ses.tasks[ses.pending.popleft()], TaskState.FAILED, message)


# -- bind failures -------------------------------------------------------------------------------


def give_up_binding(st: CoreState, ses: SessionRecord, last_error: str) -> None:
    """The session's service failed to start ``ses.bind_failures`` times in a row: stop binding."""
    app, count = ses.attrs.application, ses.bind_failures
    cause = last_error.strip() or "no message from the service"
    message = (
        f"application {app!r} cannot start: {cause} ({count} bind failures in a row; fix the "
        "application and update or re-register it, or open a new session)"
    )
    ses.failure = SessionFailure(BIND, message)
    record(st, ses, EventCode.BIND_FAILED, message)
    log.warning(
        "session %s stops binding after %d bind failures in a row (application %s)", ses.id, count, app
    )
    fail_pending(st, ses)


def application_updated(st: CoreState, name: str) -> None:
    """The application changed: its open sessions start counting bind failures afresh."""
    for ses in st.sessions.values():
        if ses.attrs.application != name or ses.state != SessionState.OPEN:
            continue
        ses.bind_failures = 0
        ses.bind_retry_at = 0.0
        if ses.failure is not None and ses.failure.kind == BIND:
            ses.failure = None
            log.info("session %s binds again: application %s was updated", ses.id, name)
    st.schedule_needed = True


# -- impossible resources ------------------------------------------------------------------------


def check_resources(st: CoreState, ev: events.CheckResources) -> float | None:
    """Decide, for every open session, whether some registered node could ever hold it; return
    seconds until the next decision is due (a session in its grace period), or None."""
    st.resources_check_needed = False
    now = st.clock.mono()
    ready = [n for n in st.nodes.values() if n.state == NodeState.READY]
    verdicts: dict[tuple[ResourceRequirement, Shim | None], str | None] = {}
    wake: float | None = None
    for ses in st.sessions.values():
        if ses.state != SessionState.OPEN or (ses.failure is not None and ses.failure.kind != RESOURCES):
            continue
        app = st.apps.get(ses.attrs.application)
        shim = app.attrs.shim if app is not None else None
        req = scheduler.session_resreq(ses, st.default_resreq)
        key = (req, shim)
        if key not in verdicts:
            verdicts[key] = unfit_reason(ready, req, shim)
        why = verdicts[key] or spread.unfit_reason(st, ses, ready, req, shim)
        if why is None:
            _fits(st, ses)
            continue
        if ses.unfit_since is None:
            ses.unfit_since = now
        left = ses.unfit_since + st.unschedulable_timeout - now
        if ses.failure is not None:
            continue
        if left <= 0:
            _unschedulable(st, ses, why)
        else:
            wake = left if wake is None else min(wake, left)
    return wake


def unfit_reason(nodes: list[NodeRecord], req: ResourceRequirement, shim: Shim | None) -> str | None:
    """None when one of ``nodes`` (the registered, ready ones) could hold ``req``, else why not."""
    if not nodes:
        return "no executor manager is connected"
    offering = [n for n in nodes if shim is None or shim in n.shims]
    if not offering:
        assert shim is not None
        names = ", ".join(sorted(n.name for n in nodes)[:5])
        return f"no node offers the {shim.name.lower()} shim (nodes: {names})"
    if any(req.fits_in(n.capacity) for n in offering):
        return None
    largest = max(offering, key=lambda n: (_dimensions_held(req, n.capacity), _size(n.capacity)))
    cap = largest.capacity
    missing = [f"{name}={text}" for name, want, have, text in _dimensions(req, cap) if want > have]
    return f"no node can hold {','.join(missing)} (largest: {largest.name} {describe(cap)})"


def describe(cap: ResourceRequirement) -> str:
    return f"cpu={cap.cpu} mem={format_memory(cap.memory)} gpu={cap.gpu}"


def _dimensions(req: ResourceRequirement, cap: ResourceRequirement) -> list[tuple[str, int, int, str]]:
    return [
        ("cpu", req.cpu, cap.cpu, str(req.cpu)),
        ("mem", req.memory, cap.memory, format_memory(req.memory)),
        ("gpu", req.gpu, cap.gpu, str(req.gpu)),
    ]


def _dimensions_held(req: ResourceRequirement, cap: ResourceRequirement) -> int:
    return sum(1 for _, want, have, _ in _dimensions(req, cap) if want <= have)


def _size(cap: ResourceRequirement) -> tuple[int, int, int]:
    return (cap.gpu, cap.cpu, cap.memory)


def _fits(st: CoreState, ses: SessionRecord) -> None:
    ses.unfit_since = None
    if ses.failure is not None and ses.failure.kind == RESOURCES:
        ses.failure = None
        st.schedule_needed = True
        log.info("session %s can be scheduled again: a node that can hold it registered", ses.id)


def _unschedulable(st: CoreState, ses: SessionRecord, why: str) -> None:
    app = ses.attrs.application
    req = scheduler.session_resreq(ses, st.default_resreq)
    ses.failure = SessionFailure(
        RESOURCES,
        f"application {app!r} cannot start: {why} (the session asks for {req}; waited "
        f"{st.unschedulable_timeout:g}s for a node that can hold it; open a session with a smaller "
        "resource request, or add such a node)",
    )
    record(st, ses, UNSCHEDULABLE, why)
    log.warning("session %s cannot be scheduled (application %s, %s): %s", ses.id, app, req, why)
    fail_pending(st, ses)
