"""The executor state machine as data: phases, the table of allowed transitions, and the one place
that rejects an illegal transition.

Pure (no I/O, no asyncio). Every :class:`executor.executor.Executor` owns one :class:`PhaseTracker`
and changes phase only through :meth:`PhaseTracker.advance`.

    BINDING ──► BOUND ◄──► RUNNING
       │  │       │  ╲        │  ╲
       │  │       │   ╲       │   ► CRASHED ──► RELEASED
       │  │       ▼    ╲      ▼
       │  └──► RELEASING ──► RELEASED
       ▼           │
    BIND_FAILED    └──► STOPPING ──► RELEASED   (also from BOUND and RUNNING: a task timed out or
                                                 was cancelled, the service is being stopped)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from flamepy.errors import InternalError


class ExecutorPhase(enum.Enum):
    BINDING = "binding"  # service process starting, waiting for its socket / OnSessionEnter
    BOUND = "bound"  # idle, ready for the next task
    RUNNING = "running"  # a task inside OnTaskInvoke (over the task pipe: tasks sent, not all answered)
    RELEASING = "releasing"  # release asked: finish the running task, OnSessionLeave, terminate
    CRASHED = "crashed"  # the service process died on its own
    STOPPING = "stopping"  # a running task timed out or was cancelled: the service is being stopped
    BIND_FAILED = "bind_failed"  # terminal: bind_failed was sent, nothing follows
    RELEASED = "released"  # terminal: executor_released was sent (or the node stream is gone)

    @property
    def is_terminal(self) -> bool:
        return not ALLOWED_TRANSITIONS[self]


ALLOWED_TRANSITIONS: Mapping[ExecutorPhase, frozenset[ExecutorPhase]] = {
    ExecutorPhase.BINDING: frozenset(
        {ExecutorPhase.BOUND, ExecutorPhase.BIND_FAILED, ExecutorPhase.RELEASING}
    ),
    ExecutorPhase.BOUND: frozenset(
        {ExecutorPhase.RUNNING, ExecutorPhase.RELEASING, ExecutorPhase.CRASHED, ExecutorPhase.STOPPING}
    ),
    ExecutorPhase.RUNNING: frozenset(
        {ExecutorPhase.BOUND, ExecutorPhase.RELEASING, ExecutorPhase.CRASHED, ExecutorPhase.STOPPING}
    ),
    ExecutorPhase.RELEASING: frozenset({ExecutorPhase.RELEASED, ExecutorPhase.STOPPING}),
    ExecutorPhase.CRASHED: frozenset({ExecutorPhase.RELEASED}),
    ExecutorPhase.STOPPING: frozenset({ExecutorPhase.RELEASED}),
    ExecutorPhase.BIND_FAILED: frozenset(),
    ExecutorPhase.RELEASED: frozenset(),
}


class IllegalTransitionError(InternalError):
    """A bug: code tried a transition the table does not allow."""

    def __init__(self, executor_id: str, current: ExecutorPhase, target: ExecutorPhase) -> None:
        allowed = ", ".join(sorted(p.value for p in ALLOWED_TRANSITIONS[current])) or "none"
        super().__init__(
            f"executor {executor_id!r}: illegal transition {current.value} -> {target.value} "
            f"(allowed from {current.value}: {allowed})"
        )
        self.executor_id = executor_id
        self.current = current
        self.target = target


def check_transition(executor_id: str, current: ExecutorPhase, target: ExecutorPhase) -> None:
    """The one place that rejects an illegal transition."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransitionError(executor_id, current, target)


class PhaseTracker:
    """The current phase of one executor plus its history (for logs and tests)."""

    def __init__(self, executor_id: str, initial: ExecutorPhase = ExecutorPhase.BINDING) -> None:
        self.executor_id = executor_id
        self._phase = initial
        self.history: list[ExecutorPhase] = [initial]

    @property
    def phase(self) -> ExecutorPhase:
        return self._phase

    def advance(self, target: ExecutorPhase) -> None:
        check_transition(self.executor_id, self._phase, target)
        self._phase = target
        self.history.append(target)
