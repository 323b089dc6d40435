"""What a started local cluster records about itself, so that another process can find and stop it.

``<data_dir>/cluster.json`` holds a :class:`ClusterState`: the endpoints and one
:class:`~flamepy.cluster.processes.ProcessRecord` per daemon. ``flmctl cluster down`` (any process)
reads it and stops them with :func:`stop_recorded`.

Concurrency model: synchronous; the state file is replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flamepy.cluster.auth import ClusterAuth
from flamepy.cluster.processes import DEFAULT_GRACE_S, ProcessRecord, terminate
from flamepy.common.credentials import AUTH_TOKEN
from flamepy.errors import InvalidStateError

STATE_FILE = "cluster.json"


@dataclass(frozen=True)
class ClusterState:
    """What ``<data_dir>/cluster.json`` records about a started cluster."""

    data_dir: str
    endpoint: str
    port: int
    node: str
    session_manager: ProcessRecord
    executor_manager: ProcessRecord
    started_at: float
    cache_endpoint: str | None = None  # None: recorded by a version without the object cache
    object_cache: ProcessRecord | None = None
    auth: str = "token"  # "none": started with --auth none
    ca_file: str | None = None  # the CA clients trust when the cluster serves TLS (https://)
    # how services and nodes on other hosts reach it (--host/--advertise-host); None: as endpoint
    advertised_endpoint: str | None = None
    advertised_cache_endpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "data_dir": self.data_dir,
            "endpoint": self.endpoint,
            "port": self.port,
            "node": self.node,
            "cache_endpoint": self.cache_endpoint,
            "session_manager": self.session_manager.to_json(),
            "executor_manager": self.executor_manager.to_json(),
            "object_cache": self.object_cache.to_json() if self.object_cache else None,
            "started_at": self.started_at,
            "auth": self.auth,
            "ca_file": self.ca_file,
            "advertised_endpoint": self.advertised_endpoint or self.endpoint,
            "advertised_cache_endpoint": self.advertised_cache_endpoint or self.cache_endpoint,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ClusterState:
        return cls(
            data_dir=str(doc["data_dir"]),
            endpoint=str(doc["endpoint"]),
            port=int(doc["port"]),
            node=str(doc["node"]),
            session_manager=ProcessRecord.from_json(doc["session_manager"]),
            executor_manager=ProcessRecord.from_json(doc["executor_manager"]),
            started_at=float(doc["started_at"]),
            cache_endpoint=doc.get("cache_endpoint"),
            object_cache=ProcessRecord.from_json(doc["object_cache"]) if doc.get("object_cache") else None,
            auth=str(doc.get("auth", "token")),
            ca_file=doc.get("ca_file"),
            advertised_endpoint=doc.get("advertised_endpoint"),
            advertised_cache_endpoint=doc.get("advertised_cache_endpoint"),
        )

    @property
    def processes(self) -> tuple[ProcessRecord, ...]:
        """Stop order: the executor manager (and its services) first, the object cache last."""
        cache = (self.object_cache,) if self.object_cache is not None else ()
        return (self.executor_manager, self.session_manager, *cache)

    def is_running(self) -> bool:
        return any(p.is_alive() for p in self.processes)


def read_state(data_dir: str | Path) -> ClusterState | None:
    """The recorded cluster of ``data_dir``, or None when none was recorded."""
    path = Path(data_dir).expanduser() / STATE_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidStateError(f"cannot read cluster state {path}: {exc}") from exc
    try:
        return ClusterState.from_json(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStateError(f"cluster state {path} is malformed: {exc!r}") from exc


def write_state(data_dir: Path, state: ClusterState) -> None:
    """Record ``state`` in ``data_dir`` (atomically: readers see the old or the new file)."""
    path = data_dir / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


def forget_state(data_dir: Path) -> None:
    """Remove the record unless it describes a cluster that is still running (an unreadable record
    counts as stale)."""
    try:
        state = read_state(data_dir)
    except InvalidStateError:
        state = None
    if state is None or not state.is_running():
        (data_dir / STATE_FILE).unlink(missing_ok=True)


def stop_recorded(data_dir: str | Path, grace_s: float = DEFAULT_GRACE_S) -> ClusterState | None:
    """Stop the cluster recorded in ``data_dir`` (from any process); None when none was recorded."""
    state = read_state(data_dir)
    if state is None:
        return None
    terminate(state.processes, grace_s)
    directory = Path(data_dir).expanduser()
    # this user's registry entries, the advertised endpoints' too
    s = state
    endpoints = (s.endpoint, s.cache_endpoint, s.advertised_endpoint, s.advertised_cache_endpoint)
    ClusterAuth.of(AUTH_TOKEN, directory).forget(*dict.fromkeys(e for e in endpoints if e))
    (directory / STATE_FILE).unlink(missing_ok=True)
    return state
