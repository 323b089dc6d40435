"""Requests to a node over its Attach stream, answered by messages with the same request id.

The shell sends a node a command carrying a fresh ``request_id`` (a log read, a stats probe, an
exec) and waits for the node's answers to that id: :meth:`NodeRequests.ask` for one answer,
:meth:`NodeRequests.stream` for several (until one says it is the last). Every wait has a
deadline (UNAVAILABLE naming the node when it passes), and a wait whose node's stream ends fails
at once. Answers for an id nobody waits for (late, or sent by another node) are dropped. Nothing
here runs on the task path: no state beyond the waits in progress, no records.

Users: ``task_logs`` (``ReadTaskLog``), ``task_probes`` (``GetTaskStats``, ``ExecInTask``).

Concurrency model: used only from the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncGenerator, Callable
from typing import Protocol, TypeVar

from flamepy.errors import UnavailableError
from session_manager import effects
from session_manager.links import NodeLink


class Reply(Protocol):
    @property
    def request_id(self) -> int: ...


R = TypeVar("R", bound=Reply)


class NodeRequests:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[NodeLink, asyncio.Queue[Reply | BaseException], str]] = {}

    async def ask(
        self,
        link: NodeLink,
        command: Callable[[int], effects.Command],
        kind: type[R],
        timeout: float,
        what: str,
    ) -> R:
        """Send ``command(request_id)`` to the node and return its one answer (``what`` names the
        request in errors: "the log of task s/1")."""
        replies = self.stream(link, command, kind, timeout, what, last=lambda _r: True)
        async with contextlib.aclosing(replies):  # the wait is forgotten now, not when collected
            async for reply in replies:
                return reply
        raise AssertionError("unreachable: stream ends only after an answer")  # pragma: no cover

    async def stream(
        self,
        link: NodeLink,
        command: Callable[[int], effects.Command],
        kind: type[R],
        timeout: float,
        what: str,
        last: Callable[[R], bool],
        stop: Callable[[int], effects.Command] | None = None,
    ) -> AsyncGenerator[R, None]:
        """Send ``command(request_id)`` and yield the node's answers until ``last`` says one is,
        all within ``timeout`` seconds. Left early (the caller went away), ``stop(request_id)``
        is sent to the node when given."""
        rid = next(self._ids)
        queue: asyncio.Queue[Reply | BaseException] = asyncio.Queue()
        self._pending[rid] = (link, queue, what)
        link.queue.put_nowait(command(rid))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        finished = False
        try:
            while not finished:
                try:  # no timeout context around the yield: it would cancel the consumer instead
                    reply = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                except TimeoutError as exc:
                    raise UnavailableError(
                        f"node {link.name} did not answer for {what} within {timeout:g}s"
                    ) from exc
                if isinstance(reply, BaseException):
                    raise reply
                assert isinstance(reply, kind), f"node answered {type(reply).__name__} to {kind.__name__}"
                finished = last(reply)
                yield reply
        finally:
            self._pending.pop(rid, None)
            if not finished and stop is not None:
                link.queue.put_nowait(stop(rid))

    def answer(self, link: NodeLink, reply: Reply) -> None:
        """A node's answer: goes to the wait for its id (a late or foreign one is dropped)."""
        entry = self._pending.get(reply.request_id)
        if entry is not None and entry[0] is link:
            entry[1].put_nowait(reply)

    def link_ended(self, link: NodeLink) -> None:
        """The node's stream ended: every wait on it fails now."""
        for rid, (owner, queue, what) in list(self._pending.items()):
            if owner is link:
                queue.put_nowait(
                    UnavailableError(f"the stream of node {link.name} ended before it sent {what}")
                )
                del self._pending[rid]
