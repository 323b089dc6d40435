"""The scheduler: a pure function from the broker's records to placement decisions.

Each Open session wants ``clamp(pending + running, min_instances, max_instances)`` executors (the
application's ``max_instances`` caps it too). Executors are handed out one at a time to the
session with the highest priority and, among equals, the smallest share ``have / want`` (fair
share), on the node with the most free CPU that fits the session's resource requirement and
offers the application's shim. An idle executor whose session has nothing pending stays bound for
``delay_release`` seconds (warm for the next task), unless another session is starving for
capacity that some node could give it, in which case it is released at once. Sessions whose
executors failed to bind wait until ``bind_retry_at`` before getting a new one; a session that can
never run (``failure`` set: too many bind failures, or no node can hold it) gets none. A
``spread`` session gets at most one executor per node (:func:`spread_nodes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flamepy.types import ApplicationState, ExecutorState, ResourceRequirement, SessionState, TaskState
from session_manager.model import AppRecord, ExecutorRecord, NodeRecord, SessionRecord


@dataclass
class Plan:
    create: list[tuple[str, str]] = field(default_factory=list)  # (session id, node name)
    release: list[str] = field(default_factory=list)  # executor ids
    wake_in: float | None = None  # seconds until a timer-based decision is due

    def wake(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.wake_in = seconds if self.wake_in is None else min(self.wake_in, seconds)


def session_resreq(ses: SessionRecord, default: ResourceRequirement) -> ResourceRequirement:
    return ses.attrs.resreq if ses.attrs.resreq is not None else default


def wanted(ses: SessionRecord, app: AppRecord) -> int:
    demand = max(ses.attrs.min_instances, ses.counts[TaskState.PENDING] + ses.counts[TaskState.RUNNING])
    caps = [c for c in (ses.attrs.max_instances, app.attrs.max_instances) if c is not None]
    return min([demand, *caps])


def spread_nodes(ses: SessionRecord, executors: Mapping[str, ExecutorRecord]) -> set[str]:
    """The nodes ``ses`` holds an executor on (a spread session gets at most one per node)."""
    return {executors[e].node for e in ses.executors if e in executors}


def plan(
    sessions: Mapping[str, SessionRecord],
    apps: Mapping[str, AppRecord],
    nodes: Mapping[str, NodeRecord],
    executors: Mapping[str, ExecutorRecord],
    now: float,
    default_resreq: ResourceRequirement,
    default_delay_release: float,
) -> Plan:
    out = Plan()
    free = {n.name: n.allocatable for n in nodes.values() if n.state.name == "READY"}
    active = {
        sid: sum(1 for e in s.executors if executors[e].state != ExecutorState.RELEASING)
        for sid, s in sessions.items()
    }
    want: dict[str, int] = {}
    for ses in sessions.values():
        app = apps.get(ses.attrs.application)
        if ses.state != SessionState.OPEN or app is None or app.state != ApplicationState.ENABLED:
            continue
        if ses.failure is not None:
            continue
        want[ses.id] = wanted(ses, app)

    spread = {sid: spread_nodes(s, executors) for sid, s in sessions.items() if s.spread}
    starving = _place(sessions, apps, nodes, free, active, want, now, default_resreq, out, spread)

    for ex in executors.values():
        if ex.state != ExecutorState.BOUND or ex.inflight:
            continue
        owner = sessions.get(ex.session_id)
        if owner is None or owner.state != SessionState.OPEN:
            out.release.append(ex.id)
            continue
        if owner.pending or active[owner.id] <= want.get(owner.id, 0):
            continue
        app = apps.get(owner.attrs.application)
        delay = default_delay_release
        if app is not None and app.attrs.delay_release is not None:
            delay = float(app.attrs.delay_release)
        idle_for = now - ex.idle_since
        if starving or idle_for >= delay:
            out.release.append(ex.id)
            active[owner.id] -= 1
        else:
            out.wake(delay - idle_for)
    return out


def _place(
    sessions: Mapping[str, SessionRecord],
    apps: Mapping[str, AppRecord],
    nodes: Mapping[str, NodeRecord],
    free: dict[str, ResourceRequirement],
    active: dict[str, int],
    want: dict[str, int],
    now: float,
    default_resreq: ResourceRequirement,
    out: Plan,
    spread: dict[str, set[str]],
) -> bool:
    """Hand out executors; True when some session wants more than the cluster can give now.
    ``spread``: the nodes each spread session holds an executor on (it gets no second one there)."""
    candidates = []
    for sid, n in want.items():
        ses = sessions[sid]
        if active[sid] >= n:
            continue
        if ses.bind_retry_at > now:
            out.wake(ses.bind_retry_at - now)
            continue
        candidates.append(ses)
    starving = False
    while candidates:
        chosen = min(
            candidates,
            key=lambda s: (-s.attrs.priority, active[s.id] / max(want[s.id], 1), s.creation_time),
        )
        ses = chosen
        req = session_resreq(ses, default_resreq)
        shim = apps[ses.attrs.application].attrs.shim
        held = spread.get(ses.id, set())
        fits = [
            name
            for name, avail in free.items()
            if req.fits_in(avail) and (shim is None or shim in nodes[name].shims) and name not in held
        ]
        if not fits:
            candidates.remove(ses)
            if any(
                req.fits_in(nodes[name].capacity) and (shim is None or shim in nodes[name].shims)
                for name in free
                if name not in held
            ):
                starving = True  # only for what some node could hold once others release
            continue
        node = max(fits, key=lambda name: (free[name].cpu, free[name].memory))
        free[node] = free[node] - req
        active[ses.id] += 1
        held.add(node)
        out.create.append((ses.id, node))
        if active[ses.id] >= want[ses.id]:
            candidates.remove(ses)
    return starving
