"""The background half of ``Session.run``: the I/O around :class:`~flamepy.dispatch_state.DispatchState`.

Concurrency model: two daemon threads per session that called ``run()`` (none per task), which do
I/O only; every decision is the state object's, taken under one ``Condition``:

* the *watcher* holds ONE session watch (``Transport.watch_session``: a WatchSession stream, opened
  before the first submit, or the transport's per-task fallback) and feeds its completions to the
  state; on a lost watch it reconnects as the state decides and reconciles with GetTask/ListTask;
* the *submitter* drains the bounded client-side queue into ``Transport.create_tasks`` batches.

Callers' threads only enqueue (blocking while the queue is full) and resolve nothing themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from flamepy._outcome import fail, resolve
from flamepy._task_future import bind_task_ids
from flamepy.dispatch_state import (
    QUEUE_LIMIT,
    Completed,
    Decision,
    DispatchState,
    Event,
    Fail,
    GiveUp,
    Lost,
    Reconcile,
    Resolve,
    Rewatch,
    Seen,
    Shutdown,
    StopSubmitting,
    StreamDown,
    StreamUp,
    Submitted,
    Track,
)
from flamepy.errors import FlameError, InvalidStateError, NotFoundError
from flamepy.transport.base import SessionWatch, Transport, WatchRegistered

log = logging.getLogger(__name__)

READY_WAIT_S = 0.5  # how long the first submit waits for the WatchSession stream to be registered
CLOSE_GRACE_S = 1.0  # how long close() lets completions of finishing tasks arrive
_LIST_RECONCILE_OVER = 64  # reconcile with one ListTask stream above this many tasks


class Dispatcher:
    """The background machinery of :meth:`Session.run` for one session."""

    def __init__(self, session_id: str, transport: Transport, application: str = "") -> None:
        self._sid = session_id
        self._app = application
        self._transport = transport
        self._cond = threading.Condition()
        self._state: DispatchState[Future] = DispatchState(QUEUE_LIMIT)
        self._first_ready = threading.Event()
        self._watch: SessionWatch | None = None
        self._submitter = threading.Thread(
            target=self._submit_loop, name=f"flame-submit-{session_id}", daemon=True
        )
        self._watcher = threading.Thread(
            target=self._watch_loop, name=f"flame-watch-{session_id}", daemon=True
        )

    def start(self) -> None:
        self._watcher.start()
        self._submitter.start()

    # -- caller side -----------------------------------------------------------------------------

    def enqueue(self, data: bytes | None, fut: Future) -> None:
        state = self._state
        with self._cond:
            if state.queue_full:
                self._cond.wait_for(lambda: not state.queue_full or state.stopping)
            if state.stopping:
                raise InvalidStateError(f"session {self._sid!r} is closed")
            state.push(data, fut)
            self._cond.notify_all()

    def stop_submitting(self, reason: str) -> None:
        """Stop taking inputs, fail the queued ones, wait for a CreateTasks call in progress."""
        self._feed(StopSubmitting(reason))
        if self._submitter.is_alive() and threading.current_thread() is not self._submitter:
            self._submitter.join()

    def shutdown(self, reason: str, grace: float) -> None:
        """Give finishing tasks ``grace`` seconds, stop the watch, fail what is left."""
        self._feed(StopSubmitting(reason))  # nothing queued by now; stops taking more
        with self._cond:
            if grace > 0:
                self._cond.wait_for(lambda: not self._state.outstanding, timeout=grace)
            watch = self._watch
        if watch is not None:
            watch.cancel()
        self._feed(Shutdown(reason))
        if threading.current_thread() is not self._watcher and self._watcher.is_alive():
            self._watcher.join()

    # -- decisions -------------------------------------------------------------------------------

    def _feed(self, event: Event) -> bool:
        """Hand ``event`` to the state and carry out its decisions; False: the watcher should stop."""
        with self._cond:
            decisions = self._state.handle(event)
            self._cond.notify_all()
        return self._apply(decisions)

    def _apply(self, decisions: Sequence[Decision]) -> bool:
        for decision in decisions:
            if isinstance(decision, Resolve):
                sid = self._sid
                for fut, tid, outcome in decision.items:
                    resolve(fut, sid, tid, outcome, self._app)
            elif isinstance(decision, Fail):
                for fut in decision.handles:
                    fail(fut, decision.error)
            elif isinstance(decision, Reconcile):
                self._reconcile(decision.task_ids)
                if decision.then_fail is not None:
                    self._feed(GiveUp(decision.then_fail))
            elif isinstance(decision, Track):
                with self._cond:
                    watch = self._watch
                if watch is not None:
                    watch.track(list(decision.task_ids))
            elif isinstance(decision, Rewatch):
                return self._before_rewatch(decision)
            else:  # StopWatching
                return False
        return True

    # -- submitter -------------------------------------------------------------------------------

    def _submit_loop(self) -> None:
        state = self._state
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(state.queue) or state.stopping)
                if state.stopping:
                    return
                batch = state.take_batch()
                self._cond.notify_all()
            batch = [(d, f) for d, f in batch if f.set_running_or_notify_cancel()]
            if batch:
                self._submit(batch)

    def _submit(self, batch: list[tuple[bytes | None, Future]]) -> None:
        transport = self._transport
        if not self._first_ready.is_set() and transport.watch_headers_early is not False:
            # A server that sends the stream's headers once the watch is registered lets the first
            # batch wait for it; one that does not is remembered, and its early tasks are
            # reconciled when the stream's first message arrives.
            transport.learn_watch_headers_early(self._first_ready.wait(READY_WAIT_S))
        with self._cond:
            ticket = self._state.begin_submit()
        ids, err = transport.create_tasks(self._sid, [d for d, _ in batch])
        bind_task_ids([f for _, f in batch], ids)  # Future.cancel() can now cancel the task on the server
        self._feed(Submitted(ticket, ids, [f for _, f in batch], err))

    # -- watcher ---------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        while True:
            with self._cond:
                if self._state.stopping:
                    return
                watch = self._watch = self._transport.watch_session(self._sid)
            err: FlameError | None = None
            try:
                for item in watch:
                    if isinstance(item, WatchRegistered):
                        self._feed(StreamUp(item.per_task))
                        self._first_ready.set()
                    else:
                        self._feed(Completed(item))
            except FlameError as exc:
                err = exc
            with self._cond:
                self._watch = None
            if not self._feed(StreamDown(err)):
                return

    def _before_rewatch(self, decision: Rewatch) -> bool:
        state = self._state
        if decision.lost is not None:
            log.warning("session %s: watch stream lost (%s); reconnecting", self._sid, decision.lost)
        with self._cond:
            if decision.wait_for_work:
                self._cond.wait_for(lambda: state.stopping or state.has_work)
            return not self._cond.wait_for(lambda: state.stopping, timeout=decision.delay)

    def _reconcile(self, ids: Sequence[str]) -> None:
        """Feed the server's view of ``ids`` (the terminal ones resolve their futures)."""
        if not ids:
            return
        transport, sid = self._transport, self._sid
        try:
            if len(ids) > _LIST_RECONCILE_OVER:
                wanted = set(ids)
                self._feed(Seen([t for t in transport.list_tasks(sid) if t.id in wanted]))
                return
            for tid in ids:
                try:
                    self._feed(Seen([transport.get_task(sid, tid)]))
                except NotFoundError as err:
                    self._feed(Lost(tid, err))
        except FlameError as err:
            log.warning("session %s: reconciling %d tasks failed: %s", sid, len(ids), err)
