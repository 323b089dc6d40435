"""The background half of ``Session.run``: one submitter thread and one watcher thread per session.

Concurrency model: two daemon threads per session that called ``run()`` (none per task):

* the *watcher* holds ONE ``FrontendExt.WatchSession`` stream (opened before the first submit) and
  resolves futures from the completions it carries; on a lost stream it reconnects with backoff and
  reconciles the outstanding futures with GetTask/ListTask;
* the *submitter* drains the bounded client-side queue into ``FrontendExt.CreateTasks`` batches.

Servers without ``FrontendExt`` (UNIMPLEMENTED) get the plain flame.v1 calls: CreateTask per task and
a small pool of threads watching tasks with WatchTask.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flamepy import _rpc
from flamepy._outcome import fail, outcome_of_task, resolve
from flamepy.common import convert as _convert
from flamepy.errors import FlameError, InternalError, InvalidStateError, NotFoundError, UnavailableError
from flamepy.proto import extensions_pb2
from flamepy.types import Task, TaskCompletion

if TYPE_CHECKING:
    from flamepy.session import Session, TaskWatcher

log = logging.getLogger(__name__)

BATCH_LIMIT = 1000  # inputs per CreateTasks call
BATCH_BYTES = 16 * 1024 * 1024  # input bytes per CreateTasks call (the server accepts 64 MiB)
QUEUE_LIMIT = 10_000  # inputs waiting client-side before run() blocks
READY_WAIT_S = 0.5  # how long the first submit waits for the WatchSession stream to be registered
CLOSE_GRACE_S = 1.0  # how long close() lets completions of finishing tasks arrive
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0
FALLBACK_WATCHERS = 32  # WatchTask threads when the server lacks FrontendExt
_LIST_RECONCILE_OVER = 64  # reconcile with one ListTask stream above this many tasks


class Dispatcher:
    """The background machinery of :meth:`Session.run` for one session.

    State (all under ``_cond``): ``_queue`` of inputs not yet submitted, ``_outstanding`` futures
    by task id, ``_early`` completions that arrived while a CreateTasks call was still in flight,
    ``_ready``/``_gen`` (a WatchSession stream registered on the server / how many so far) and
    ``_per_task`` (fallback mode: WatchTask per task).
    """

    def __init__(self, session: Session) -> None:
        self._ssn = session
        self._sid = session.id
        self._conn = session.connection
        self._cond = threading.Condition()
        self._queue: deque[tuple[bytes | None, Future]] = deque()
        self._outstanding: dict[str, Future] = {}
        self._early: dict[str, TaskCompletion] = {}
        self._submitting = 0
        self._ready = False
        self._gen = 0
        self._first_ready = threading.Event()
        self._per_task = False
        self._stopping = False
        self._stream: Any = None
        self._task_watchers: set[TaskWatcher] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._submitter = threading.Thread(
            target=self._submit_loop, name=f"flame-submit-{self._sid}", daemon=True
        )
        self._watcher = threading.Thread(
            target=self._watch_loop, name=f"flame-watch-{self._sid}", daemon=True
        )

    def start(self) -> None:
        self._watcher.start()
        self._submitter.start()

    # -- caller side -----------------------------------------------------------------------------

    def enqueue(self, data: bytes | None, fut: Future) -> None:
        with self._cond:
            self._cond.wait_for(lambda: len(self._queue) < QUEUE_LIMIT or self._stopping)
            if self._stopping:
                raise InvalidStateError(f"session {self._sid!r} is closed")
            self._queue.append((data, fut))
            self._cond.notify_all()

    def stop_submitting(self, reason: str) -> None:
        """Stop taking inputs, fail the queued ones, wait for a CreateTasks call in progress."""
        with self._cond:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for _, fut in queued:
            fail(fut, InvalidStateError(reason))
        if self._submitter.is_alive() and threading.current_thread() is not self._submitter:
            self._submitter.join()

    def shutdown(self, reason: str, grace: float) -> None:
        """Give finishing tasks ``grace`` seconds, stop the watchers, fail what is left."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            if grace > 0:
                self._cond.wait_for(lambda: not self._outstanding, timeout=grace)
            left = list(self._outstanding.values())
            self._outstanding.clear()
            self._early.clear()
            stream, watchers = self._stream, list(self._task_watchers)
        if stream is not None:
            stream.cancel()
        for watcher in watchers:
            watcher.cancel()
        for fut in left:
            fail(fut, InvalidStateError(reason))
        if threading.current_thread() is not self._watcher and self._watcher.is_alive():
            self._watcher.join()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- submitter -------------------------------------------------------------------------------

    def _submit_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stopping)
                if self._stopping:
                    return
                batch = [self._queue.popleft()]
                size = len(batch[0][0] or b"")
                while self._queue and len(batch) < BATCH_LIMIT:
                    size += len(self._queue[0][0] or b"")
                    if size > BATCH_BYTES:
                        break
                    batch.append(self._queue.popleft())
                self._cond.notify_all()
            batch = [(d, f) for d, f in batch if f.set_running_or_notify_cancel()]
            if batch:
                self._submit(batch)

    def _submit(self, batch: list[tuple[bytes | None, Future]]) -> None:
        if not self._first_ready.is_set() and self._conn.watch_headers_early is not False:
            # A server that sends the stream's headers once the watch is registered lets the first
            # batch wait for it; one that does not is remembered, and its early tasks are
            # reconciled when the stream's first message arrives.
            early = self._first_ready.wait(READY_WAIT_S)
            if self._conn.watch_headers_early is None:
                self._conn.watch_headers_early = early
        with self._cond:
            gen_before = self._gen if self._ready else -1
            self._submitting += 1
        ids, err = self._create_tasks([d for d, _ in batch])
        futures = [f for _, f in batch]
        to_reconcile, resolved = self._register(ids, futures[: len(ids)], gen_before)
        for fut, tid, outcome in resolved:
            resolve(fut, self._sid, tid, outcome)
        if err is not None:
            for fut in futures[len(ids) :]:
                fail(fut, err)
        if to_reconcile:
            self._reconcile(to_reconcile)

    def _create_tasks(self, inputs: list[bytes | None]) -> tuple[list[str], FlameError | None]:
        """Task ids of the created tasks, and the error that stopped creating the rest."""
        conn = self._conn
        if conn.ext_supported is not False:
            req = extensions_pb2.CreateTasksRequest(session_id=self._sid)
            for data in inputs:
                item = req.inputs.add()
                if data is not None:
                    item.input = data
            what = f"create {len(inputs)} tasks in session {self._sid!r}"
            try:
                res = conn._call(conn.frontend_ext.CreateTasks, req, what)
            except FlameError as err:
                if not _rpc.is_unimplemented(err):
                    return [], err
                conn.ext_supported = False
            else:
                ids = list(res.task_ids)
                if len(ids) != len(inputs):
                    bad = InternalError(f"{what}: server answered {len(ids)} task ids")
                    return ids[: len(inputs)], bad
                return ids, None
        ids = []
        for data in inputs:
            try:
                ids.append(self._ssn.create_task(data).id)
            except FlameError as err:
                return ids, err
        return ids, None

    def _register(
        self, ids: list[str], futures: list[Future], gen_before: int
    ) -> tuple[list[str], list[tuple[Future, str, TaskCompletion]]]:
        """Record created tasks; returns (ids to reconcile now, early completions to apply)."""
        resolved: list[tuple[Future, str, TaskCompletion]] = []
        with self._cond:
            self._submitting -= 1
            for tid, fut in zip(ids, futures, strict=True):
                early = self._early.pop(tid, None)
                if early is not None:
                    resolved.append((fut, tid, early))
                else:
                    self._outstanding[tid] = fut
            if self._submitting == 0:
                self._early.clear()
            per_task = self._per_task
            stale = self._ready and gen_before != self._gen
            pending_ids = [tid for tid in ids if tid in self._outstanding]
        if per_task:
            self._watch_each(pending_ids)
            return [], resolved
        return (pending_ids if stale else []), resolved

    # -- watcher ---------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        if self._conn.ext_supported is False:
            self._switch_to_per_task()
            return
        backoff = BACKOFF_MIN_S
        what = f"watch session {self._sid!r}"
        while True:
            with self._cond:
                if self._stopping:
                    return
                req = extensions_pb2.WatchSessionRequest(session_id=self._sid)
                call = self._conn.frontend_ext.WatchSession(req)
                self._stream = call
            try:
                with _rpc.translate(what):
                    call.initial_metadata()  # the server registered the watch
                    if call.is_active():
                        self._on_ready()
                    for msg in call:
                        self._on_completions(msg)
                        backoff = BACKOFF_MIN_S
                err: FlameError | None = None
            except FlameError as exc:
                err = exc
            with self._cond:
                self._ready = False
                self._stream = None
                if self._stopping:
                    return
            if err is not None and _rpc.is_unimplemented(err):
                self._switch_to_per_task()
                return
            if err is None or not isinstance(err, UnavailableError):
                # ended (session closed?) or refused: settle what the server already knows
                self._reconcile(self._outstanding_ids())
                if err is not None and isinstance(err, InvalidStateError | NotFoundError):
                    self._fail_outstanding(err)
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._stopping or bool(self._outstanding) or self._submitting > 0
                    )
            else:
                log.warning("session %s: watch stream lost (%s); reconnecting", self._sid, err)
            with self._cond:
                if self._cond.wait_for(lambda: self._stopping, timeout=backoff):
                    return
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _on_ready(self) -> None:
        with self._cond:
            self._ready = True
            self._gen += 1
            ids = list(self._outstanding)
        self._first_ready.set()
        if ids:
            self._reconcile(ids)

    def _on_completions(self, msg: Any) -> None:
        resolved: list[tuple[Future, str, TaskCompletion]] = []
        with self._cond:
            for item in msg.completions:
                fut = self._outstanding.pop(item.task_id, None)
                if fut is not None:
                    resolved.append((fut, item.task_id, _convert.completion_from_pb(item)))
                elif self._submitting > 0:
                    self._early[item.task_id] = _convert.completion_from_pb(item)
            if resolved:
                self._cond.notify_all()
        for fut, tid, outcome in resolved:
            resolve(fut, self._sid, tid, outcome)

    def _outstanding_ids(self) -> list[str]:
        with self._cond:
            return list(self._outstanding)

    def _settle(self, task: Task) -> None:
        if not task.state.is_terminal:
            return
        with self._cond:
            fut = self._outstanding.pop(task.id, None)
            self._cond.notify_all()
        if fut is not None:
            resolve(fut, self._sid, task.id, outcome_of_task(task))

    def _fail_outstanding(self, err: FlameError) -> None:
        with self._cond:
            left = list(self._outstanding.values())
            self._outstanding.clear()
            self._cond.notify_all()
        for fut in left:
            fail(fut, err)

    def _reconcile(self, ids: list[str]) -> None:
        """Resolve the futures of ``ids`` whose tasks the server already shows terminal."""
        if not ids:
            return
        try:
            if len(ids) > _LIST_RECONCILE_OVER:
                wanted = set(ids)
                for task in self._ssn.list_tasks():
                    if task.id in wanted:
                        self._settle(task)
                return
            for tid in ids:
                try:
                    self._settle(self._ssn.get_task(tid))
                except NotFoundError as err:
                    with self._cond:
                        fut = self._outstanding.pop(tid, None)
                    if fut is not None:
                        fail(fut, err)
        except FlameError as err:
            log.warning("session %s: reconciling %d tasks failed: %s", self._sid, len(ids), err)

    # -- fallback: WatchTask per task ------------------------------------------------------------

    def _switch_to_per_task(self) -> None:
        log.info("session %s: server lacks FrontendExt; watching tasks one by one", self._sid)
        self._conn.ext_supported = False
        with self._cond:
            self._per_task = True
            self._ready = True
            ids = list(self._outstanding)
        self._first_ready.set()
        self._watch_each(ids)

    def _watch_each(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._cond:
            if self._stopping:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    FALLBACK_WATCHERS, thread_name_prefix=f"flame-watch-task-{self._sid}"
                )
            for tid in ids:  # under the lock: shutdown() cannot close the pool meanwhile
                self._pool.submit(self._watch_one, tid)

    def _watch_one(self, task_id: str) -> None:
        with self._cond:
            if self._stopping or task_id not in self._outstanding:
                return
            watcher = self._ssn.watch_task(task_id)
            self._task_watchers.add(watcher)
        last: Task | None = None
        try:
            for snapshot in watcher:
                last = snapshot
        except FlameError as err:
            with self._cond:
                fut = None if self._stopping else self._outstanding.pop(task_id, None)
            if fut is not None:
                fail(fut, err)
            return
        finally:
            with self._cond:
                self._task_watchers.discard(watcher)
        if last is not None:
            self._settle(last)
