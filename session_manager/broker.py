"""The session manager's application API: one typed method per thing a transport can ask.

:class:`Broker` is the asyncio shell around the sans-IO core (``session_manager.core.Core``): every
servicer (gRPC Frontend, FrontendExt, Backend) and the local socket transport call only this.
It turns each call into one core event, then drains the core's outbox: records go to the
group-commit writer (``persist``); commands to the nodes' streams (``links``) and task changes to
watchers follow in the loop turn the records became durable, never before. A client's call returns
after its records are committed; a node's report commits at once, without waiting. A failed commit
fails its callers (RESOURCE_EXHAUSTED or UNAVAILABLE with the cause) and re-syncs memory from disk
(``resync``). Scheduling passes run in one loop task, woken (``kick``, coalesced) when work changed
or by a timer the scheduler asks for, never by polling; that loop also asks the core whether some
node can hold each session (``CheckResources``) when nodes or sessions came or went, and on the
core's timer while a session waits out its grace. One asyncio loop; the storage writer's thread.

What it hands out is public data (``flamepy.types`` and :class:`SessionInfo`), never the core's
records. A new RPC is one method here (plus an event and handler in the core when it changes
state); heartbeat liveness is a timer beside the scheduler's (``CheckLiveness``). Reading tasks
(finished ones from storage) and watching them live in ``tasks_view``; reading a job task's log
from its node in ``task_logs``; its stats and commands run beside it in ``task_probes``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from flamepy.errors import NotFoundError
from flamepy.tasklog import TaskLogChunk
from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import Application, ApplicationAttributes, Executor, Node, SessionAttributes, Task
from session_manager import effects, events, resync
from session_manager.config import ServerConfig
from session_manager.core import Core, CoreState
from session_manager.kick import Kick
from session_manager.links import Links, NodeLink
from session_manager.model import RetryPolicy, SessionInfo
from session_manager.node_requests import NodeRequests
from session_manager.persist import GroupCommitWriter, LoopCommitter
from session_manager.storage.base import Storage
from session_manager.task_logs import TaskLogs
from session_manager.task_probes import TaskProbes
from session_manager.tasks_view import SessionWatch, TasksView
from session_manager.watchers import Watchers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalEndpoint:
    """The same-host socket (``session_manager.local``) and the token that proves a peer asked us."""

    path: Path
    token: str


@dataclass(frozen=True)
class Endpoints:
    """What the broker tells executor managers and clients about where to reach things."""

    frontend: str = ""
    cache: str = ""
    local: LocalEndpoint | None = None


class Broker:
    def __init__(self, config: ServerConfig, storage: Storage) -> None:
        self.config = config
        self.core = self._new_core()
        self.endpoints = Endpoints(cache=config.cache_endpoint or "")
        self._storage = storage
        self._watchers = Watchers()
        self._links = Links()
        self._tasks = TasksView(self.core, storage, self._watchers)
        self._requests = NodeRequests()
        self._logs = TaskLogs(self._links, storage, config.node_log_timeout, self._requests)
        self.probes = TaskProbes(self._links, self._requests, config.node_log_timeout)
        self._writer: GroupCommitWriter | LoopCommitter | None = None
        self._kick = Kick()
        self._resources_timer: asyncio.TimerHandle | None = None
        self._liveness_timer: asyncio.TimerHandle | None = None
        self._scheduler_task: asyncio.Task[None] | None = None
        self.on_fatal: Callable[[], None] = resync.stop_process  # storage unreadable after a failure

    def _new_core(self) -> Core:
        config = self.config
        return Core(
            CoreState(
                default_delay_release=config.default_delay_release,
                prefetch=config.prefetch,
                max_bind_failures=config.max_bind_failures,
                unschedulable_timeout=config.unschedulable_timeout,
                retry=RetryPolicy(max(0, config.max_retries), config.retry_on_error, config.task_timeout),
                node_timeout=config.node_timeout,
                stop_timeout=config.stop_timeout,
            )
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from storage, start the writer and the scheduler loop."""
        loop = asyncio.get_running_loop()
        snap = self._storage.load()
        self.core.handle(resync.recover_event(snap))
        slow_commits = self.config.storage == "sqlite" and self.config.sync == "full"
        self._writer = (GroupCommitWriter if slow_commits else LoopCommitter)(self._storage, loop)
        self._writer.on_failure = self._storage_failed
        self._writer.start()
        await self._flush()
        finished = sum(sum(c.values()) for c in snap.finished.values())
        counts = (len(snap.apps), len(snap.sessions), len(snap.tasks), finished)
        log.info("recovered %d applications, %d sessions, %d unfinished tasks (%d finished)", *counts)
        self._scheduler_task = asyncio.create_task(self._schedule_loop(), name="scheduler")
        self._check_liveness()

    def end_streams(self) -> None:
        """Close every node's stream (first step of shutting down)."""
        self._links.close_all()

    async def close(self) -> None:
        """Stop scheduling, commit what is queued, close storage."""
        self._links.close_all()
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
        self._kick.cancel()
        for timer in (self._resources_timer, self._liveness_timer):
            if timer is not None:
                timer.cancel()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
        self._storage.close()

    # -- applications ------------------------------------------------------------------------

    async def register_application(self, name: str, attrs: ApplicationAttributes) -> None:
        self.core.handle(events.RegisterApplication(name, attrs))
        await self._flush()

    async def update_application(self, name: str, attrs: ApplicationAttributes) -> None:
        self.core.handle(events.UpdateApplication(name, attrs))
        await self._flush()

    async def unregister_application(self, name: str) -> None:
        self.core.handle(events.UnregisterApplication(name))
        await self._flush()

    def get_application(self, name: str) -> Application:
        return self.core.get_application(name).snapshot()

    def list_applications(self) -> list[Application]:
        return [a.snapshot() for a in self.core.applications()]

    # -- nodes and executors -----------------------------------------------------------------

    def list_nodes(self) -> list[Node]:
        return [n.snapshot() for n in self.core.nodes()]

    def get_node(self, name: str) -> Node:
        node = self.core.get_node(name)
        if node is None:
            raise NotFoundError(f"node {name!r} not found")
        return node.snapshot()

    def list_executors(self) -> list[Executor]:
        return [e.snapshot() for e in self.core.executors()]

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(self, attrs: SessionAttributes) -> SessionInfo:
        ses = self.core.handle(events.CreateSession(attrs))
        await self._flush()
        return ses.info()

    async def open_session(self, sid: str, attrs: SessionAttributes | None) -> SessionInfo:
        ses = self.core.handle(events.OpenSession(sid, attrs))
        await self._flush()
        return ses.info()

    async def close_session(self, sid: str) -> SessionInfo:
        return (await self.apply(events.CloseSession(sid))).info()

    async def delete_session(self, sid: str) -> SessionInfo:
        return (await self.apply(events.DeleteSession(sid))).info()

    async def set_retry_policy(
        self, kind: str, name: str, max_retries: int | None, retry_on_error: bool | None,
        task_timeout: float | None = None,
    ) -> RetryPolicy:  # fmt: skip
        """Set an application's or a session's retry policy (``task_timeout`` 0 clears the task
        timeout); returns the one now in effect."""
        return await self.apply(events.SetRetryPolicy(kind, name, max_retries, retry_on_error, task_timeout))

    async def apply(self, event: events.Stimulus[events.R]) -> events.R:
        """Apply one setting (``SetSessionPlacement``...) and flush its effects; its answer."""
        answer = self.core.handle(event)
        await self._flush()
        return answer

    def get_session(self, sid: str) -> SessionInfo:
        return self.core.get_session(sid).info()

    def list_sessions(self) -> list[SessionInfo]:
        return [s.info() for s in self.core.sessions()]

    # -- tasks -------------------------------------------------------------------------------

    async def create_task(self, sid: str, data: bytes | None) -> Task:
        """One task; returns its state once it is durable."""
        (rec,) = self.core.handle(events.CreateTasks(sid, (data,)))
        await self._flush()
        return rec.snapshot()

    async def create_tasks(self, sid: str, inputs: Sequence[bytes | None]) -> list[str]:
        """Tasks in order; returns their ids once they are durable."""
        recs = self.core.handle(events.CreateTasks(sid, inputs))
        await self._flush()
        return [r.task_id for r in recs]

    async def create_keyed_tasks(
        self, sid: str, inputs: Sequence[bytes | None], keys: Sequence[str | None]
    ) -> list[str]:
        """Tasks in order, an input whose idempotency key was seen before in the session giving the
        id of the task made with it; returns their ids once they are durable."""
        ids = self.core.handle(events.CreateKeyedTasks(sid, inputs, keys))
        await self._flush()
        return ids

    async def run_task(self, sid: str, data: bytes | None, key: str | None = None) -> Task:
        """Create one task and return its terminal state (see :meth:`start_task`)."""
        return await self._tasks.final(sid, await self.start_task(sid, data, key))

    async def start_task(self, sid: str, data: bytes | None, key: str | None = None) -> str:
        """Create one task; its id once durable. With an idempotency ``key`` the session has seen
        (a repeated RunTask, also after a restart), no task is created: the id is the one made with
        that key."""
        if key:
            (tid,) = self.core.handle(events.CreateKeyedTasks(sid, (data,), (key,)))
        else:
            (rec,) = self.core.handle(events.CreateTasks(sid, (data,)))
            tid = rec.task_id
        await self._flush()
        return tid

    def when_final(self, sid: str, tid: str, callback: Callable[[Task], None]) -> Callable[[], None]:
        """``callback(task)`` with the task's terminal state once it is durable, called as it is
        published (at once when it already is); returns a function that forgets the callback."""
        return self._tasks.when_final(sid, tid, callback)

    def get_task(self, sid: str, tid: str) -> Task:
        return self._tasks.get(sid, tid)

    async def cancel_task(self, sid: str, tid: str, reason: str) -> Task:
        """Cancel a pending or running task (a running one's executor stops its service); a
        finished one is returned as it is."""
        snap = self.core.handle(events.CancelTask(sid, tid, reason))
        await self._flush()
        return snap if snap is not None else self._tasks.get(sid, tid)

    async def read_task_log(self, sid: str, tid: str, offset: int, max_bytes: int) -> TaskLogChunk:
        """Bytes of a job task's log, read from the node that ran its latest attempt."""
        return await self._logs.read(self.core, sid, tid, offset, max_bytes)

    async def task_stats(self, sid: str, tid: str) -> TaskStats:
        return await self.probes.stats(self.core, sid, tid)  # measured on the task's node

    def exec_in_task(
        self, sid: str, tid: str, argv: tuple[str, ...], timeout_s: float
    ) -> AsyncGenerator[ExecChunk, None]:
        """Run ``argv`` beside a running job task on its node: its output, then its exit code."""
        return self.probes.exec(self.core, sid, tid, argv, timeout_s)

    def list_tasks(self, sid: str) -> Iterator[Task]:
        """Every task of the session in id order (finished ones read from storage in chunks)."""
        return self._tasks.list(sid)

    def watch_task(self, sid: str, tid: str) -> AsyncIterator[Task]:
        """Every state change of one task; ends right after its terminal state."""
        return self._tasks.watch(sid, tid)

    def watch_session(self, sid: str) -> SessionWatch | None:
        """The session's terminal tasks from now on, until it is drained; None if it already is."""
        return self._tasks.watch_session(sid)

    # -- executor managers -------------------------------------------------------------------

    def attach_node(self, registered: events.NodeRegistered) -> NodeLink:
        """A node's stream began: commands for it go to the returned link from now on. Raises
        AlreadyExistsError (nothing changed) while a stream of a node of that name is live."""
        self.core.handle(registered)
        link = self._links.attach(registered.node)
        self._flush()
        return link

    def node_event(self, event: events.NodeEvent) -> None:
        """A message from a node: applied now, persisted without waiting."""
        self.core.handle(event)
        self._flush(now=True)

    def node_reply(self, link: NodeLink, reply: events.NodeReply) -> None:
        """A node answered a request of the shell (log read, stats, exec output)."""
        self._requests.answer(link, reply)

    def detach_node(self, link: NodeLink) -> None:
        """The node's stream ended (unless a newer stream of the same node replaced it)."""
        self._requests.link_ended(link)
        if self._links.detach(link):
            self.node_event(events.NodeLost(link.name))

    # -- draining the core's outbox ----------------------------------------------------------

    def _flush(self, best_effort: bool = False, now: bool = False) -> asyncio.Future[None]:
        out = self.core.drain()
        if self.core.schedule_needed:
            self._kick.soon()
        assert self._writer is not None
        announce = out.commands or out.tasks_changed or out.sessions_drained
        after = partial(self._committed, out) if announce else None
        return self._writer.submit(out.records, after, best_effort, now=now or bool(out.commands))

    def _committed(self, out: effects.Outbox) -> None:
        """The outbox's records are durable: its commands go to the nodes, its changes to watchers."""
        if out.commands:
            self._links.send(out.commands)
        if out.tasks_changed or out.sessions_drained:
            self._watchers.publish(out)
            self.core.handle(events.TasksDurable(out.tasks_changed))

    def _storage_failed(self, error: BaseException, must_resync: bool) -> None:
        """A commit failed (its callers got the error, nothing of it ran or was announced): memory
        is rebuilt from disk and every node's stream closed (``resync``); or the process stops."""
        if not must_resync:  # only records that the next reload re-derives anyway
            log.warning("storage still failing (%s: %s)", type(error).__name__, error)
            return
        log.error("storage commit failed (%s: %s): re-syncing from storage", type(error).__name__, error)
        try:
            core = resync.reload(self._storage, self._new_core)
        except Exception:
            log.exception("re-reading the storage failed")
            self.on_fatal()
            return
        self.core = core
        self._tasks = TasksView(core, self._storage, self._watchers)
        self._links.close_all()
        self._flush(best_effort=True)

    async def _schedule_loop(self) -> None:
        while True:
            await self._kick.wait()
            if self.core.resources_check_needed:
                self._check_resources()
            try:
                wake_in = self.core.handle(events.SchedulePass())
            except Exception:
                log.exception("scheduling pass failed")
                wake_in = 1.0
            self._flush()
            self._kick.after(None if wake_in is None else wake_in + 0.01)

    def _check_liveness(self) -> None:
        """Declare silent nodes lost, re-armed for when the next node could time out (else after a
        node timeout); task-timeout and release backstops (``CheckDeadlines``) ride on this timer."""
        self._liveness_timer = None
        try:
            wake_in = self.core.handle(events.CheckLiveness())
            due = self.core.handle(events.CheckDeadlines())
        except Exception:
            log.exception("liveness check failed")
            wake_in = due = 1.0
        self._flush()
        if due is not None:
            wake_in = due if wake_in is None else min(wake_in, due)
        delay = self.core.node_timeout if wake_in is None else wake_in
        loop = asyncio.get_running_loop()
        self._liveness_timer = loop.call_later(delay + 0.05, self._check_liveness)

    def _check_resources(self) -> None:
        """Can some node hold each open session? Run when nodes or sessions came or went (from the
        scheduler loop) and on the timer the core asks for while a session waits out its grace."""
        if self._resources_timer is not None:
            self._resources_timer.cancel()
            self._resources_timer = None
        try:
            wake_in = self.core.handle(events.CheckResources())
        except Exception:
            log.exception("resource check failed")
            wake_in = 1.0
        self._flush()
        if wake_in is not None:
            loop = asyncio.get_running_loop()
            self._resources_timer = loop.call_later(wake_in + 0.01, self._check_resources)
