"""One executor: binds a session's service process, runs its tasks in order, releases it.

An :class:`Executor` is an actor on the manager's asyncio loop: :meth:`enqueue`, :meth:`cancel`
and :meth:`request_release` only record the request and wake the executor's single worker coroutine,
which owns the phase (:class:`~executor.state.PhaseTracker`) and the service process. Results go out
through the ``emit`` callback in protocol order (backend.proto, steps 2-4).

Stopping a task: when the running task's timeout passes (one :class:`~executor.deadline.HeadDeadline`
per executor) or the session manager cancels it, the worker stops the service (SIGTERM to its
process group, SIGKILL after the kill grace, given up on after a bounded wait), answers the task
(``timed_out`` / ``cancelled``, ``service_stopped``), gives back the tasks queued behind it and
releases the executor. A cancelled task still queued here is dropped and answered ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from executor.coalesce import OutcomeCoalescer
from executor.deadline import HeadDeadline
from executor.doorbell import Doorbell
from executor.events import (
    BindFailed,
    BindRequest,
    CancelRequest,
    ExecutorBound,
    ExecutorReleased,
    OutboundMessage,
    TaskOutcome,
    TaskRequest,
)
from executor.pipe import Reply, TaskPipe
from executor.shim import BindError, HostShim, ServiceCrashed, ServiceInstance
from executor.state import ExecutorPhase, PhaseTracker
from flamepy.common.durations import format_duration

log = logging.getLogger(__name__)

Emit = Callable[[OutboundMessage], None]
_REFUSING = (ExecutorPhase.STOPPING, ExecutorPhase.CRASHED)  # phases that take no more tasks


class _Stop:
    """Why the worker stops the service: ``task`` (running at the service) timed out or was cancelled."""

    def __init__(self, task: TaskRequest, timed_out: bool, message: str) -> None:
        self.task, self.timed_out, self.message = task, timed_out, message


class Executor:
    def __init__(self, request: BindRequest, shim: HostShim, emit: Emit) -> None:
        self.id = request.executor_id
        self.request = request
        self._shim = shim
        self._emit = emit
        self._tracker = PhaseTracker(self.id)
        self._queue: deque[TaskRequest] = deque()
        self._wakeup = Doorbell()  # rung by requests, replies, stops and the futures it watches
        self._release_requested = False
        self._instance: ServiceInstance | None = None
        self._worker: asyncio.Task[None] | None = None
        self._current: TaskRequest | None = None  # over gRPC: the task in OnTaskInvoke
        self._sent: deque[TaskRequest] = deque()  # over the task pipe: at the service, head running
        self._dropped: dict[str, str] = {}  # sent over the pipe, then cancelled: task id -> reason
        self._deadline = HeadDeadline(self._timed_out)
        self._stop: asyncio.Future[_Stop] | None = None  # set: stop the service for this task
        self._stopped = False

    @property
    def phase(self) -> ExecutorPhase:
        return self._tracker.phase

    @property
    def history(self) -> list[ExecutorPhase]:
        return list(self._tracker.history)

    @property
    def instance(self) -> ServiceInstance | None:
        return self._instance

    def start(self, on_done: Callable[[Executor], None] | None = None) -> None:
        """Start the worker; ``on_done(self)`` runs once it has finished (or was aborted)."""
        self._worker = asyncio.create_task(self._run(), name=f"executor-{self.id}")
        if on_done is not None:
            self._worker.add_done_callback(lambda _task: on_done(self))

    async def wait_closed(self) -> None:
        if self._worker is not None:
            await asyncio.gather(asyncio.shield(self._worker), return_exceptions=True)

    # -- requests from the session manager (never block) -----------------------------------

    def enqueue(self, task: TaskRequest) -> None:
        if self._release_requested or self.phase.is_terminal or self.phase in _REFUSING:
            self._emit(TaskOutcome.requeued(task, f"executor {self.id} is being released"))
            return
        self._queue.append(task)
        self._wakeup.ring()

    def request_release(self) -> None:
        if self._release_requested:
            return
        self._release_requested = True
        self._requeue_all(f"executor {self.id} released before the task started")
        if self.phase in (ExecutorPhase.BOUND, ExecutorPhase.RUNNING):
            self._tracker.advance(ExecutorPhase.RELEASING)
        self._wakeup.ring()

    def cancel(self, req: CancelRequest) -> None:
        """Drop the task if it is queued here; stop the service if it is running it."""
        for task in self._queue:
            if task.task_id == req.task_id and task.session_id == req.session_id:
                self._queue.remove(task)
                self._emit(TaskOutcome.cancelled_unstarted(task, req.reason))
                return
        running = self._current or (self._sent[0] if self._sent else None)
        for task in ([running] if running is not None else []) + list(self._sent)[1:]:
            if task.task_id != req.task_id or task.session_id != req.session_id:
                continue
            if req.attempt and task.attempt and req.attempt != task.attempt:
                return
            if task is running:
                self._request_stop(_Stop(task, False, req.reason))
            else:  # at the service but not started: its answer is replaced
                self._dropped[task.task_id] = req.reason
            return

    def _timed_out(self, task: TaskRequest) -> None:
        assert task.timeout is not None
        self._request_stop(_Stop(task, True, f"timed out after {format_duration(task.timeout)}"))

    def _request_stop(self, stop: _Stop) -> None:
        if self._stop is None or self._stop.done():
            self._stop = asyncio.get_running_loop().create_future()
        self._stop.set_result(stop)
        self._wakeup.ring()

    def _stop_signal(self) -> asyncio.Future[_Stop]:
        if self._stop is None:
            self._stop = asyncio.get_running_loop().create_future()
        return self._stop

    def _stop_for(self, task: TaskRequest | None) -> _Stop | None:
        """The stop asked for ``task`` (the one running); one asked for a task that has ended since
        is dropped."""
        if self._stop is None or not self._stop.done():
            return None
        stop = self._stop.result()
        if task is not None and stop.task is task:
            return stop
        self._stop = None
        return None

    async def _stop_service(self, instance: ServiceInstance, stop: _Stop) -> str:
        """Stop the service to end ``stop.task``; answer it and give back what was queued."""
        self._stopped = True
        self._deadline.disarm()
        self._tracker.advance(ExecutorPhase.STOPPING)
        log.warning(
            "executor %s: task %s of session %s %s: stopping service process %d",
            self.id,
            stop.task.task_id,
            stop.task.session_id,
            stop.message,
            instance.process.pid,
        )
        if instance.pipe is not None:
            instance.pipe.on_replies = _ignore_replies
        await instance.close()  # SIGTERM to the group, SIGKILL after the grace; bounded
        self._emit(TaskOutcome.stopped(stop.task, stop.timed_out, stop.message))
        why = f"executor {self.id}: its service was stopped before the task started"
        for task in list(self._sent):
            if task is not stop.task:
                self._emit(TaskOutcome.requeued(task, why))
        self._sent.clear()
        self._requeue_all(why)
        return stop.message

    async def abort(self) -> None:
        """The node stream is gone: stop now, terminate the process, tell nobody."""
        self._emit = _discard
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._instance is not None:
            await self._instance.close()

    # -- the worker --------------------------------------------------------------------------

    def _requeue_all(self, why: str) -> None:
        while self._queue:
            self._emit(TaskOutcome.requeued(self._queue.popleft(), why))

    async def _run(self) -> None:
        try:
            await self._lifecycle()
        except Exception as exc:  # a bug: do not leave the process or the session manager hanging
            log.exception("executor %s: internal error", self.id)
            if self._instance is not None:
                await self._instance.close()
            self._emit(ExecutorReleased(self.id, f"executor manager internal error: {exc!r}"))

    async def _lifecycle(self) -> None:
        try:
            self._instance = await self._shim.bind(self.request)
        except BindError as exc:
            log.warning("executor %s: bind failed: %s", self.id, exc)
            self._requeue_all(f"executor {self.id} failed to bind")
            self._tracker.advance(ExecutorPhase.BIND_FAILED)
            self._emit(BindFailed(self.id, str(exc)))
            return
        self._tracker.advance(ExecutorPhase.BOUND)
        log.info("executor %s bound (pid %d)", self.id, self._instance.process.pid)
        self._emit(ExecutorBound(self.id))
        if self._release_requested:
            self._tracker.advance(ExecutorPhase.RELEASING)
        if self._instance.pipe is not None:
            crash = await self._serve_pipe(self._instance, self._instance.pipe)
        else:
            crash = await self._serve(self._instance)
        if crash is None:
            await self._instance.leave()
        await self._instance.close()
        self._tracker.advance(ExecutorPhase.RELEASED)
        if self._stopped:  # it ended a task on purpose: not a crash to charge to anyone
            crash = None
        log.info("executor %s released%s", self.id, " after a crash" if crash else "")
        self._emit(ExecutorReleased(self.id, crash))

    async def _serve(self, instance: ServiceInstance) -> str | None:
        """Run tasks until released (None) or the process dies (the crash message)."""
        self._wakeup.watch(instance.exited)
        while True:
            if self._queue and self.phase is not ExecutorPhase.RELEASING:
                task = self._queue.popleft()
                crash = await self._run_one(instance, task)
                if crash is not None:
                    return crash
                continue
            if self.phase is ExecutorPhase.RELEASING:
                return None
            if instance.exited.done():
                code = instance.exited.result()
                self._tracker.advance(ExecutorPhase.CRASHED)
                self._requeue_all(f"executor {self.id}: service process exited")
                return instance.with_stderr(f"service process exited with code {code} while idle")
            self._wakeup.clear()
            await self._wakeup.wait()  # rung by a request, or by instance.exited (watched)

    async def _serve_pipe(self, instance: ServiceInstance, pipe: TaskPipe) -> str | None:
        """Like :meth:`_serve`, over the task pipe: every task queued here goes to the service at
        once (it still runs them one at a time, in order), so the next one is already there when
        one ends; outcomes of a burst are let out together (:mod:`executor.coalesce`)."""
        sent = self._sent
        held = OutcomeCoalescer(lambda outcome: self._emit(outcome))  # self._emit changes on abort

        def on_replies(replies: list[Reply]) -> None:
            for code, output, message in replies:
                if not sent:
                    log.error("executor %s: the service answered a task it was not sent", self.id)
                    pipe.abort()
                    break
                task = sent.popleft()
                outcome = instance.outcome(task, code, output, message)
                if self._dropped and task.task_id in self._dropped:
                    outcome = TaskOutcome.cancelled_unstarted(task, self._dropped.pop(task.task_id))
                held.add(outcome, more_coming=bool(sent))
            if sent:
                self._deadline.arm(sent[0])
            else:
                self._deadline.disarm()
                if self.phase is ExecutorPhase.RUNNING:
                    self._tracker.advance(ExecutorPhase.BOUND)
                self._wakeup.ring()

        pipe.on_replies = on_replies
        self._wakeup.watch(pipe.broken)
        self._wakeup.watch(instance.exited)
        try:
            return await self._pipe_loop(instance, pipe, sent, held)
        finally:
            held.flush()

    async def _pipe_loop(
        self, instance: ServiceInstance, pipe: TaskPipe, sent: deque[TaskRequest], held: OutcomeCoalescer
    ) -> str | None:
        while True:
            if self._queue and self.phase is not ExecutorPhase.RELEASING and not pipe.broken.done():
                batch = list(self._queue)
                self._queue.clear()
                if not sent:
                    self._deadline.arm(batch[0])
                sent.extend(batch)
                pipe.send(batch)
                if self.phase is ExecutorPhase.BOUND:
                    self._tracker.advance(ExecutorPhase.RUNNING)
                continue
            if not sent and self.phase is ExecutorPhase.RELEASING:
                return None
            stop = self._stop_for(sent[0] if sent else None)
            if stop is not None:
                held.flush()
                return await self._stop_service(instance, stop)
            if pipe.broken.done() or (instance.exited.done() and not sent):
                held.flush()  # the finished tasks' outcomes go before the crash's
                why = pipe.broken.result() if pipe.broken.done() else "the process exited"
                return await self._pipe_ended(instance, sent, why)
            self._wakeup.clear()
            await self._wakeup.wait()  # rung by a request, a reply, a stop, or a watched future

    async def _pipe_ended(self, instance: ServiceInstance, sent: deque[TaskRequest], why: str) -> str:
        """The pipe broke or the process exited: the task the service was running fails with the
        crash message, the ones behind it run again elsewhere."""
        if not sent:
            code = await instance.exit_code_soon()
            self._tracker.advance(ExecutorPhase.CRASHED)
            self._requeue_all(f"executor {self.id}: service process exited")
            return instance.with_stderr(f"service process exited with code {code} while idle")
        head = sent.popleft()
        exc = instance.crashed(head, await instance.exit_code_soon(), why)
        log.warning("executor %s: %s", self.id, exc.message.splitlines()[0])
        self._emit(TaskOutcome.crash(head, exc.return_code, exc.message))
        if self.phase is not ExecutorPhase.RELEASING:
            self._tracker.advance(ExecutorPhase.CRASHED)
        why_requeued = f"executor {self.id}: service process crashed before the task started"
        while sent:
            self._emit(TaskOutcome.requeued(sent.popleft(), why_requeued))
        self._requeue_all(why_requeued)
        return exc.message

    async def _run_one(self, instance: ServiceInstance, task: TaskRequest) -> str | None:
        if self.phase is ExecutorPhase.BOUND:
            self._tracker.advance(ExecutorPhase.RUNNING)
        self._current = task
        self._deadline.arm(task)
        try:
            outcome = await self._invoke(instance, task)
        except _Stopping as stopping:
            return await self._stop_service(instance, stopping.stop)
        except ServiceCrashed as exc:
            log.warning("executor %s: %s", self.id, exc.message.splitlines()[0])
            self._emit(TaskOutcome.crash(task, exc.return_code, exc.message))
            if self.phase is not ExecutorPhase.RELEASING:
                self._tracker.advance(ExecutorPhase.CRASHED)
            self._requeue_all(f"executor {self.id}: service process crashed before the task started")
            return exc.message
        finally:
            self._current = None
            self._deadline.disarm()
        self._emit(outcome)
        if self.phase is ExecutorPhase.RUNNING:
            self._tracker.advance(ExecutorPhase.BOUND)
        return None

    async def _invoke(self, instance: ServiceInstance, task: TaskRequest) -> TaskOutcome:
        """OnTaskInvoke, unless a stop for the task comes first (:class:`_Stopping`)."""
        run = asyncio.ensure_future(instance.run_task(task))
        while True:
            racers: list[asyncio.Future[Any]] = [run, self._stop_signal()]
            await asyncio.wait(racers, return_when="FIRST_COMPLETED")
            if run.done():
                self._stop_for(None)  # answered meanwhile: the answer stands, a stop is moot
                return run.result()
            stop = self._stop_for(task)
            if stop is not None:
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
                raise _Stopping(stop)


class _Stopping(Exception):
    def __init__(self, stop: _Stop) -> None:
        super().__init__(stop.message)
        self.stop = stop


def _discard(_msg: OutboundMessage) -> None:
    return None


def _ignore_replies(_replies: list[Reply]) -> None:
    return None
