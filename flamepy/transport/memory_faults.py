"""Parts of :class:`~flamepy.transport.memory.MemoryTransport`: the faults a test injects into its
calls (:class:`FaultInjection`) and its fixed view of the cluster, one node and one executor
(:class:`ClusterView`).

Faults: ``fail[name] = error`` makes every call of ``name`` raise; ``faults[name] = [error, ...]``
makes its next calls raise, one error each; ``lost_replies[name] = [error, ...]`` lets its next calls
do their work and then raise (the answer lost on the way back, as when a server dies after its
commit). ``counters[name]`` counts the calls.

Concurrency model: the transport's; these methods run under its ``cond``.
"""

from __future__ import annotations

import threading
from collections import Counter

from flamepy.errors import FlameError, InvalidStateError, NotFoundError
from flamepy.types import Executor, ExecutorState, Node, NodeState, ResourceRequirement

NODE = Node(
    name="n1",
    hostname="n1",
    state=NodeState.READY,
    capacity=ResourceRequirement(cpu=4, memory=1 << 30, gpu=1),
    allocatable=ResourceRequirement(cpu=4, memory=1 << 30, gpu=1),
)
EXECUTOR = Executor(id="e1", node="n1", state=ExecutorState.IDLE, resreq=ResourceRequirement(cpu=1))


class FaultInjection:
    endpoint: str
    _closed: bool

    def init_faults(self) -> None:
        self.counters: Counter[str] = Counter()
        self.fail: dict[str, FlameError] = {}
        self.faults: dict[str, list[FlameError]] = {}
        self.lost_replies: dict[str, list[FlameError]] = {}

    def _enter(self, method: str) -> None:
        """Count the call; raise what the test asked for, or that the transport is closed."""
        if self._closed:
            raise InvalidStateError(f"{method}: the connection to {self.endpoint} is closed")
        self.counters[method] += 1
        err = self.fail.get(method)
        if err is not None:
            raise err
        pending = self.faults.get(method)
        if pending:
            raise pending.pop(0)

    def _lose_reply(self, method: str) -> None:
        """After the work of ``method`` is done: raise the next error of ``lost_replies[method]``."""
        pending = self.lost_replies.get(method)
        if pending:
            raise pending.pop(0)


class ClusterView:
    cond: threading.Condition

    def _enter(self, method: str) -> None: ...

    def list_executors(self) -> list[Executor]:
        with self.cond:
            self._enter("list_executors")
            return [EXECUTOR]

    def list_nodes(self) -> list[Node]:
        with self.cond:
            self._enter("list_nodes")
            return [NODE]

    def get_node(self, name: str) -> Node:
        with self.cond:
            self._enter("get_node")
            if name != NODE.name:
                raise NotFoundError(f"get node {name!r}: node {name} not found")
            return NODE
