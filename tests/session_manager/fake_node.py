"""A scripted executor manager speaking the Backend protocol over a real gRPC stream (tests only).

It answers bind_executor with executor_bound and runs every invoke_task through ``handler``
(input bytes → (return_code, output, message)), on its own thread with a sync gRPC client. A
read_log is answered from ``logs`` (``(session, task)`` → bytes; missing: not_found), unless
``answer_logs`` is False (a node that never answers). A task whose input is in ``hold`` is never
answered (it stays Running); task_stats is answered from ``stats`` and exec_start with the
``execs`` chunks of the task (both: not_found when missing; an exec whose chunks have no ``done``
one stays open).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import grpc

from flamepy.proto import backend_pb2 as be
from flamepy.proto import backend_pb2_grpc
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import types_pb2 as pb
from tests.support import channel

Handler = Callable[[bytes | None], tuple[int, bytes | None, str | None]]


def echo(data: bytes | None) -> tuple[int, bytes | None, str | None]:
    if data == b"fail":
        return 1, None, "boom: service failed"
    return 0, data, None


class FakeNode:
    def __init__(
        self,
        target: str,
        name: str = "node-1",
        cpus: int = 2,
        handler: Handler = echo,
        bind_error: str | None = None,
    ) -> None:
        self.target, self.name, self.cpus = target, name, cpus
        self.handler, self.bind_error = handler, bind_error
        self.outbox: queue.SimpleQueue[be.NodeMessage | None] = queue.SimpleQueue()
        self.received: list[be.ManagerMessage] = []
        self.registered = threading.Event()
        self.logs: dict[tuple[str, str], bytes] = {}
        self.answer_logs = True
        self.hold: set[bytes] = set()
        self.stats: dict[tuple[str, str], be.TaskStats] = {}
        self.execs: dict[tuple[str, str], list[ext.ExecChunk]] = {}
        self._channel = channel(target, "node")  # with the node token of a token-auth server
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FakeNode:
        node = pb.Node(
            metadata=pb.Metadata(id=self.name, name=self.name),
            spec=pb.NodeSpec(hostname=self.name),
            status=pb.NodeStatus(
                state=pb.Ready,
                capacity=pb.ResourceRequirement(cpu=self.cpus, memory=8 << 30),
                allocatable=pb.ResourceRequirement(cpu=self.cpus, memory=8 << 30),
            ),
        )
        self.outbox.put(be.NodeMessage(register=be.RegisterNode(node=node, shims=[pb.Host])))
        self._thread.start()
        assert self.registered.wait(10), "node never registered"
        return self

    def stop(self) -> None:
        self.outbox.put(None)
        self._channel.close()
        self._thread.join(10)

    def _requests(self):
        while True:
            msg = self.outbox.get()
            if msg is None:
                return
            yield msg

    def _run(self) -> None:
        stub = backend_pb2_grpc.BackendStub(self._channel)
        try:
            for msg in stub.Attach(self._requests()):
                self.received.append(msg)
                self._on(msg)
        except grpc.RpcError:
            pass

    def _on(self, msg: be.ManagerMessage) -> None:
        kind = msg.WhichOneof("msg")
        if kind == "registered":
            self.registered.set()
        elif kind == "bind_executor":
            eid = msg.bind_executor.executor_id
            if self.bind_error:
                self.outbox.put(
                    be.NodeMessage(bind_failed=be.BindFailed(executor_id=eid, message=self.bind_error))
                )
            else:
                self.outbox.put(be.NodeMessage(executor_bound=be.ExecutorBound(executor_id=eid)))
        elif kind == "invoke_task":
            if msg.invoke_task.task.input not in self.hold:
                self.outbox.put(be.NodeMessage(task_result=self._run_task(msg.invoke_task)))
        elif kind == "invoke_tasks":  # a batch: answered as one batch too
            runs = [inv for inv in msg.invoke_tasks.tasks if inv.task.input not in self.hold]
            outcomes = [self._run_task(inv) for inv in runs]
            if outcomes:
                self.outbox.put(be.NodeMessage(task_results=be.TaskOutcomes(outcomes=outcomes)))
        elif kind in ("task_stats", "exec_start"):
            self._probe(msg)
        elif kind == "read_log" and self.answer_logs:
            self.outbox.put(be.NodeMessage(log_data=self._read_log(msg.read_log)))
        elif kind == "release_executor":
            eid = msg.release_executor.executor_id
            self.outbox.put(be.NodeMessage(executor_released=be.ExecutorReleased(executor_id=eid)))

    def _probe(self, msg: be.ManagerMessage) -> None:
        if msg.WhichOneof("msg") == "task_stats":
            p = msg.task_stats
            stats = self.stats.get((p.session_id, p.task_id))
            data = be.StatsData(request_id=p.request_id, not_found=stats is None)
            if stats is not None:
                data.stats.CopyFrom(stats)
            self.outbox.put(be.NodeMessage(stats_data=data))
            return
        e = msg.exec_start
        chunks = self.execs.get((e.session_id, e.task_id))
        if chunks is None:
            out = be.ExecOutput(request_id=e.request_id, not_found=True, chunk=ext.ExecChunk(done=True))
            self.outbox.put(be.NodeMessage(exec_output=out))
        for chunk in chunks or ():
            self.outbox.put(be.NodeMessage(exec_output=be.ExecOutput(request_id=e.request_id, chunk=chunk)))

    def _read_log(self, req: be.ReadLog) -> be.LogData:
        data = self.logs.get((req.session_id, req.task_id))
        if data is None:
            return be.LogData(request_id=req.request_id, not_found=True, error="no such log here")
        start = min(req.offset, len(data))
        piece = data[start : start + req.max_bytes]
        end = start + len(piece)
        return be.LogData(
            request_id=req.request_id, data=piece, offset=start, next_offset=end, eof=end >= len(data),
            size=len(data),
        )  # fmt: skip

    def _run_task(self, inv: be.InvokeTask) -> be.TaskOutcome:
        t = inv.task
        rc, out, err = self.handler(t.input if t.HasField("input") else None)
        res = be.TaskOutcome(
            executor_id=inv.executor_id, session_id=t.session_id, task_id=t.task_id, return_code=rc
        )
        if out is not None:
            res.output = out
        if err is not None:
            res.message = err
        return res
