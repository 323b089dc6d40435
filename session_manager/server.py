"""The session manager process: the asyncio shell around the sans-IO broker core.

Concurrency model: one asyncio event loop owns the ``Broker`` and every gRPC handler; the only
other thread is the storage writer (group commit). After each core call the shell drains the
outbox: commands go to the executor managers' streams at once, records go to the writer, and task
notifications are published when their records are durable. Scheduling passes run in one loop
task, woken by an event (work changed) or by a timer the scheduler asks for — never by polling.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc

from flamepy.errors import NotFoundError
from flamepy.proto import backend_pb2_grpc, extensions_pb2_grpc, frontend_pb2_grpc
from flamepy.types import Task
from session_manager import effects
from session_manager.config import ServerConfig
from session_manager.core import Broker
from session_manager.defaults import default_applications
from session_manager.local import LocalServer, local_socket_path
from session_manager.persist import GroupCommitWriter, LoopCommitter
from session_manager.storage import Storage, open_storage
from session_manager.watchers import Watchers

log = logging.getLogger(__name__)
T = TypeVar("T")
LIST_CHUNK = 1000  # tasks read from storage at once by ListTask


@dataclass(eq=False)
class NodeLink:
    """The outbound half of one executor manager's Attach stream."""

    name: str
    queue: asyncio.Queue[effects.Command | None] = field(default_factory=asyncio.Queue)

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def next_batch(self) -> list[effects.Command] | None:
        """Every command queued now (at least one, waiting for it), or None once closed."""
        first = await self.queue.get()
        if first is None:
            return None
        ready = [first]
        while not self.queue.empty():
            cmd = self.queue.get_nowait()
            if cmd is None:
                self.queue.put_nowait(None)  # send what we have, end on the next call
                break
            ready.append(cmd)
        return ready


class SessionManager:
    def __init__(self, config: ServerConfig, storage: Storage | None = None) -> None:
        self.config = config
        self.broker = Broker(default_delay_release=config.default_delay_release, prefetch=config.prefetch)
        self.watchers = Watchers()
        self.links: dict[str, NodeLink] = {}
        self._storage = storage or open_storage(config.storage, config.data_dir, config.sync)
        self._writer: GroupCommitWriter | LoopCommitter | None = None
        self._server: grpc.aio.Server | None = None
        self._kick = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._scheduler_task: asyncio.Task[None] | None = None
        self.local: LocalServer | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        from session_manager.backend import BackendServicer
        from session_manager.frontend import FrontendServicer
        from session_manager.frontend_ext import FrontendExtServicer

        loop = asyncio.get_running_loop()
        snap = self._storage.load()
        self.broker.restore(snap.apps, snap.sessions, snap.tasks, snap.finished)
        self.broker.ensure_default_apps(default_applications())
        slow_commits = self.config.storage == "sqlite" and self.config.sync == "full"
        self._writer = (GroupCommitWriter if slow_commits else LoopCommitter)(self._storage, loop)
        self._writer.start()
        await self._flush()
        log.info(
            "recovered %d applications, %d sessions, %d unfinished tasks (%d finished)",
            len(snap.apps),
            len(snap.sessions),
            len(snap.tasks),
            sum(sum(c.values()) for c in snap.finished.values()),
        )

        limit = self.config.max_message_bytes
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
                # notice dead executor managers / clients on idle streams
                ("grpc.keepalive_time_ms", 20_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ]
        )
        frontend_pb2_grpc.add_FrontendServicer_to_server(FrontendServicer(self), self._server)
        extensions_pb2_grpc.add_FrontendExtServicer_to_server(FrontendExtServicer(self), self._server)
        backend = BackendServicer(self)
        backend_pb2_grpc.add_BackendServicer_to_server(backend, self._server)
        self.port = self._server.add_insecure_port(f"{self.config.host}:{self.config.port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
        local_path = local_socket_path(self.config.local_socket, self.config.data_dir)
        if local_path is not None:
            self.local = LocalServer(self, backend, local_path)
            await self.local.start()
        await self._server.start()
        self._scheduler_task = asyncio.create_task(self._schedule_loop(), name="scheduler")
        if self.config.port_file:
            _write_atomic(Path(self.config.port_file), str(self.port))
        log.info("session manager listening on %s:%d", self.config.host, self.port)
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        for link in list(self.links.values()):
            link.close()
        if self.local is not None:
            await self.local.stop()
        if self._server is not None:
            await self._server.stop(grace)
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
        self._storage.close()
        log.info("session manager stopped")

    async def __aenter__(self) -> SessionManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def frontend_endpoint(self) -> str:
        if self.config.advertised_endpoint:
            return self.config.advertised_endpoint
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "[::]") else self.config.host
        return f"http://{host}:{self.port}"

    # -- running core operations -------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run a core operation and return once its records are durable (for client RPCs)."""
        result = fn(*args)
        await self._flush()
        return result

    def react(self, fn: Callable[..., object], *args: object) -> None:
        """Run a core operation for an executor-manager event; persist without waiting."""
        fn(*args)
        self._flush()

    def _flush(self) -> asyncio.Future[None]:
        out = self.broker.drain()
        for cmd in out.commands:
            link = self.links.get(cmd.node)
            if link is not None:
                link.queue.put_nowait(cmd)
        if self.broker.schedule_needed:
            self._kick.set()
        assert self._writer is not None
        fut = self._writer.submit(out.records)
        if out.tasks_changed or out.sessions_drained:
            fut.add_done_callback(lambda f: None if f.exception() else self._committed(out))
        return fut

    def _committed(self, out: effects.Outbox) -> None:
        self.watchers.publish(out)
        self.broker.forget_finished(out.tasks_changed)

    # -- reading tasks (finished ones from storage) --------------------------------------------

    def task(self, sid: str, tid: str) -> Task:
        rec = self.broker.find_task(sid, tid)
        if rec is not None:
            return rec.snapshot()
        found = self._storage.load_tasks(sid, int(tid), int(tid))
        if not found:
            raise NotFoundError(f"task {tid!r} not found in session {sid!r}")
        return found[0]

    def tasks(self, sid: str) -> Iterator[Task]:
        """Every task of the session in id order, read from storage a chunk at a time."""
        ses = self.broker.get_session(sid)
        end = ses.next_task_id
        for first in range(1, end, LIST_CHUNK):
            last = min(first + LIST_CHUNK, end) - 1
            stored = {int(t.id): t for t in self._storage.load_tasks(sid, first, last)}
            # the whole chunk at once: a task forgotten while the caller streams cannot show up
            # with the older state read from storage before it finished
            chunk = []
            for num in range(first, last + 1):
                rec = ses.tasks.get(num)
                if rec is not None:
                    chunk.append(rec.snapshot())
                elif num in stored:
                    chunk.append(stored[num])
            yield from chunk

    # -- nodes -------------------------------------------------------------------------------

    def attach(self, link: NodeLink) -> None:
        old = self.links.get(link.name)
        if old is not None:
            log.warning("node %s re-attached: replacing its previous stream", link.name)
            old.close()
        self.links[link.name] = link

    def detach(self, link: NodeLink) -> None:
        if self.links.get(link.name) is link:
            del self.links[link.name]
            self.react(self.broker.node_lost, link.name)

    # -- scheduling --------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                wake_in = self.broker.schedule()
            except Exception:
                log.exception("scheduling pass failed")
                wake_in = 1.0
            self._flush()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if wake_in is not None:
                self._timer = loop.call_later(wake_in + 0.01, self._kick.set)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
