"""Placement constraints of sessions (sans-IO; called by ``Core.handle``).

``spread``: at most one executor of the session per node (multi-rank jobs with ``--spread``, so
every rank runs on its own node). The scheduler enforces it (``scheduler.spread_nodes``);
:func:`unfit_reason` tells ``failures.check_resources`` when the cluster has fewer nodes that could
hold the session than it wants executors, so the session fails after ``unschedulable_timeout``
with that reason instead of waiting silently. A change is persisted as a ``SaveSessionPlacement``
record (committed before the answer) and :func:`restore` puts it back at start-up (``recovery``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from flamepy.errors import InvalidStateError, NotFoundError
from flamepy.types import ResourceRequirement, SessionState, Shim
from session_manager import effects, events, scheduler
from session_manager.core.state import CoreState
from session_manager.model import NodeRecord, SessionRecord

log = logging.getLogger(__name__)


def set_placement(st: CoreState, ev: events.SetSessionPlacement) -> bool:
    ses = st.sessions.get(ev.session_id)
    if ses is None:
        raise NotFoundError(f"session {ev.session_id!r} not found")
    if ses.state != SessionState.OPEN:
        raise InvalidStateError(f"session {ses.id!r} is closed: its placement cannot change")
    if ses.spread != ev.spread:
        ses.spread = ev.spread
        st.out.records.append(effects.SaveSessionPlacement(ses.id, ses.spread))
        st.schedule_needed = True
        st.resources_check_needed = True
        log.info("session %s: spread %s", ses.id, "on" if ev.spread else "off")
    return ses.spread


def restore(st: CoreState, spread: Collection[str]) -> None:
    """Start-up: the stored constraint of each session still known (``recovery.recover``)."""
    for sid in spread:
        ses = st.sessions.get(sid)
        if ses is not None:
            ses.spread = True


def unfit_reason(
    st: CoreState, ses: SessionRecord, ready: list[NodeRecord], req: ResourceRequirement, shim: Shim | None
) -> str | None:
    """None unless ``ses`` is spread and fewer ready nodes could hold ``req`` than it wants
    executors; then why (``needs N distinct nodes, the cluster has M``)."""
    app = st.apps.get(ses.attrs.application)
    if not ses.spread or app is None:
        return None
    needed = scheduler.wanted(ses, app)
    able = [n for n in ready if (shim is None or shim in n.shims) and req.fits_in(n.capacity)]
    if needed <= len(able):
        return None
    return f"needs {needed} distinct nodes (spread), the cluster has {len(able)} that can hold {req}"
