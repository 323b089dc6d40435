"""The state of ``Session.run``'s background work, free of I/O: events in, decisions out.

:class:`DispatchState` knows the inputs waiting to be submitted, the tasks submitted and not yet
finished (by task id, each with the caller's *handle*, a Future in the SDK), completions that came
before their task id was known, and whether the session watch is up. The I/O wrapper
(:mod:`flamepy._dispatch`) feeds it events and carries out the decisions it returns:

events (``handle(event)``)                     decisions
---------------------------------------------  -----------------------------------------------
``Submitted`` (a CreateTasks batch answered)   ``Resolve`` (early completions), ``Fail`` (inputs
                                               not created), ``Reconcile`` / ``Track`` (new ids),
                                               ``Resubmit`` (the rest, keyed, after a retryable error)
``StreamUp`` (the watch is registered)         ``Reconcile`` or ``Track`` (what is outstanding)
``Completed`` (completions from the watch)     ``Resolve``, ``Fail``
``Seen`` / ``Lost`` (reconcile answers)        ``Resolve`` / ``Fail``
``StreamDown`` (the watch ended or broke)      ``Reconcile`` (+ fail the rest), ``Rewatch``, ``StopWatching``,
                                               ``Fail`` (all outstanding, once unreachable past the deadline)
``GiveUp`` (after a refused watch)             ``Fail``
``StopSubmitting`` / ``Shutdown``              ``Fail`` (queued / outstanding)

Retries (which errors: :func:`flamepy.transport.retry.retryable`): a batch sent with idempotency
keys whose CreateTasks failed retryably is resubmitted with the same keys (so nothing is created
twice) until ``retry_deadline`` seconds after its first failure; a batch without keys (a plain
flame.v1 server) fails at once. A watch lost to an unreachable server is reopened; once it has been
down ``retry_deadline`` seconds, the outstanding tasks fail with an UnavailableError that says they
may still run. Time comes in with the events (``now``), so tests drive it event by event.

Concurrency model: none of its own; not thread-safe. The wrapper calls it under one lock and acts on
the decisions after releasing it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from flamepy.errors import FlameError, InvalidStateError, NotFoundError
from flamepy.transport.base import TaskWatchError
from flamepy.transport.retry import backoff, retryable, unreachable
from flamepy.types import Task, TaskCompletion

H = TypeVar("H")

# inputs per CreateTasks call: under the server's max_tasks_per_request (the transport splits further
# when a server takes fewer)
BATCH_LIMIT = 1000
BATCH_BYTES = 16 * 1024 * 1024  # input bytes per CreateTasks call (the server accepts 64 MiB)
QUEUE_LIMIT = 10_000  # inputs waiting client-side before run() blocks
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0

# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitTicket:
    """Taken when a batch goes out: the watch generation then (-1: no watch was up); for a
    resubmitted batch, when it first failed and how many attempts failed."""

    gen: int
    since: float | None = None
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class Submitted(Generic[H]):
    """A batch was answered: ``ids`` for the first ``len(ids)`` handles; ``error`` for the rest."""

    ticket: SubmitTicket
    ids: Sequence[str]
    handles: Sequence[H]
    error: FlameError | None = None
    inputs: Sequence[bytes | None] = ()  # the batch's inputs (to resubmit the rest)
    keys: Sequence[str] | None = None  # the idempotency keys the batch was sent with; None: none
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamUp:
    per_task: bool = False


@dataclass(frozen=True, slots=True)
class Completed:
    items: Sequence[TaskCompletion | TaskWatchError]


@dataclass(frozen=True, slots=True)
class Seen:
    tasks: Sequence[Task]


@dataclass(frozen=True, slots=True)
class Lost:
    task_id: str
    error: FlameError


@dataclass(frozen=True, slots=True)
class StreamDown:
    error: FlameError | None = None
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class GiveUp:
    error: FlameError


@dataclass(frozen=True, slots=True)
class StopSubmitting:
    reason: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    reason: str


Event = Submitted | StreamUp | Completed | Seen | Lost | StreamDown | GiveUp | StopSubmitting | Shutdown

# -- decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolve(Generic[H]):
    """Resolve each handle with its task's outcome."""

    items: tuple[tuple[H, str, TaskCompletion], ...]


