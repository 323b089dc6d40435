"""The broker core's facade: one ``handle(event)`` entry point, an outbox, and read-only queries.

Model: dask distributed's worker state machine. Typed events (``session_manager.events``) go in;
each is given a stimulus id (``"<EventType>-<n>"``) before its handler runs, so an illegal
transition (rejected only by ``session_manager.states.check``) names the event that caused it.
What the shell must do comes out in the outbox (``session_manager.effects``): records to persist,
commands for executor managers, task changes to publish. Single-threaded and sans-IO.

Where things go: a new state-changing request is an event plus a handler in the module of its noun
(``applications``, ``sessions``, ``placement``; start-up in ``recovery``), listed in ``HANDLERS``;
a new task state is an enum member and table edges in ``states.py``, reached only through
``CoreState.task_to`` (which persists every state, Running included, with the task's attempt,
executor and node). Re-runs go through ``CoreState.requeue`` (event ``REQUEUED``, the retry limit
of ``RetryPolicy``); start-up requeues what was Running in ``recovery._restore_task``.
Cancelling a task is a ``CancelTask`` event handled in ``sessions`` (a running one also emits a
``CancelCmd`` for its executor's node); task timeouts travel with ``InvokeCmd`` and are enforced by
the executor manager, with backstops in ``deadlines`` (``CheckDeadlines``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from session_manager import effects, events
from session_manager.clock import Clock
from session_manager.core import (
    applications,
    deadlines,
    failures,
    placement,
    recovery,
    retries,
    sessions,
    spread,
)
from session_manager.core.state import (
    CoreState,
)
from session_manager.model import (
    AppRecord,
    ExecutorRecord,
    NodeRecord,
    SessionRecord,
    TaskRecord,
)

R = TypeVar("R")

HANDLERS: dict[type, Callable[[CoreState, Any], Any]] = {
    events.RegisterApplication: applications.register,
    events.UpdateApplication: applications.update,
    events.UnregisterApplication: applications.unregister,
    events.CreateSession: sessions.create,
    events.OpenSession: sessions.open_,
    events.CloseSession: sessions.close,
    events.DeleteSession: sessions.delete,
    events.CreateTasks: sessions.create_tasks,
    events.CreateKeyedTasks: sessions.create_keyed_tasks,
    events.CancelTask: sessions.cancel_task,
    events.CheckDeadlines: deadlines.check_deadlines,
    events.TasksDurable: sessions.tasks_durable,
    events.NodeRegistered: placement.node_registered,
    events.NodeHeartbeat: placement.node_heartbeat,
    events.NodeLost: placement.node_lost,
    events.CheckLiveness: placement.check_liveness,
    events.ExecutorBound: placement.executor_bound,
    events.BindFailed: placement.bind_failed,
    events.TaskResults: placement.task_results,
    events.ExecutorReleased: placement.executor_released,
    events.SchedulePass: placement.schedule,
    events.CheckResources: failures.check_resources,
    events.SetRetryPolicy: retries.set_policy,
    events.SetSessionPlacement: spread.set_placement,
    events.Recover: recovery.recover,
}


class Core:
    def __init__(self, state: CoreState | None = None) -> None:
        """The facade over ``state`` (its settings — clock, default resources, prefetch, limits,
        timeouts — are :class:`CoreState`'s; default: all defaults)."""
        self.state = state or CoreState()
        self._seq = 0

    def handle(self, event: events.Stimulus[R]) -> R:
        """Apply one event; raise FlameError (nothing changed) for a request it refuses."""
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"the core has no handler for {type(event).__name__}")
        self._seq += 1
        st = self.state
        st.stimulus_id = f"{type(event).__name__}-{self._seq}"
        result: R = handler(st, event)
        return result

    def drain(self) -> effects.Outbox:
        st = self.state
        out, st.out = st.out, effects.Outbox()
        return out

    @property
    def schedule_needed(self) -> bool:
        return self.state.schedule_needed

    @property
    def resources_check_needed(self) -> bool:
        """Nodes or sessions came or went since the last ``CheckResources``."""
        return self.state.resources_check_needed

    @property
    def node_timeout(self) -> float:
        """Seconds of silence after which a node is lost (``CheckLiveness``)."""
        return self.state.node_timeout

    @property
    def next_deadline(self) -> float | None:
        """Monotonic seconds when the earliest backstop is due (``CheckDeadlines``), or None."""
        heap = self.state.deadlines
        return heap[0][0] if heap else None

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def stimulus_id(self) -> str:
        """The id given to the event handled last."""
        return self.state.stimulus_id

    # -- queries (read-only) -----------------------------------------------------------------

    def get_application(self, name: str) -> AppRecord:
        return applications.get(self.state, name)

    def applications(self) -> list[AppRecord]:
        return sorted(self.state.apps.values(), key=lambda a: (a.creation_time, a.name))

    def get_session(self, sid: str) -> SessionRecord:
        return sessions.get(self.state, sid)

    def sessions(self) -> list[SessionRecord]:
        return list(self.state.sessions.values())

    def find_task(self, sid: str, tid: str) -> TaskRecord | None:
        return sessions.find_task(self.state, sid, tid)

    def window(self, ses: SessionRecord) -> int:
        return sessions.window(self.state, ses)

    def get_node(self, name: str) -> NodeRecord | None:
        return self.state.nodes.get(name)

    def nodes(self) -> list[NodeRecord]:
        return list(self.state.nodes.values())

    def executors(self) -> list[ExecutorRecord]:
        return list(self.state.executors.values())
