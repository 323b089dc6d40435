"""One executor: binds a session's service process, runs its tasks in order, releases it.

An :class:`Executor` is an actor on the manager's asyncio loop: :meth:`enqueue` and
:meth:`request_release` only record the request and wake the executor's single worker coroutine,
which owns the phase (:class:`~executor.state.PhaseTracker`) and the service process. Results go out
through the ``emit`` callback in protocol order (backend.proto, steps 2-4).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from executor.coalesce import OutcomeCoalescer
from executor.events import (
    BindFailed,
    BindRequest,
    ExecutorBound,
    ExecutorReleased,
    OutboundMessage,
    TaskOutcome,
    TaskRequest,
)
from executor.pipe import Reply, TaskPipe
from executor.shim import BindError, HostShim, ServiceCrashed, ServiceInstance
from executor.state import ExecutorPhase, PhaseTracker

log = logging.getLogger(__name__)

Emit = Callable[[OutboundMessage], None]


class Executor:
    def __init__(self, request: BindRequest, shim: HostShim, emit: Emit) -> None:
        self.id = request.executor_id
        self.request = request
        self._shim = shim
        self._emit = emit
        self._tracker = PhaseTracker(self.id)
        self._queue: deque[TaskRequest] = deque()
        self._wakeup = asyncio.Event()
        self._release_requested = False
        self._instance: ServiceInstance | None = None
        self._worker: asyncio.Task[None] | None = None

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
        if self._release_requested or self.phase.is_terminal:
            self._emit(TaskOutcome.requeued(task, f"executor {self.id} is being released"))
            return
        self._queue.append(task)
        self._wakeup.set()

    def request_release(self) -> None:
        if self._release_requested:
            return
        self._release_requested = True
        self._requeue_all(f"executor {self.id} released before the task started")
        if self.phase in (ExecutorPhase.BOUND, ExecutorPhase.RUNNING):
            self._tracker.advance(ExecutorPhase.RELEASING)
        self._wakeup.set()

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
        log.info("executor %s released%s", self.id, " after a crash" if crash else "")
        self._emit(ExecutorReleased(self.id, crash))

    async def _serve(self, instance: ServiceInstance) -> str | None:
        """Run tasks until released (None) or the process dies (the crash message)."""
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
            woken = asyncio.ensure_future(self._wakeup.wait())
            racers: list[asyncio.Future[Any]] = [woken, instance.exited]
            await asyncio.wait(racers, return_when="FIRST_COMPLETED")
            woken.cancel()

    async def _serve_pipe(self, instance: ServiceInstance, pipe: TaskPipe) -> str | None:
        """Like :meth:`_serve`, over the task pipe: every task queued here goes to the service at
        once (it still runs them one at a time, in order), so the next one is already there when
        one ends; outcomes of a burst are let out together (:mod:`executor.coalesce`)."""
        sent: deque[TaskRequest] = deque()
        held = OutcomeCoalescer(lambda outcome: self._emit(outcome))  # self._emit changes on abort

        def on_replies(replies: list[Reply]) -> None:
            for code, output, message in replies:
                if not sent:
                    log.error("executor %s: the service answered a task it was not sent", self.id)
                    pipe.abort()
                    break
                held.add(instance.outcome(sent.popleft(), code, output, message), more_coming=bool(sent))
            if not sent:
                if self.phase is ExecutorPhase.RUNNING:
                    self._tracker.advance(ExecutorPhase.BOUND)
                self._wakeup.set()

        pipe.on_replies = on_replies
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
                sent.extend(batch)
                pipe.send(batch)
                if self.phase is ExecutorPhase.BOUND:
                    self._tracker.advance(ExecutorPhase.RUNNING)
                continue
            if not sent and self.phase is ExecutorPhase.RELEASING:
                return None
            if pipe.broken.done() or (instance.exited.done() and not sent):
                held.flush()  # the finished tasks' outcomes go before the crash's
                why = pipe.broken.result() if pipe.broken.done() else "the process exited"
                return await self._pipe_ended(instance, sent, why)
            self._wakeup.clear()
            woken = asyncio.ensure_future(self._wakeup.wait())
            racers: list[asyncio.Future[Any]] = [woken, pipe.broken, instance.exited]
            await asyncio.wait(racers, return_when="FIRST_COMPLETED")
            woken.cancel()

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
        try:
            outcome = await instance.run_task(task)
        except ServiceCrashed as exc:
            log.warning("executor %s: %s", self.id, exc.message.splitlines()[0])
            self._emit(TaskOutcome.crash(task, exc.return_code, exc.message))
            if self.phase is not ExecutorPhase.RELEASING:
                self._tracker.advance(ExecutorPhase.CRASHED)
            self._requeue_all(f"executor {self.id}: service process crashed before the task started")
            return exc.message
        self._emit(outcome)
        if self.phase is ExecutorPhase.RUNNING:
            self._tracker.advance(ExecutorPhase.BOUND)
        return None


def _discard(_msg: OutboundMessage) -> None:
    return None
