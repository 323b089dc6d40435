"""``MASTER_ADDR`` of a multi-rank job: rank 0 publishes its node's address, the others wait for it.

A job with more than one rank carries :data:`~flamepy.jobs.jobenv.MASTER_ADDR_PLACEHOLDER` in its
environment. Before the command starts, :func:`fill_master_addr`:

- **rank 0** publishes a :class:`Rendezvous` (its node's address — ``FLAME_NODE_ADDRESS``, which
  the executor manager sets from ``--advertise-address`` — the job's ``MASTER_PORT``, its task id
  and the time) under :func:`rendezvous_key` in the object cache, overwriting what an earlier
  attempt published (a re-run of rank 0 republishes; the others read the newest), and uses it;
- **ranks > 0** read that key until it is there or ``FLAME_RENDEZVOUS_TIMEOUT`` seconds (default
  300) have passed; then the task ends as ``SetupFailed`` with "rank 0 of job X did not publish
  its address within N s". The cache has no watch: the wait polls, backing off from 50 ms to 1 s,
  always under that deadline.

Without an object cache (no ``FLAME_CACHE_ENDPOINT``) ranks cannot meet across nodes: on a node
whose address is loopback (every rank is then on this one machine) ``127.0.0.1`` is used with a
warning in the task's log; elsewhere the task is ``SetupFailed`` with the reason. An array job has
one rendezvous per array index. Single-rank jobs never get here (their ``MASTER_ADDR`` is
``127.0.0.1`` already).

Concurrency: called on the job runner's thread; :class:`MemoryStore` is thread-safe.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from flamepy.errors import FlameError, NotFoundError

if TYPE_CHECKING:
    from flamepy.jobs.launch import TaskLaunch

NODE_ADDRESS_ENV = "FLAME_NODE_ADDRESS"
TIMEOUT_ENV = "FLAME_RENDEZVOUS_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0
LOOPBACK = "127.0.0.1"
_FIRST_DELAY_S, _MAX_DELAY_S = 0.05, 1.0

__all__ = [
    "CacheStore",
    "Filled",
    "MemoryStore",
    "Rendezvous",
    "RendezvousStore",
    "fill_master_addr",
    "rendezvous_key",
    "wait_for",
]


@dataclass(frozen=True)
class Rendezvous:
    """What rank 0 publishes: where the others reach it, and which attempt said so."""

    addr: str
    port: int
    task_id: str
    published_ms: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Rendezvous:
        d = json.loads(text)
        return cls(str(d["addr"]), int(d["port"]), str(d["task_id"]), int(d["published_ms"]))


@dataclass(frozen=True)
class Filled:
    """The launch with its ``MASTER_ADDR`` filled (or as it was), why it cannot run (None: it
    can), and notes for the task's log."""

    launch: TaskLaunch
    problem: str | None = None
    warnings: tuple[str, ...] = ()


class RendezvousStore(Protocol):
    """Where rendezvous records live: the object cache, or memory in tests."""

    def publish(self, key: str, record: Rendezvous) -> None: ...

    def read(self, key: str) -> Rendezvous | None: ...