@dataclass(frozen=True, slots=True)
class Fail(Generic[H]):
    handles: tuple[H, ...]
    error: FlameError


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Ask the server for these tasks (feed back ``Seen``/``Lost``), then feed ``GiveUp(then_fail)``."""

    task_ids: tuple[str, ...]
    then_fail: FlameError | None = None


@dataclass(frozen=True, slots=True)
class Track:
    """Have the (per-task) watch follow these tasks."""

    task_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rewatch:
    """Open a new watch after ``delay`` seconds; first wait for work when ``wait_for_work``."""

    delay: float
    wait_for_work: bool
    lost: FlameError | None = None  # the error that broke the previous watch, to log


@dataclass(frozen=True, slots=True)
class StopWatching:
    pass


@dataclass(frozen=True, slots=True)
class Resubmit(Generic[H]):
    """Send these inputs again with the same keys after ``delay`` seconds (``begin_submit(ticket)``)."""

    inputs: tuple[bytes | None, ...]
    handles: tuple[H, ...]
    keys: tuple[str, ...]
    delay: float
    ticket: SubmitTicket


Decision = Resolve | Fail | Reconcile | Track | Rewatch | StopWatching | Resubmit


class DispatchState(Generic[H]):
    """See the module docstring. ``queue_limit`` caps the inputs waiting to be submitted."""

    def __init__(
        self, queue_limit: int = QUEUE_LIMIT, retry_deadline: float = 0.0, key_prefix: str = ""
    ) -> None:
        self.queue_limit = queue_limit
        self.retry_deadline = retry_deadline
        self.key_prefix = key_prefix  # "": no idempotency keys
        self.key_count = 0
        self.down_since: float | None = None  # when the watch was lost to an unreachable server
        self.queue: deque[tuple[bytes | None, H]] = deque()
        self.outstanding: dict[str, H] = {}
        self.early: dict[str, TaskCompletion] = {}
        self.submitting = 0
        self.ready = False
        self.gen = 0
        self.per_task = False
        self.stopping = False
        self.backoff = BACKOFF_MIN_S

    # -- the queue -------------------------------------------------------------------------------

    @property
    def queue_full(self) -> bool:
        return len(self.queue) >= self.queue_limit

    @property
    def has_work(self) -> bool:
        """Tasks to hear about: outstanding, or a batch still being submitted."""
        return bool(self.outstanding) or self.submitting > 0

    def push(self, data: bytes | None, handle: H) -> None:
        if self.stopping:
            raise InvalidStateError("the session is closed")
        self.queue.append((data, handle))

    def take_batch(self) -> list[tuple[bytes | None, H]]:
        """The next inputs to submit together (at most BATCH_LIMIT inputs and BATCH_BYTES bytes)."""
        queue = self.queue
        if not queue:
            return []
        batch = [queue.popleft()]
        size = len(batch[0][0] or b"")
        while queue and len(batch) < BATCH_LIMIT:
            size += len(queue[0][0] or b"")
            if size > BATCH_BYTES:
                break
            batch.append(queue.popleft())
        return batch

    def new_keys(self, n: int) -> list[str] | None:
        """Idempotency keys for a batch of ``n`` inputs (None when keys are off)."""
        if not self.key_prefix:
            return None
        first = self.key_count + 1
        self.key_count += n
        prefix = self.key_prefix
        return [f"{prefix}{i}" for i in range(first, first + n)]

    def begin_submit(self, retry: SubmitTicket | None = None) -> SubmitTicket:
        """A batch goes out now (``retry``: again, the ticket of a ``Resubmit``); its answer comes
        back as ``Submitted`` with the returned ticket."""
        gen = self.gen if self.ready else -1
        if retry is None:
            self.submitting += 1
            return SubmitTicket(gen)
        return SubmitTicket(gen, retry.since, retry.attempt)  # still counted in ``submitting``

    # -- events ----------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Decision]:
        if isinstance(event, Completed):
            return self._completed(event.items)
        if isinstance(event, Submitted):
            return self._submitted(event)
        if isinstance(event, StreamUp):
            return self._stream_up(event.per_task)
        if isinstance(event, StreamDown):
            return self._stream_down(event.error, event.now)
        if isinstance(event, Seen):
            return self._seen(event.tasks)
        if isinstance(event, Lost):
            return self._fail_ids([event.task_id], event.error)
        if isinstance(event, GiveUp):
            return self._fail_ids(list(self.outstanding), event.error)
        if isinstance(event, StopSubmitting):
            self.stopping = True
            queued = tuple(h for _, h in self.queue)
            self.queue.clear()
            return [Fail(queued, InvalidStateError(event.reason))] if queued else []
        return self._shutdown(event.reason)

    def _submitted(self, event: Submitted[H]) -> list[Decision]:
        self.submitting -= 1
        ids, handles = event.ids, event.handles
        resolved: list[tuple[H, str, TaskCompletion]] = []
        for tid, handle in zip(ids, handles[: len(ids)], strict=True):
            early = self.early.pop(tid, None)
            if early is not None:
                resolved.append((handle, tid, early))
            else:
                self.outstanding[tid] = handle
        out: list[Decision] = []
        if resolved:
            out.append(Resolve(tuple(resolved)))
        rest = tuple(handles[len(ids) :])
        if event.error is not None and rest:
            out.append(self._retry_or_fail(event, rest))  # a Resubmit counts in ``submitting``
        if self.submitting == 0:
            self.early.clear()
        pending = tuple(tid for tid in ids if tid in self.outstanding)
        if pending and self.per_task:
            out.append(Track(pending))
        elif pending and self.ready and event.ticket.gen != self.gen:
            out.append(Reconcile(pending))  # a new watch came up meanwhile: it may have missed them
        return out

    def _retry_or_fail(self, event: Submitted[H], rest: tuple[H, ...]) -> Resubmit[H] | Fail[H]:
        """Resubmit the inputs not created (same keys) or fail them: see the module docstring."""
        err = event.error
        assert err is not None
        n = len(event.ids)
        if event.keys is None or self.stopping or self.retry_deadline <= 0 or not retryable(err):
            return Fail(rest, err)
        ticket = event.ticket
        since = event.now if ticket.since is None else ticket.since
        waited = event.now - since
        if waited >= self.retry_deadline:
            what = f"create {len(rest)} tasks"
            return Fail(rest, unreachable(what, waited, err, "these tasks"))
        delay = min(backoff(ticket.attempt), self.retry_deadline - waited)
        self.submitting += 1  # the batch is still being submitted (early completions are kept)
        return Resubmit(
            tuple(event.inputs[n:]),
            rest,
            tuple(event.keys[n:]),
            delay,
            SubmitTicket(ticket.gen, since, ticket.attempt + 1),
        )

    def _stream_up(self, per_task: bool) -> list[Decision]:
        self.down_since = None
        self.ready = True
        self.gen += 1
        self.per_task = per_task
        ids = tuple(self.outstanding)
        if not ids:
            return []
        return [Track(ids)] if per_task else [Reconcile(ids)]

    def _completed(self, items: Sequence[TaskCompletion | TaskWatchError]) -> list[Decision]:
        self.backoff = BACKOFF_MIN_S
        outstanding = self.outstanding
        resolved: list[tuple[H, str, TaskCompletion]] = []
        failed: list[Decision] = []
        for item in items:
            if isinstance(item, TaskWatchError):
                handle = None if self.stopping else outstanding.pop(item.task_id, None)
                if handle is not None:
                    failed.append(Fail((handle,), item.error))
                continue
            handle = outstanding.pop(item.task_id, None)
            if handle is not None:
                resolved.append((handle, item.task_id, item))
            elif self.submitting > 0:
                self.early[item.task_id] = item
        return [Resolve(tuple(resolved)), *failed] if resolved else failed

    def _seen(self, tasks: Sequence[Task]) -> list[Decision]:
        resolved: list[tuple[H, str, TaskCompletion]] = []
        for task in tasks:
            if not task.state.is_terminal:
                continue
            handle = self.outstanding.pop(task.id, None)
            if handle is not None:
                resolved.append(
                    (handle, task.id, TaskCompletion(task.id, task.state, task.output, task.message))
                )
        return [Resolve(tuple(resolved))] if resolved else []

    def _fail_ids(self, ids: list[str], error: FlameError) -> list[Decision]:
        handles = tuple(h for h in (self.outstanding.pop(tid, None) for tid in ids) if h is not None)
        return [Fail(handles, error)] if handles else []

    def _stream_down(self, error: FlameError | None, now: float) -> list[Decision]:
        self.ready = False
        if self.stopping:
            return [StopWatching()]
        delay = self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)
        if error is not None and retryable(error):
            if self.down_since is None:
                self.down_since = now
            waited = now - self.down_since
            rewatch = Rewatch(delay, wait_for_work=False, lost=error)
            if self.retry_deadline <= 0 or waited < self.retry_deadline or not self.outstanding:
                return [rewatch]
            left = tuple(self.outstanding.values())
            self.outstanding.clear()
            return [Fail(left, unreachable("watch session", waited, error, "their tasks")), rewatch]
        # ended (session closed?) or refused: settle what the server already knows
        refused = error if isinstance(error, InvalidStateError | NotFoundError) else None
        return [Reconcile(tuple(self.outstanding), then_fail=refused), Rewatch(delay, wait_for_work=True)]

    def _shutdown(self, reason: str) -> list[Decision]:
        self.stopping = True
        left = tuple(self.outstanding.values())
        self.outstanding.clear()
        self.early.clear()
        return [Fail(left, InvalidStateError(reason))] if left else []
