"""A client connection to a Flame session manager: a thin owner of one transport and its sessions.

The wire work (gRPC ``flame.v1.Frontend`` + our ``FrontendExt``, the same-host socket, fallbacks) is
the :class:`~flamepy.transport.grpc.GrpcTransport`'s; tests may hand in any
:class:`~flamepy.transport.base.Transport` (e.g. :class:`~flamepy.transport.memory.MemoryTransport`)
with :meth:`Connection.over`.

Concurrency model: thread-safe; the transport is shared by every session made from this connection
and every thread using them; the set of sessions with background threads is guarded by a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from flamepy import _rpc
from flamepy.errors import InvalidArgumentError, InvalidStateError, NotFoundError
from flamepy.session import Session
from flamepy.tasklog import DEFAULT_LOG_CHUNK_BYTES, TaskLogChunk
from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.tls import TlsConfig
from flamepy.transport.base import SessionInfo, Transport
from flamepy.transport.grpc import GrpcTransport
from flamepy.transport.retry import DEFAULT_RETRY_DEADLINE_S
from flamepy.types import (
    Application,
    ApplicationAttributes,
    Executor,
    Node,
    RetryPolicy,
    SessionAttributes,
    Task,
)
from flamepy.util import short_name

log = logging.getLogger(__name__)


def default_session_id(application: str) -> str:
    """``<application>-<6 random alphanumerics>``, the SDK's default session id."""
    return short_name(application)


def _attrs(value: ApplicationAttributes | Mapping[str, Any]) -> ApplicationAttributes:
    if isinstance(value, ApplicationAttributes):
        return value
    if isinstance(value, Mapping):
        try:
            return ApplicationAttributes(**value)
        except TypeError as exc:
            raise InvalidArgumentError(f"invalid application attributes: {exc}") from None
    raise InvalidArgumentError(
        f"application attributes must be ApplicationAttributes or a dict, got {type(value).__name__}"
    )


def _check_policy(max_retries: object, retry_on_error: object, task_timeout: object) -> None:
    """Types of :meth:`Connection.set_retry_policy`'s options (the server checks the ranges)."""
    if max_retries is not None and (isinstance(max_retries, bool) or not isinstance(max_retries, int)):
        raise InvalidArgumentError(f"max_retries must be an integer, got {max_retries!r}")
    if retry_on_error is not None and not isinstance(retry_on_error, bool):
        raise InvalidArgumentError(f"retry_on_error must be True or False, got {retry_on_error!r}")
    if task_timeout is not None and (
        isinstance(task_timeout, bool) or not isinstance(task_timeout, int | float) or not task_timeout >= 0
    ):
        raise InvalidArgumentError(f"task_timeout must be seconds >= 0 (0: no limit), got {task_timeout!r}")


def _require_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string, got {name!r}")
    return name


