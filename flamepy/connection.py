"""A client connection to a Flame session manager (``flame.v1.Frontend`` + our ``FrontendExt``).

Concurrency: thread-safe; one gRPC channel shared by every session made from this connection, with
the number of RPCs in flight on it capped by an :class:`~flamepy._rpc.InFlightLimiter`.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
from types import TracebackType

import grpc

from flamepy import _rpc
from flamepy._local_client import LocalRunner
from flamepy.common import convert as _convert
from flamepy.config import load_context, parse_endpoint
from flamepy.errors import InvalidArgumentError, InvalidStateError, NotFoundError
from flamepy.proto import extensions_pb2_grpc, frontend_pb2, frontend_pb2_grpc
from flamepy.session import Session
from flamepy.tls import TlsConfig, channel_credentials
from flamepy.types import Application, ApplicationAttributes, Executor, Node, SessionAttributes

log = logging.getLogger(__name__)

_ID_ALPHABET = string.ascii_letters + string.digits


def default_session_id(application: str) -> str:
    """``<application>-<6 random alphanumerics>``, the SDK's default session id."""
    return f"{application}-{''.join(secrets.choice(_ID_ALPHABET) for _ in range(6))}"


def _require_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string, got {name!r}")
    return name


# A Task message carries its input and its output (each up to MAX_TASK_DATA_BYTES): receive up to
# the server's own limit rather than gRPC's 4 MiB default.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class Connection:
    """A connection to the session manager at ``endpoint`` (``http://`` plaintext, ``https://`` TLS)."""

    def __init__(
        self,
        endpoint: str,
        tls_config: TlsConfig | str | None = None,
        *,
        max_in_flight: int = _rpc.DEFAULT_MAX_IN_FLIGHT,
        local_pipe: bool = True,
    ) -> None:
        parsed = parse_endpoint(endpoint)
        self.endpoint = endpoint
        if parsed.tls:
            creds = channel_credentials(tls_config, load_context().ca_file)
            self._channel = grpc.secure_channel(parsed.target, creds, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.insecure_channel(parsed.target, options=_CHANNEL_OPTIONS)
        self.frontend = frontend_pb2_grpc.FrontendStub(self._channel)
        self.frontend_ext = extensions_pb2_grpc.FrontendExtStub(self._channel)
        self.limiter = _rpc.InFlightLimiter(max_in_flight)
        # None: unknown yet; False: the server answered UNIMPLEMENTED for FrontendExt.
        self.ext_supported: bool | None = None
        # None: unknown yet; False: WatchSession headers come only with the first completion.
        self.watch_headers_early: bool | None = None
        self._lock = threading.Lock()
        self._sessions: set[Session] = set()
        self._closed = False
        # Session.invoke's same-host fast path (flamepy/localpipe.py): None = not looked for yet,
        # False = not offered or not usable from here (or turned off with local_pipe=False).
        self._local: LocalRunner | bool | None = None if local_pipe else False

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the background work of this connection's sessions and close the channel.

        Sessions stay open on the server (close them with :meth:`Session.close`).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions)
            self._sessions.clear()
        for ssn in sessions:
            ssn._stop_background("the connection was closed")
        if isinstance(self._local, LocalRunner):
            self._local.close()
        self._channel.close()

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

    def _call(self, method, request, what: str):
        if self._closed:
            raise InvalidStateError(f"{what}: the connection to {self.endpoint} is closed")
        return _rpc.call(method, request, what=what, limiter=self.limiter)

    def _local_runner(self) -> LocalRunner | None:
        """The local fast path for RunTask, looked for once (again after it broke)."""
        local = self._local
        if local is None:
            local = LocalRunner.discover(self) or False
            with self._lock:
                if self._closed and isinstance(local, LocalRunner):
                    local.close()
                    local = False
                self._local = local
        return local if isinstance(local, LocalRunner) else None

    def _local_broken(self, runner: LocalRunner) -> None:
        with self._lock:
            if self._local is runner:
                self._local = None  # look again next time: the session manager may have restarted
        runner.close()

    def _track(self, ssn: Session) -> None:
        """Remember a session with background threads, to stop them in :meth:`close`."""
        with self._lock:
            if self._closed:
                raise InvalidStateError(f"the connection to {self.endpoint} is closed")
            self._sessions.add(ssn)

    def _forget(self, ssn: Session) -> None:
        with self._lock:
            self._sessions.discard(ssn)

    # -- applications ----------------------------------------------------------------------------

    def register_application(self, name: str, attrs: ApplicationAttributes) -> None:
        _require_name(name, "application name")
        req = frontend_pb2.RegisterApplicationRequest(name=name, application=_convert.app_attrs_to_pb(attrs))
        what = f"register application {name!r}"
        res = self._call(self.frontend.RegisterApplication, req, what)
        _rpc.check_result(res.return_code, res.message if res.HasField("message") else None, what)

    def unregister_application(self, name: str) -> None:
        _require_name(name, "application name")
        what = f"unregister application {name!r}"
        req = frontend_pb2.UnregisterApplicationRequest(name=name)
        res = self._call(self.frontend.UnregisterApplication, req, what)
        _rpc.check_result(res.return_code, res.message if res.HasField("message") else None, what)

    def update_application(self, name: str, attrs: ApplicationAttributes) -> None:
        _require_name(name, "application name")
        what = f"update application {name!r}"
        req = frontend_pb2.UpdateApplicationRequest(name=name, application=_convert.app_attrs_to_pb(attrs))
        res = self._call(self.frontend.UpdateApplication, req, what)
        _rpc.check_result(res.return_code, res.message if res.HasField("message") else None, what)

    def get_application(self, name: str) -> Application | None:
        """The application, or None when no application has this name."""
        _require_name(name, "application name")
        req = frontend_pb2.GetApplicationRequest(name=name)
        try:
            res = self._call(self.frontend.GetApplication, req, f"get application {name!r}")
        except NotFoundError:
            return None
        return _convert.application_from_pb(res)

    def list_applications(self) -> list[Application]:
        req = frontend_pb2.ListApplicationRequest()
        res = self._call(self.frontend.ListApplication, req, "list applications")
        return [_convert.application_from_pb(a) for a in res.applications]

    # -- sessions --------------------------------------------------------------------------------

    def create_session(self, attrs: SessionAttributes) -> Session:
        if not isinstance(attrs, SessionAttributes):
            raise InvalidArgumentError(
                f"create_session expects SessionAttributes, got {type(attrs).__name__}"
            )
        _require_name(attrs.application, "application name")
        session_id = attrs.id or default_session_id(attrs.application)
        req = frontend_pb2.CreateSessionRequest(
            session_id=session_id, session=_convert.session_spec_to_pb(attrs)
        )
        res = self._call(self.frontend.CreateSession, req, f"create session {session_id!r}")
        return self._session_from_pb(res)

    def open_session(self, session_id: str, spec: SessionAttributes | None = None) -> Session:
        """An existing Open session; with ``spec``, created when it does not exist yet."""
        _require_name(session_id, "session id")
        req = frontend_pb2.OpenSessionRequest(session_id=session_id)
        if spec is not None:
            req.session.CopyFrom(_convert.session_spec_to_pb(spec))
        res = self._call(self.frontend.OpenSession, req, f"open session {session_id!r}")
        return self._session_from_pb(res)

    def get_session(self, session_id: str) -> Session:
        _require_name(session_id, "session id")
        req = frontend_pb2.GetSessionRequest(session_id=session_id)
        res = self._call(self.frontend.GetSession, req, f"get session {session_id!r}")
        return self._session_from_pb(res)

    def list_sessions(self) -> list[Session]:
        req = frontend_pb2.ListSessionRequest()
        res = self._call(self.frontend.ListSession, req, "list sessions")
        return [self._session_from_pb(s) for s in res.sessions]

    def close_session(self, session_id: str) -> Session:
        _require_name(session_id, "session id")
        req = frontend_pb2.CloseSessionRequest(session_id=session_id)
        res = self._call(self.frontend.CloseSession, req, f"close session {session_id!r}")
        return self._session_from_pb(res)

    def _session_from_pb(self, msg) -> Session:
        attrs, status = _convert.session_from_pb(msg)
        return Session(self, attrs, status)

    # -- executors and nodes ---------------------------------------------------------------------

    def list_executors(self) -> list[Executor]:
        req = frontend_pb2.ListExecutorRequest()
        res = self._call(self.frontend.ListExecutor, req, "list executors")
        return [_convert.executor_from_pb(e) for e in res.executors]

    def list_nodes(self) -> list[Node]:
        res = self._call(self.frontend.ListNodes, frontend_pb2.ListNodesRequest(), "list nodes")
        return [_convert.node_from_pb(n) for n in res.nodes]

    def get_node(self, name: str) -> Node:
        _require_name(name, "node name")
        req = frontend_pb2.GetNodeRequest(name=name)
        res = self._call(self.frontend.GetNode, req, f"get node {name!r}")
        return _convert.node_from_pb(res.node)
