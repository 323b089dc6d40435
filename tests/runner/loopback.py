"""A stand-in for ``flamepy.Session`` that runs each task on a real ``RunnerRuntime`` in-process
(worker threads, a MemoryStore), so the Runner's client and service sides meet without a cluster."""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flamepy.errors import InternalError, InvalidStateError
from flamepy.runner import codec
from flamepy.runner.codec import ServiceSpec
from flamepy.runner.runner import RunnerService
from flamepy.runner.runpy import RunnerRuntime
from flamepy.runner.service import kind_of, public_methods
from flamepy.runner.store import MemoryStore
from flamepy.service import ApplicationContext, SessionContext, TaskContext

APP = "loop"


class LoopbackSession:
    def __init__(self, session_id: str, common_data: bytes, store: MemoryStore, workers: int = 1) -> None:
        self.application = APP
        self.id = session_id
        self.runtimes = [RunnerRuntime(store_factory=lambda: store) for _ in range(workers)]
        for rt in self.runtimes:
            rt.on_session_enter(SessionContext(common_data, session_id, ApplicationContext(APP)))
        self._free = list(self.runtimes)
        self._pool = ThreadPoolExecutor(workers)
        self._ids = itertools.count(1)
        self.inputs: list[bytes | None] = []
        self.closed = False

    def run(self, data: bytes | None) -> Future:
        if self.closed:
            raise InvalidStateError(f"session {self.id!r} is closed")
        self.inputs.append(data)
        return self._pool.submit(self._invoke, str(next(self._ids)), data)

    def _invoke(self, task_id: str, data: bytes | None) -> bytes | None:
        runtime = self._free.pop()
        try:
            return runtime.on_task_invoke(TaskContext(task_id, self.id, data))
        except Exception as exc:  # what the executor + session manager make of a failed task
            raise InternalError(
                f"task {task_id} of session {self.id} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            self._free.append(runtime)

    def close(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=True)


def make_service(
    obj: Any, store: MemoryStore, workers: int = 1, session_id: str = "ssn-1"
) -> tuple[RunnerService, LoopbackSession, ServiceSpec]:
    kind = kind_of(obj)
    spec = ServiceSpec(kind, "obj", store.put(f"{APP}/{session_id}", obj), None)
    session = LoopbackSession(session_id, codec.encode(spec), store, workers)
    submitter = ThreadPoolExecutor(1)
    svc = RunnerService.attach(session, kind, "obj", public_methods(obj, kind), store, submitter)
    return svc, session, spec
