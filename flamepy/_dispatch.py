"""The background half of ``Session.run``: the I/O around :class:`~flamepy.dispatch_state.DispatchState`.

Concurrency model: two daemon threads per session that called ``run()`` (none per task), which do
I/O only; every decision is the state object's, taken under one ``Condition``:

* the *watcher* holds ONE session watch (``Transport.watch_session``: a WatchSession stream, opened
  before the first submit, or the transport's per-task fallback) and feeds its completions to the
  state; on a lost watch it reconnects as the state decides and reconciles with GetTask/ListTask;
* the *submitter* drains the bounded client-side queue into ``Transport.create_tasks`` batches,
  each input with an idempotency key (``<96-bit random nonce>.<counter>``, about 20 characters),
  and sends a batch again with the same keys when the state decides (``Resubmit``) after the
  session manager was unreachable.

Callers' threads only enqueue (blocking while the queue is full) and resolve nothing themselves.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
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
    Resubmit,
    Rewatch,
    Seen,
    Shutdown,
    StopSubmitting,
    StreamDown,
    StreamUp,
    Submitted,
    SubmitTicket,
    Track,
)
from flamepy.errors import FlameError, InvalidStateError, NotFoundError
from flamepy.transport.base import SessionWatch, Transport, WatchRegistered
from flamepy.transport.retry import retryable

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
        deadline = transport.retry_deadline
        # keys while the server may take them; a plain flame.v1 server's tasks go without
        self._state: DispatchState[Future] = DispatchState(
            QUEUE_LIMIT, deadline, secrets.token_urlsafe(12) + "." if deadline > 0 else ""
        )
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
            elif isinstance(decision, Resubmit):
                raise AssertionError("Resubmit is the submitter's (see _submit)")  # pragma: no cover
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
        state = self._state
        inputs = [d for d, _ in batch]
        handles = [f for _, f in batch]
        with self._cond:
            keys = state.new_keys(len(batch))
        retry: SubmitTicket | None = None
        while True:
            with self._cond:
                ticket = state.begin_submit(retry)
            ids, err = transport.create_tasks(self._sid, inputs, keys)
            bind_task_ids(handles, ids)  # Future.cancel() can now cancel the task on the server
            if transport.keyed_submit is False:
                keys = None  # a plain flame.v1 server: created without keys, never repeated
            event = Submitted(ticket, ids, handles, err, inputs, keys, time.monotonic())
            with self._cond:
                decisions = state.handle(event)
                self._cond.notify_all()
            again = [d for d in decisions if isinstance(d, Resubmit)]
            self._apply([d for d in decisions if not isinstance(d, Resubmit)])
            if not again:
                return
            resubmit = again[0]
            log.info(
                "session %s: %s; sending %d tasks again in %.2f s",
                self._sid,
                err,
                len(resubmit.handles),
                resubmit.delay,
            )
            with self._cond:
                stopped = self._cond.wait_for(lambda: state.stopping, timeout=resubmit.delay)
            inputs, handles, keys = list(resubmit.inputs), list(resubmit.handles), list(resubmit.keys)
            retry = resubmit.ticket
            if stopped:  # closing: the tasks may exist on the server
                closed = InvalidStateError(
                    f"session {self._sid!r} was closed while {len(handles)} tasks were being "
                    f"submitted again after {err}; these tasks may still run"
                )
                with self._cond:
                    ticket = state.begin_submit(retry)
                self._feed(Submitted(ticket, [], handles, closed))
                return

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
            if not self._feed(StreamDown(err, time.monotonic())):
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
        """Feed the server's view of ``ids`` (the terminal ones resolve their futures; a task the
        server does not know fails). When the server cannot be asked (the transport has retried its
        reads as long as allowed), the tasks fail: their completions may have been missed."""
        if not ids:
            return
        transport, sid = self._transport, self._sid
        done: set[str] = set()
        try:
            if len(ids) > _LIST_RECONCILE_OVER:
                wanted = set(ids)
                found = [t for t in transport.list_tasks(sid) if t.id in wanted]
                self._feed(Seen(found))
                done = wanted
                for tid in wanted.difference(t.id for t in found):
                    self._lost(tid, NotFoundError(f"task {tid} is not in the session's task list"))
                return
            for tid in ids:
                try:
                    self._feed(Seen([transport.get_task(sid, tid)]))
                except NotFoundError as err:
                    self._lost(tid, err)
                done.add(tid)
        except FlameError as err:
            log.warning("session %s: reconciling %d tasks failed: %s", sid, len(ids), err)
            if retryable(err) or isinstance(err, InvalidStateError):
                for tid in ids:
                    if tid not in done:
                        self._feed(Lost(tid, err))

    def _lost(self, tid: str, err: FlameError) -> None:
        msg = f"task {tid} of session {self._sid!r} is unknown to the session manager ({err.message})"
        lost = NotFoundError(msg)
        lost.__cause__ = err
        self._feed(Lost(tid, lost))