class Connection:
    """A connection to the session manager at ``addr`` (``http://`` plaintext, ``https://`` TLS).

    The second argument is the TLS configuration (a :class:`~flamepy.tls.TlsConfig` or a CA file);
    flamepy 0.6.0's constructor took a ready gRPC channel and stub instead, which our transport
    layer does not take from callers (use :func:`flamepy.connect` / :meth:`connect`).

    ``retry_deadline`` (seconds, default 60; 0 turns retrying off): how long the SDK keeps retrying
    what is safe to retry after the session manager became unreachable (a restart, a broken
    connection): reads, watches, and task submissions, which carry idempotency keys so a retry never
    creates a task twice (a plain flame.v1 server takes no keys: submissions there are not retried).
    Past it, the call fails with an UnavailableError that says whether its tasks may still run. See
    docs/reliability.md, "What the SDK retries".

    ``token``: the cluster's client token; by default it is found in FLAME_TOKEN, FLAME_TOKEN_FILE,
    the config's ``cluster.token_file`` or ``~/.flame/credentials/`` (docs/security.md). A refused
    token raises :class:`~flamepy.errors.AuthenticationError`, never retried.
    """

    def __init__(
        self,
        addr: str,
        tls_config: TlsConfig | str | None = None,
        *,
        max_in_flight: int = _rpc.DEFAULT_MAX_IN_FLIGHT,
        local_pipe: bool = True,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE_S,
        transport: Transport | None = None,
        token: str | None = None,
    ) -> None:
        if transport is None:
            transport = GrpcTransport(
                addr,
                tls_config,
                max_in_flight=max_in_flight,
                local_pipe=local_pipe,
                retry_deadline=retry_deadline,
                token=token,
            )
        self.endpoint = self.addr = addr
        self.transport: Transport = transport
        self._lock = threading.Lock()
        self._sessions: set[Session] = set()
        self._closed = False

    @classmethod
    def connect(cls, addr: str, tls_config: TlsConfig | str | None = None) -> Connection:
        """A new connection to ``addr`` (flamepy 0.6.0's spelling of ``Connection(addr, tls_config)``)."""
        return cls(addr, tls_config)

    @classmethod
    def over(cls, transport: Transport) -> Connection:
        """A connection using ``transport`` (an in-memory one in tests)."""
        return cls(transport.endpoint, transport=transport)

    # -- what the transport learnt about the server ----------------------------------------------

    @property
    def ext_supported(self) -> bool | None:
        """Whether the server offers FrontendExt (None: not known yet)."""
        return getattr(self.transport, "frontend_ext", None)

    @property
    def watch_headers_early(self) -> bool | None:
        return self.transport.watch_headers_early

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the background work of this connection's sessions and close the transport.

        Sessions stay open on the server (close them with :meth:`Session.close`).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions)
            self._sessions.clear()
        for ssn in sessions:
            ssn.stop_background("the connection was closed")
        self.transport.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Connection({self.endpoint!r}, {state})"

    def track(self, ssn: Session) -> None:
        """Remember a session with background threads, to stop them in :meth:`close`."""
        with self._lock:
            if self._closed:
                raise InvalidStateError(f"the connection to {self.endpoint} is closed")
            self._sessions.add(ssn)

    def forget(self, ssn: Session) -> None:
        with self._lock:
            self._sessions.discard(ssn)

    # -- applications ----------------------------------------------------------------------------

    def register_application(self, name: str, app_attrs: ApplicationAttributes | Mapping[str, Any]) -> None:
        """Register ``name``; ``app_attrs`` is an ApplicationAttributes or a dict of its fields."""
        self.transport.register_application(_require_name(name, "application name"), _attrs(app_attrs))

    def unregister_application(self, name: str) -> None:
        self.transport.unregister_application(_require_name(name, "application name"))

    def update_application(self, name: str, app_attrs: ApplicationAttributes | Mapping[str, Any]) -> None:
        self.transport.update_application(_require_name(name, "application name"), _attrs(app_attrs))

    def get_application(self, name: str) -> Application | None:
        """The application, or None when no application has this name."""
        try:
            return self.transport.get_application(_require_name(name, "application name"))
        except NotFoundError:
            return None

    def list_applications(self) -> list[Application]:
        return self.transport.list_applications()

    # -- sessions --------------------------------------------------------------------------------

    def create_session(
        self,
        attrs: SessionAttributes,
        *,
        max_retries: int | None = None,
        retry_on_error: bool | None = None,
        task_timeout: float | None = None,
        spread: bool = False,
    ) -> Session:
        """A new session. ``max_retries``, ``retry_on_error``, ``task_timeout``: its retry policy,
        set right after it is created (see :meth:`set_retry_policy`); None inherits the
        application's (else the server's). ``spread``: at most one of its executors per node. If
        setting either fails the session is closed."""
        if not isinstance(attrs, SessionAttributes):
            raise InvalidArgumentError(
                f"create_session expects SessionAttributes, got {type(attrs).__name__}"
            )
        _require_name(attrs.application, "application name")
        _check_policy(max_retries, retry_on_error, task_timeout)
        session_id = attrs.id or default_session_id(attrs.application)
        ssn = self._session(self.transport.create_session(session_id, attrs))
        policy = max_retries is not None or retry_on_error is not None or task_timeout is not None
        if policy or spread:
            try:
                if policy:
                    self.transport.set_retry_policy(None, ssn.id, max_retries, retry_on_error, task_timeout)
                if spread:
                    self.transport.set_session_placement(ssn.id, True)
            except BaseException:
                ssn.close()
                raise
        return ssn

    def open_session(self, session_id: str, spec: SessionAttributes | None = None) -> Session:
        """An existing Open session; with ``spec``, created when it does not exist yet."""
        return self._session(self.transport.open_session(_require_name(session_id, "session id"), spec))

    def get_session(self, session_id: str) -> Session:
        return self._session(self.transport.get_session(_require_name(session_id, "session id")))

    def list_sessions(self) -> list[Session]:
        return [self._session(info) for info in self.transport.list_sessions()]

    def close_session(self, session_id: str) -> Session:
        return self._session(self.transport.close_session(_require_name(session_id, "session id")))

    def _session(self, info: SessionInfo) -> Session:
        attrs, status = info
        return Session.of(self, attrs, status)

    # -- tasks -----------------------------------------------------------------------------------

    def get_task(self, session_id: str, task_id: str) -> Task:
        """The task as it is now (NotFoundError for an unknown one)."""
        return self.transport.get_task(_require_name(session_id, "session id"), str(task_id))

    def read_task_log(
        self, session_id: str, task_id: str, offset: int = 0, max_bytes: int = DEFAULT_LOG_CHUNK_BYTES
    ) -> TaskLogChunk:
        """Bytes ``offset…`` of a job task's log (JSON lines, :mod:`flamepy.apps.joblog`), at most
        ``max_bytes`` (over the server's 4 MiB bound: InvalidArgumentError). The session manager
        reads it from the node that ran the task's latest attempt, also after the task ended or the
        session manager restarted. NotFoundError: unknown task, not run yet, or no log (not a job);
        UnavailableError naming the node when that node is not connected (not retried). For records
        rather than bytes, and to follow a running job, see :func:`flamepy.joblogs.iter_log_records`."""
        if offset < 0 or max_bytes < 0:
            raise InvalidArgumentError(f"offset and max_bytes must not be negative: {offset}, {max_bytes}")
        sid = _require_name(session_id, "session id")
        return self.transport.read_task_log(sid, str(task_id), offset, max_bytes)

    def task_stats(self, session_id: str, task_id: str) -> TaskStats:
        """A running job task's resource use (its process group's CPU and memory, its GPUs),
        measured now on the node that runs it. InvalidStateError: the task is not running (or its
        job's processes have ended); NotFoundError: unknown task, or not a job; UnavailableError
        naming the node when it is not reachable (not retried)."""
        return self.transport.task_stats(_require_name(session_id, "session id"), str(task_id))

    def exec_in_task(
        self, session_id: str, task_id: str, argv: Sequence[str], timeout_s: float = 0.0
    ) -> Iterator[ExecChunk]:
        """Run ``argv`` on the node of a running job task, in the task's working directory with its
        environment (``CUDA_VISIBLE_DEVICES`` included): chunks of its output (stdout and stderr
        together) as they come, then one with ``done`` and the exit code (124: killed at
        ``timeout_s``, 0 = 10 minutes). Errors as :meth:`task_stats`, before the first chunk.
        Leaving the iterator early kills the command. Anyone who may run jobs may do this: it is a
        shell on the node (``docs/security.md``)."""
        argv = [str(a) for a in argv]
        if not argv or timeout_s < 0:
            raise InvalidArgumentError("exec needs a command, and a timeout that is not negative")
        sid = _require_name(session_id, "session id")
        return self.transport.exec_in_task(sid, str(task_id), argv, timeout_s)

    # -- retry policies --------------------------------------------------------------------------

    def set_retry_policy(
        self,
        application: str | None = None,
        session: str | Session | None = None,
        *,
        max_retries: int | None = None,
        retry_on_error: bool | None = None,
        task_timeout: float | None = None,
    ) -> RetryPolicy:
        """Set the retry policy of an application (the default of its sessions) or of one session
        (give exactly one); persisted by the session manager, applied to its tasks' next failures.

        ``max_retries`` (0-100): re-runs after infrastructure failures (node lost, executor or
        service process died) before the task fails with its history; ``retry_on_error``: also
        re-run a task whose service raised (or that timed out); ``task_timeout`` (seconds, 0 = no
        limit): the wall-clock limit of one attempt, past which the service is stopped and the
        task fails as timed out. None leaves an option as it is. Returns the policy now in effect.
        """
        if (application is None) == (session is None):
            raise InvalidArgumentError("set_retry_policy takes an application or a session (one of them)")
        _check_policy(max_retries, retry_on_error, task_timeout)
        if session is not None:
            sid = _require_name(session.id if isinstance(session, Session) else session, "session id")
            return self.transport.set_retry_policy(None, sid, max_retries, retry_on_error, task_timeout)
        app = _require_name(application, "application name")
        return self.transport.set_retry_policy(app, None, max_retries, retry_on_error, task_timeout)

    # -- executors and nodes ---------------------------------------------------------------------

    def list_executors(self) -> list[Executor]:
        return self.transport.list_executors()

    def list_nodes(self) -> list[Node]:
        return self.transport.list_nodes()

    def get_node(self, name: str) -> Node:
        return self.transport.get_node(_require_name(name, "node name"))
