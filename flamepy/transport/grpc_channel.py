"""The channel half of :class:`~flamepy.transport.grpc.GrpcTransport`: one gRPC channel to a
session manager, its stubs, the in-flight limiter, the same-host runner, and the call helpers that
map errors (:mod:`flamepy._rpc`) and retry (:mod:`flamepy.transport.retry`).

It decides each server capability in exactly one place:

* FrontendExt (``_ext``): learnt from FrontendExt calls (:meth:`GrpcChannel._ext_call`, and the
  session watch through :meth:`GrpcChannel._unsupported`); UNIMPLEMENTED makes every later call
  use plain flame.v1 (CreateTask per task, CreateTask + WatchTask for ``run_task``, WatchTask per
  task for a session watch);
* the local socket (``_local``): looked for on the first ``run_task`` (:meth:`_local_runner`), looked
  for again after it broke (:meth:`_local_broken`) or while the session manager was unreachable;
* early WatchSession headers (``_headers_early``): :meth:`learn_watch_headers_early`;
* whether the server has answered once (``reached``): retrying starts only then, so an endpoint
  that never answered (wrong address, cluster not started) fails at once.

Concurrency model: thread-safe; every method blocks its calling thread only. RPCs in flight on the
channel are capped by an :class:`~flamepy._rpc.InFlightLimiter`; capability fields are written
under ``_lock`` (a racing first call may learn the same answer twice); retry waits end when
:meth:`close` sets ``_stop``.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flamepy import _rpc
from flamepy.common.bounds import DEFAULT_MAX_TASKS_PER_REQUEST
from flamepy.config import parse_endpoint
from flamepy.errors import FlameError, InvalidStateError
from flamepy.proto import extensions_pb2, extensions_pb2_grpc, frontend_pb2_grpc
from flamepy.tls import TlsConfig
from flamepy.transport.auth import open_channel
from flamepy.transport.local import LocalRunner
from flamepy.transport.retry import DEFAULT_RETRY_DEADLINE_S, check_deadline
from flamepy.transport.retry import call as retry_call

log = logging.getLogger(__name__)

T = TypeVar("T")

# A Task message carries its input and its output (each up to MAX_TASK_DATA_BYTES): receive up to
# the server's own limit rather than gRPC's 4 MiB default.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class GrpcChannel:
    """The session manager at ``endpoint`` (``http://`` plaintext, ``https://`` TLS), presenting
    ``token`` or the one :func:`~flamepy.transport.auth.resolve_token` finds."""

    def __init__(
        self,
        endpoint: str,
        tls_config: TlsConfig | str | None = None,
        *,
        max_in_flight: int = _rpc.DEFAULT_MAX_IN_FLIGHT,
        local_pipe: bool = True,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE_S,
        token: str | None = None,
    ) -> None:
        parse_endpoint(endpoint)  # a bad address fails here, before anything is opened
        self.endpoint = endpoint
        self.retry_deadline = check_deadline(retry_deadline)
        self._stop = threading.Event()  # set by close(): ends retry waits
        self.reached = False  # the server has answered once: later outages are retried
        self._key_prefix = secrets.token_urlsafe(12) + "."  # a 96-bit nonce (16 characters)
        self._key_counter = itertools.count(1)
        self.limiter = _rpc.InFlightLimiter(max_in_flight)
        # every call carries the token found once here (flamepy.transport.auth)
        self._channel = open_channel(endpoint, tls_config=tls_config, token=token, options=_CHANNEL_OPTIONS)
        self._fe = frontend_pb2_grpc.FrontendStub(self._channel)
        self._ext_stub = extensions_pb2_grpc.FrontendExtStub(self._channel)
        self._lock = threading.Lock()
        self._closed = False
        # None: unknown yet; False: the server answered UNIMPLEMENTED for FrontendExt.
        self._ext: bool | None = None
        # inputs per CreateTasks call: the server's default limit, halved if it answers RESOURCE_EXHAUSTED
        self.tasks_per_call = DEFAULT_MAX_TASKS_PER_REQUEST
        # None: unknown yet; False: WatchSession headers come only with the first completion.
        self._headers_early: bool | None = None
        # None = not looked for yet, False = not offered or not usable from here (or local_pipe=False).
        self._local: LocalRunner | bool | None = None if local_pipe else False

    # -- lifecycle and capabilities --------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            local = self._local
        self._stop.set()
        if isinstance(local, LocalRunner):
            local.close()
        self._channel.close()

    @property
    def frontend_ext(self) -> bool | None:
        """Whether the server offers FrontendExt (None: not known yet)."""
        return self._ext

    @property
    def keyed_submit(self) -> bool | None:
        return self._ext

    def new_key(self) -> str:
        """A fresh idempotency key (unique for this connection)."""
        return f"{self._key_prefix}{next(self._key_counter)}"

    @property
    def local_runner(self) -> LocalRunner | bool | None:
        """The same-host runner in use, False when there is none, None when not looked for yet."""
        return self._local

    @property
    def watch_headers_early(self) -> bool | None:
        return self._headers_early

    def learn_watch_headers_early(self, early: bool) -> None:
        with self._lock:
            if self._headers_early is None:
                self._headers_early = early

    def _unsupported(self, err: FlameError) -> bool:
        """Whether ``err`` says the server lacks FrontendExt (then remembered for every later call)."""
        if not _rpc.is_unimplemented(err):
            return False
        if self._ext is not False:
            log.info("%s lacks FrontendExt; using plain flame.v1 calls", self.endpoint)
        self._ext = False
        return True

    def _ext_call(self, method: Callable[..., T], request: Any, what: str) -> T | None:
        """A FrontendExt call; None when the server lacks FrontendExt (the caller falls back)."""
        try:
            response = self._call(method, request, what)
        except FlameError as err:
            if self._unsupported(err):
                return None
            raise
        self._ext = True
        return response

    def _local_runner(self) -> LocalRunner | None:
        local = self._local
        if local is None:
            ask = lambda: self._call(  # noqa: E731
                self._ext_stub.GetLocalEndpoint, extensions_pb2.LocalEndpointRequest(), "local endpoint"
            )
            try:
                local = LocalRunner.discover(ask) or False
            except FlameError:
                return None  # unreachable now: look again next time
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

    def _call(self, method: Callable[..., T], request: Any, what: str) -> T:
        if self._closed:
            raise InvalidStateError(f"{what}: the connection to {self.endpoint} is closed")
        response = _rpc.call(method, request, what=what, limiter=self.limiter)
        self.reached = True
        return response

    @property
    def _deadline(self) -> float:
        """The retry deadline in effect: none until the server has answered once."""
        return self.retry_deadline if self.reached else 0.0

    def _read(self, method: Callable[..., T], request: Any, what: str) -> T:
        """A call that is safe to repeat, repeated while the session manager is unreachable."""
        return self._retrying(lambda: self._call(method, request, what), what)

    def _retrying(self, fn: Callable[[], T], what: str, may_run: str = "") -> T:
        return retry_call(fn, what, self._deadline, self._stop, may_run)

    def _open(self, method: Callable[..., Any], request: Any, what: str, **kwargs: Any) -> Any:
        if self._closed:
            raise InvalidStateError(f"{what}: the connection to {self.endpoint} is closed")
        with _rpc.translate(what):
            return method(request, **kwargs)
