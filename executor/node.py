"""The executors of one node stream: dispatches the session manager's requests to them.

One :class:`NodeSession` lives exactly as long as one ``Backend.Attach`` stream; when the stream
ends, :meth:`NodeSession.close` terminates every service process (the session manager forgets
them too). Single asyncio loop; :meth:`handle` never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import os

from executor.events import (
    BindFailed,
    BindRequest,
    CancelRequest,
    ExecRequest,
    ExecStopRequest,
    ExecutorReleased,
    InboundMessage,
    LogData,
    OutboundMessage,
    ReadLogRequest,
    Registered,
    ReleaseRequest,
    StatsData,
    StatsRequest,
    TaskOutcome,
    TaskRequest,
)
from executor.executor import Emit, Executor
from executor.resources import ENV_FAKE_GPUS
from executor.shim import HostShim
from executor.taskexec import Execs
from executor.tasklogs import index_root, read_log
from executor.taskprobe import measure

log = logging.getLogger(__name__)


class NodeSession:
    def __init__(self, shim: HostShim, emit: Emit) -> None:
        self.shim = shim
        self._emit = emit
        self.executors: dict[str, Executor] = {}
        self._closed = False
        self._reads: set[asyncio.Task[None]] = set()
        self._index = index_root(shim.settings.work_dir)
        self._execs = Execs(self._index, self._emit_open)
        self._fake_gpus = bool(os.environ.get(ENV_FAKE_GPUS))

    def handle(self, msg: InboundMessage) -> None:
        if isinstance(msg, BindRequest):
            self._bind(msg)
        elif isinstance(msg, TaskRequest):
            self._invoke(msg)
        elif isinstance(msg, ReleaseRequest):
            self._release(msg)
        elif isinstance(msg, CancelRequest):
            executor = self.executors.get(msg.executor_id)
            if executor is not None:
                executor.cancel(msg)
        elif isinstance(msg, ReadLogRequest | StatsRequest):
            work = self._read_log(msg) if isinstance(msg, ReadLogRequest) else self._stats(msg)
            read = asyncio.get_running_loop().create_task(work)
            self._reads.add(read)
            read.add_done_callback(self._reads.discard)
        elif isinstance(msg, ExecRequest):
            self._execs.start(msg)
        elif isinstance(msg, ExecStopRequest):
            self._execs.stop(msg.request_id)
        elif isinstance(msg, Registered):
            log.warning("ignoring a second 'registered' on the same stream")

    def _bind(self, req: BindRequest) -> None:
        if self._closed:
            return
        if req.executor_id in self.executors:
            self._emit(
                BindFailed(req.executor_id, f"executor {req.executor_id} is already bound on this node")
            )
            return
        executor = Executor(req, self.shim, self._emit)
        self.executors[req.executor_id] = executor
        executor.start(on_done=self._forget)
        log.info(
            "binding executor %s (application %s, session %s)",
            req.executor_id,
            req.application,
            req.session.session_id,
        )

    def _forget(self, executor: Executor) -> None:
        if self.executors.get(executor.id) is executor:
            del self.executors[executor.id]

    def _invoke(self, task: TaskRequest) -> None:
        executor = self.executors.get(task.executor_id)
        if executor is None:
            self._emit(TaskOutcome.requeued(task, f"executor {task.executor_id} is not on this node"))
            return
        executor.enqueue(task)

    def _release(self, req: ReleaseRequest) -> None:
        executor = self.executors.get(req.executor_id)
        if executor is None:
            self._emit(ExecutorReleased(req.executor_id, f"executor {req.executor_id} is not on this node"))
            return
        log.info("releasing executor %s", req.executor_id)
        executor.request_release()

    async def _read_log(self, req: ReadLogRequest) -> None:
        """Answer a log read; the file is read in a worker thread."""
        try:
            reply = await asyncio.to_thread(read_log, self._index, req)
        except Exception as exc:  # answer anyway: the session manager is waiting for this id
            log.exception("reading the log of task %s/%s", req.session_id, req.task_id)
            reply = LogData(req.request_id, error=f"reading the log failed: {type(exc).__name__}: {exc}")
        if not self._closed:
            self._emit(reply)

    async def _stats(self, req: StatsRequest) -> None:
        """Answer a stats request; measured in a worker thread (process table, CPU sample, NVML)."""
        try:
            reply = await asyncio.to_thread(measure, self._index, req, self._fake_gpus)
        except Exception as exc:  # answer anyway: the session manager is waiting for this id
            log.exception("measuring task %s/%s", req.session_id, req.task_id)
            reply = StatsData(req.request_id, error=f"measuring failed: {type(exc).__name__}: {exc}")
        self._emit_open(reply)

    def _emit_open(self, msg: OutboundMessage) -> None:
        if not self._closed:
            self._emit(msg)

    async def close(self) -> None:
        """Terminate every service process of this stream, silently."""
        self._closed = True
        self._execs.close()
        for read in list(self._reads):
            read.cancel()
        executors = list(self.executors.values())
        self.executors.clear()
        if executors:
            log.info("terminating %d executor(s)", len(executors))
        await asyncio.gather(*(e.abort() for e in executors), return_exceptions=True)