class MemoryStore:
    """A :class:`RendezvousStore` in this process (tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, Rendezvous] = {}

    def publish(self, key: str, record: Rendezvous) -> None:
        with self._lock:
            self._records[key] = record

    def read(self, key: str) -> Rendezvous | None:
        with self._lock:
            return self._records.get(key)


class CacheStore:
    """A :class:`RendezvousStore` in the object cache at ``endpoint`` (one object per key)."""

    def __init__(self, endpoint: str, token: str | None = None, ca_file: str | None = None) -> None:
        from flamepy.cache.client import CacheClient

        self.client = CacheClient(endpoint, token=token, tls_config=ca_file or None, handover=False)

    def publish(self, key: str, record: Rendezvous) -> None:
        self.client.put_object(key, record.to_json())

    def read(self, key: str) -> Rendezvous | None:
        from flamepy.cache.refs import ObjectRef

        try:
            text = self.client.get_object(ObjectRef(self.client.endpoint, key, 0))
        except NotFoundError:
            return None
        return Rendezvous.from_json(str(text))

    def close(self) -> None:
        self.client.close()


def rendezvous_key(job_id: str, array_index: int | None) -> str:
    """``flmexec/<job id>/rendezvous`` (``rendezvous-<i>`` for array index ``i``)."""
    return f"flmexec/{job_id}/rendezvous" + ("" if array_index is None else f"-{array_index}")


def wait_for(
    store: RendezvousStore,
    key: str,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    stopped: Callable[[], bool] = lambda: False,
) -> Rendezvous | None:
    """The record under ``key`` once it is there, or None after ``timeout_s`` seconds or once
    ``stopped()`` (checked between reads, at most a second apart)."""
    deadline = clock() + timeout_s
    delay = _FIRST_DELAY_S
    pause = threading.Event()  # never set: a bounded pause between two reads of the cache
    while True:
        record = store.read(key)
        if record is not None:
            return record
        left = deadline - clock()
        if left <= 0 or stopped():
            return None
        pause.wait(min(delay, left))
        delay = min(delay * 2, _MAX_DELAY_S)


def _timeout(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _store(env: Mapping[str, str]) -> RendezvousStore | None:
    endpoint = env.get("FLAME_CACHE_ENDPOINT")
    return CacheStore(endpoint, env.get("FLAME_TOKEN"), env.get("FLAME_CA_FILE")) if endpoint else None


def _no_note(event: str, text: str) -> None:
    pass


def fill_master_addr(
    launch: TaskLaunch,
    env: Mapping[str, str],
    store: RendezvousStore | None = None,
    given: str | None = None,
    note: Callable[[str, str], None] = _no_note,
    stopped: Callable[[], bool] = lambda: False,
) -> Filled:
    """``launch`` with its ``MASTER_ADDR`` filled as the module docstring says; ``env`` is the
    service's environment; ``store`` defaults to the object cache named there; an address
    ``given`` is used as it is. ``note(event, text)`` records what happens in the task's log;
    ``stopped()`` true (the task is cancelled) ends a wait for rank 0."""
    if not launch.needs_fill:
        return Filled(launch)
    if given:
        return Filled(launch.fill(given))
    node_addr = env.get(NODE_ADDRESS_ENV) or LOOPBACK
    own = store or _store(env)
    if own is None:
        if node_addr.startswith("127."):
            why = f"no object cache is configured: MASTER_ADDR is {LOOPBACK} (all ranks on this node)"
            note("rendezvous", f"warning: {why}")
            return Filled(launch.fill(LOOPBACK), warnings=(why,))
        why = f"no object cache is configured: rank {launch.rank} of job {launch.job_id} cannot meet rank 0"
        return Filled(launch, problem=why)
    try:
        return _meet(launch, env, own, node_addr, note, stopped)
    except FlameError as exc:
        return Filled(launch, problem=f"rendezvous of job {launch.job_id} failed: {exc.message}")
    finally:
        if store is None and isinstance(own, CacheStore):
            own.close()


def _meet(
    launch: TaskLaunch,
    env: Mapping[str, str],
    store: RendezvousStore,
    node_addr: str,
    note: Callable[[str, str], None],
    stopped: Callable[[], bool],
) -> Filled:
    key = rendezvous_key(launch.job_id, launch.array_index)
    if launch.rank == 0:
        port = int(launch.env.get("MASTER_PORT", "0") or 0)
        task_id = env.get("FLAME_TASK_ID", "")
        store.publish(key, Rendezvous(node_addr, port, task_id, int(time.time() * 1000)))
        note("rendezvous", f"rank 0 published MASTER_ADDR {node_addr} (MASTER_PORT {port})")
        return Filled(launch.fill(node_addr))
    limit = _timeout(env)
    note("rendezvous", f"waiting up to {limit:g} s for rank 0 of job {launch.job_id} to publish its address")
    record = wait_for(store, key, limit, stopped=stopped)
    if record is None:
        if stopped():
            return Filled(launch, problem=f"cancelled while waiting for rank 0 of job {launch.job_id}")
        why = f"rank 0 of job {launch.job_id} did not publish its address within {limit:g} s"
        return Filled(launch, problem=why)
    note("rendezvous", f"MASTER_ADDR {record.addr} (published by rank 0, task {record.task_id or '?'})")
    return Filled(launch.fill(record.addr))
