"""A whole Flame cluster on this machine: an object cache, a session manager and an executor manager.

All run as real subprocesses (``sys.executable -m object_cache`` / ``-m session_manager`` /
``-m executor``) in their own sessions, log to ``<data_dir>/logs/``, and are described in
``<data_dir>/cluster.json`` (:mod:`flamepy.cluster.state`) so that another process (``flmctl cluster
down``) can find and stop them.

    with LocalCluster(tmp_path, port=0) as cluster:
        conn = flamepy.Connection(cluster.endpoint)

With ``tls=True`` the session manager and the object cache serve TLS with a certificate from a CA
made for the cluster (``flamepy.common.tls_certs``, files in ``<data_dir>/tls``): the endpoints are
``https://`` and ``grpcs://``, and clients trust :attr:`LocalCluster.ca_file`
(``flamepy.Connection(cluster.endpoint, cluster.ca_file)``, or ``FLAME_CA_FILE``).

Concurrency model: synchronous. The only poll is :func:`wait_until`, which has a deadline.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from flamepy.cluster.auth import ClusterAuth
from flamepy.cluster.listen import LOOPBACK_HOST, plan_listen
from flamepy.cluster.probe import ClusterStartError, check_ports_free, free_port, wait_until
from flamepy.cluster.processes import DEFAULT_GRACE_S, ProcessRecord, spawn, tail, terminate
from flamepy.cluster.state import ClusterState, forget_state, write_state
from flamepy.common.credentials import make_private_dir
from flamepy.common.tls_certs import ServerTls, ensure_server_tls, tls_files
from flamepy.errors import FlameError, InvalidStateError
from flamepy.types import NodeState

logger = logging.getLogger(__name__)

T = TypeVar("T")

PORT_FILE = "session-manager.port"
CACHE_PORT_FILE = "object-cache.port"
SESSION_MANAGER_LOG = "session-manager.log"
EXECUTOR_MANAGER_LOG = "executor-manager.log"
OBJECT_CACHE_LOG = "object-cache.log"
CACHE_DIR = "cache"
TLS_DIR = "tls"  # CA and server certificate of a TLS cluster (owner-only)
DEFAULT_CACHE_PORT = 9090
DEFAULT_START_TIMEOUT_S = 60.0


class LocalCluster:
    """An object cache, a session manager and one executor manager, as subprocesses; a context
    manager. ``cache_port`` defaults to 9090, or to any free port when ``port`` is 0."""

    def __init__(
        self,
        data_dir: str | Path,
        port: int = 8080,
        node_name: str | None = None,
        executors_env: Mapping[str, str] | None = None,
        log_level: str = "INFO",
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        cache_port: int | None = None,
        cache_memory_budget: str = "512m",
        session_manager_args: Sequence[str] = (),
        auth: str = "token",
        tls: bool = False,
        host: str = LOOPBACK_HOST,
        advertise_host: str | None = None,
        allow_plaintext: bool = False,
    ) -> None:
        # where the servers listen and how they are reached (refuses plaintext off loopback)
        self.listen = plan_listen(host, advertise_host, tls, allow_plaintext)
        self.data_dir = Path(data_dir).expanduser().resolve()
        # "token" (default): tokens in <data_dir>/auth, checked by the session manager and the
        # cache; "none": no credentials at all (docs/security.md)
        self.auth = ClusterAuth.of(auth, self.data_dir)
        self._requested_port = port
        self._port: int | None = None
        self._requested_cache_port = (
            (0 if port == 0 else DEFAULT_CACHE_PORT) if cache_port is None else cache_port
        )
        self._cache_port: int | None = None
        self.cache_memory_budget = cache_memory_budget
        # extra command-line options of the session manager, e.g. ["--unschedulable-timeout", "2"]
        self.session_manager_args = list(session_manager_args)
        self.node_name = node_name or socket.gethostname()
        self._executors_env = dict(executors_env or {})
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.tls = tls
        self._tls_files: ServerTls | None = None
        self._sm: tuple[subprocess.Popen[bytes], ProcessRecord] | None = None
        self._em: tuple[subprocess.Popen[bytes], ProcessRecord] | None = None
        self._cache: tuple[subprocess.Popen[bytes], ProcessRecord] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def start(self) -> LocalCluster:
        """Launch the daemons and return once the Frontend answers and the node is Ready.
        Raises :class:`ClusterStartError` (with the relevant log's last lines) otherwise; nothing
        is left running then."""
        if self._sm is not None:
            raise InvalidStateError(f"local cluster in {self.data_dir} is already started")
        ports = {"port": self._requested_port, "cache_port": self._requested_cache_port}
        check_ports_free(self.listen.bind_host, **ports)
        make_private_dir(self.data_dir)
        if self.auth.enabled:
            self.auth.tokens()  # made before any daemon reads them
        if self.tls:
            names = (self.listen.local_host, self.listen.advertise_host)
            self._tls_files = ensure_server_tls(self.data_dir / TLS_DIR, names)
        try:
            self._start_object_cache()
            self._start_session_manager()
            args, log = self._executor_args(), self._log(EXECUTOR_MANAGER_LOG)
            self._em = spawn("executor manager", args, log, self._executor_env())
            self._wait_ready(EXECUTOR_MANAGER_LOG)
        except BaseException:
            self.stop()
            raise
        self.auth.remember(*self._registry_endpoints())  # for the SDK and flmctl of this user
        write_state(self.data_dir, self._state())
        logger.info(
            "local cluster up at %s (node %s, object cache %s)",
            self.endpoint,
            self.node_name,
            self.cache_endpoint,
        )
        return self

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> None:
        """Stop the executor manager (and its service processes), the session manager, then the
        object cache."""
        running = [p for p in (self._em, self._sm, self._cache) if p is not None]
        terminate([record for _, record in running], grace_s)
        if self._port is not None and self._cache_port is not None:
            self.auth.forget(*self._registry_endpoints())
        for popen, _ in running:
            popen.poll()  # reap, if psutil has not already
        self._em = self._sm = self._cache = None
        forget_state(self.data_dir)

    # -- crash tests -----------------------------------------------------------------------

    def kill_session_manager(self, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the session manager and wait for it to exit; returns its exit code."""
        if self._sm is None:
            raise InvalidStateError("the session manager is not running")
        popen, _ = self._sm
        os.kill(popen.pid, sig)
        code = popen.wait(timeout=30)
        self._sm = None
        return code

    def restart_session_manager(self) -> None:
        """Start a new session manager on the same port and data dir (after a kill or crash) and
        wait until the Frontend answers and the node is Ready again."""
        if self._sm is not None and self._sm[0].poll() is None:
            self.kill_session_manager(signal.SIGTERM)
        self._sm = None
        self._start_session_manager()
        self._wait_ready(SESSION_MANAGER_LOG)
        write_state(self.data_dir, self._state())

    # -- properties ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise InvalidStateError("the local cluster is not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """The session manager's address for clients on this machine."""
        return self.listen.url("https" if self.tls else "http", self.port)

    @property
    def advertised_endpoint(self) -> str:
        """The session manager's address for services and nodes elsewhere (FLAME_ENDPOINT)."""
        return self.listen.url("https" if self.tls else "http", self.port, advertised=True)

    @property
    def ca_file(self) -> str | None:
        """The CA certificate clients trust (``FLAME_CA_FILE``) when ``tls``; else None."""
        return str(tls_files(self.data_dir / TLS_DIR).ca_file) if self.tls else None

    @property
    def cache_port(self) -> int:
        if self._cache_port is None:
            raise InvalidStateError("the local cluster is not started")
        return self._cache_port

    @property
    def cache_endpoint(self) -> str:
        """The object cache's address for clients on this machine."""
        return self.listen.url("grpcs" if self.tls else "grpc", self.cache_port)

    @property
    def advertised_cache_endpoint(self) -> str:
        """The object cache's address given to services (FLAME_CACHE_ENDPOINT)."""
        return self.listen.url("grpcs" if self.tls else "grpc", self.cache_port, advertised=True)

    @property
    def object_cache_pid(self) -> int:
        return _pid(self._cache, "the object cache")

    @property
    def session_manager_pid(self) -> int:
        return _pid(self._sm, "the session manager")

    @property
    def executor_manager_pid(self) -> int:
        return _pid(self._em, "the executor manager")

    @property
    def auth_dir(self) -> Path | None:
        """Where the tokens live (None with ``auth="none"``)."""
        return self.auth.auth_dir if self.auth.enabled else None

    @property
    def client_token(self) -> str | None:
        """The token clients present (None with ``auth="none"``)."""
        return self.auth.client_token()

    @property
    def node_token(self) -> str | None:
        """The token executor managers join with (None with ``auth="none"``)."""
        return self.auth.tokens().node if self.auth.enabled else None

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    # -- internals -------------------------------------------------------------------------

    def _log(self, name: str) -> Path:
        return self.logs_dir / name

    def _start_object_cache(self) -> None:
        port_file = self.data_dir / CACHE_PORT_FILE
        port_file.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "object_cache",
            "--host", self.listen.server_host,
            "--port", str(self._requested_cache_port),
            "--storage", str(self.data_dir / CACHE_DIR),
            "--memory-budget", self.cache_memory_budget,
            "--port-file", str(port_file),
            "--log-level", self.log_level,
            *self.auth.server_args(),
            *self._tls_args(),
        ]  # fmt: skip
        self._cache = spawn("object cache", args, self._log(OBJECT_CACHE_LOG))
        self._cache_port = self._wait(
            lambda: self._read_port(CACHE_PORT_FILE), "the object cache to bind its port", OBJECT_CACHE_LOG
        )

    def _start_session_manager(self) -> None:
        port_file = self.data_dir / PORT_FILE
        port_file.unlink(missing_ok=True)
        port = self._port if self._port is not None else self._requested_port
        if port == 0 and self.listen.advertises:  # the advertised endpoint needs the port up front
            port = free_port(self.listen.bind_host)
        args = [
            sys.executable, "-m", "session_manager",
            "--host", self.listen.server_host,
            "--port", str(port),
            "--data-dir", str(self.data_dir),
            "--port-file", str(port_file),
            "--cache-endpoint", self.advertised_cache_endpoint,
            "--log-level", self.log_level,
            *self.auth.server_args(),
            *self._tls_args(),
            *self.session_manager_args,
        ]  # fmt: skip
        if self.listen.advertises:
            args += ["--advertise", self.listen.url("https" if self.tls else "http", port, advertised=True)]
        self._sm = spawn("session manager", args, self._log(SESSION_MANAGER_LOG))
        self._port = self._wait(
            lambda: self._read_port(PORT_FILE), "the session manager to bind its port", SESSION_MANAGER_LOG
        )

    def _registry_endpoints(self) -> list[str]:
        ends = [self.endpoint, self.cache_endpoint, self.advertised_endpoint, self.advertised_cache_endpoint]
        return list(dict.fromkeys(ends))  # the advertised ones too: a client here may use them

    def _read_port(self, name: str) -> int | None:
        self._check_alive()
        try:
            text = (self.data_dir / name).read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def _executor_args(self) -> list[str]:
        return [
            sys.executable, "-m", "executor",
            "--endpoint", self.endpoint,
            "--name", self.node_name,
            "--work-dir", str(self.data_dir / "work"),
            "--log-level", self.log_level,
            *self.auth.executor_args(),
            *(["--ca-file", self.ca_file] if self.ca_file else []),
        ]  # fmt: skip

    def _tls_args(self) -> list[str]:
        files = self._tls_files
        return [] if files is None else ["--tls-cert", str(files.cert_file), "--tls-key", str(files.key_file)]

    def _executor_env(self) -> dict[str, str]:
        return {**os.environ, **self._executors_env}

    def _check_alive(self) -> None:
        daemons = (
            (self._cache, OBJECT_CACHE_LOG),
            (self._sm, SESSION_MANAGER_LOG),
            (self._em, EXECUTOR_MANAGER_LOG),
        )
        for which, log in daemons:
            if which is None:
                continue
            popen, record = which
            code = popen.poll()
            if code is not None:
                raise self._start_error(f"the {record.name} exited with code {code}", log)

    def _node_ready(self) -> bool:
        self._check_alive()
        import flamepy  # lazily: grpc is slow to import and the CLI does not always need it

        try:
            with flamepy.Connection(self.endpoint, self.ca_file, token=self.client_token) as conn:
                nodes = conn.list_nodes()
        except FlameError as exc:
            logger.debug("local cluster not ready yet: %s", exc)
            return False
        return any(n.name == self.node_name and n.state == NodeState.READY for n in nodes)

    def _wait_ready(self, log: str) -> None:
        self._wait(self._node_ready, f"node {self.node_name!r} to be Ready", log)

    def _wait(self, predicate: Callable[[], T | None], what: str, log: str) -> T:
        try:
            return wait_until(predicate, self.start_timeout, 0.1, what)
        except TimeoutError:
            raise self._start_error(
                f"timed out after {self.start_timeout:.0f}s waiting for {what}", log
            ) from None

    def _start_error(self, what: str, log: str) -> ClusterStartError:
        path = self._log(log)
        lines = tail(path) or "(empty)"
        return ClusterStartError(f"local cluster failed to start: {what}; last lines of {path}:\n{lines}")

    def _state(self) -> ClusterState:
        assert self._sm is not None and self._em is not None and self._cache is not None
        return ClusterState(
            data_dir=str(self.data_dir),
            endpoint=self.endpoint,
            port=self.port,
            node=self.node_name,
            session_manager=self._sm[1],
            executor_manager=self._em[1],
            started_at=time.time(),
            cache_endpoint=self.cache_endpoint,
            object_cache=self._cache[1],
            auth=self.auth.mode,
            ca_file=self.ca_file,
            advertised_endpoint=self.advertised_endpoint,
            advertised_cache_endpoint=self.advertised_cache_endpoint,
        )


def _pid(daemon: tuple[subprocess.Popen[bytes], ProcessRecord] | None, name: str) -> int:
    if daemon is None:
        raise InvalidStateError(f"{name} is not running")
    return daemon[0].pid
