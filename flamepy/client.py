"""Top-level helpers on the documented default connection.

The default connection is the only process-global connection of the SDK: it is made lazily, on the
first helper call, from :func:`flamepy.config.load_context` (``~/.flame/flame.yaml`` + ``FLAME_*``
environment variables), and :func:`reset_default_connection` closes it (tests use it). Thread-safe.
"""

from __future__ import annotations

import threading

from flamepy.config import load_context
from flamepy.connection import Connection
from flamepy.errors import InvalidArgumentError
from flamepy.session import Session
from flamepy.tls import TlsConfig
from flamepy.types import (
    Application,
    ApplicationAttributes,
    Executor,
    Node,
    ResourceRequirement,
    SessionAttributes,
)

_lock = threading.Lock()
_default: Connection | None = None


def connect(addr: str, tls_config: TlsConfig | str | None = None) -> Connection:
    """A new connection to the session manager at ``addr`` (the caller closes it)."""
    return Connection(addr, tls_config)


def default_connection() -> Connection:
    """The shared connection of the top-level helpers, made on first use."""
    global _default
    with _lock:
        if _default is None or _default.closed:
            ctx = load_context()
            _default = Connection(ctx.endpoint, TlsConfig(ca_file=ctx.ca_file))
        return _default


def reset_default_connection() -> None:
    """Close the default connection; the next helper call makes a fresh one."""
    global _default
    with _lock:
        conn, _default = _default, None
    if conn is not None:
        conn.close()


def _resreq(value: ResourceRequirement | str | None) -> ResourceRequirement | None:
    if value is None or isinstance(value, ResourceRequirement):
        return value
    if isinstance(value, str):
        return ResourceRequirement.from_string(value)
    raise InvalidArgumentError(
        f"resreq must be a ResourceRequirement or a string like 'cpu=1,mem=1g', got {type(value).__name__}"
    )


def session_attributes(
    application: str,
    common_data: bytes | None = None,
    session_id: str | None = None,
    min_instances: int = 0,
    max_instances: int | None = None,
    batch_size: int = 1,
    resreq: ResourceRequirement | str | None = None,
) -> SessionAttributes:
    """Validated SessionAttributes from the helper arguments."""
    if common_data is not None and not isinstance(common_data, bytes | bytearray | memoryview):
        raise InvalidArgumentError(f"common_data must be bytes, got {type(common_data).__name__}")
    for name, value in (("min_instances", min_instances), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    if max_instances is not None and (not isinstance(max_instances, int) or max_instances < 0):
        raise InvalidArgumentError(f"max_instances must be a non-negative integer, got {max_instances!r}")
    return SessionAttributes(
        application=application,
        id=session_id,
        common_data=bytes(common_data) if common_data is not None else None,
        min_instances=min_instances,
        max_instances=max_instances,
        batch_size=batch_size,
        resreq=_resreq(resreq),
    )


def create_session(
    application: str,
    common_data: bytes | None = None,
    session_id: str | None = None,
    min_instances: int = 0,
    max_instances: int | None = None,
    batch_size: int = 1,
    resreq: ResourceRequirement | str | None = None,
    *,
    max_retries: int | None = None,
    retry_on_error: bool | None = None,
    task_timeout: float | None = None,
) -> Session:
    """A new session on the default connection; ``max_retries``, ``retry_on_error`` and
    ``task_timeout`` set its retry policy (None inherits): see :meth:`Connection.set_retry_policy`."""
    attrs = session_attributes(
        application, common_data, session_id, min_instances, max_instances, batch_size, resreq
    )
    return default_connection().create_session(
        attrs, max_retries=max_retries, retry_on_error=retry_on_error, task_timeout=task_timeout
    )


def open_session(session_id: str, spec: SessionAttributes | None = None) -> Session:
    return default_connection().open_session(session_id, spec)


def get_session(session_id: str) -> Session:
    return default_connection().get_session(session_id)


def list_sessions() -> list[Session]:
    return default_connection().list_sessions()


def close_session(session_id: str) -> Session:
    return default_connection().close_session(session_id)


def register_application(name: str, app_attrs: ApplicationAttributes | dict) -> None:
    default_connection().register_application(name, app_attrs)


def unregister_application(name: str) -> None:
    default_connection().unregister_application(name)


def update_application(name: str, app_attrs: ApplicationAttributes | dict) -> None:
    default_connection().update_application(name, app_attrs)


def get_application(name: str) -> Application | None:
    return default_connection().get_application(name)


def list_applications() -> list[Application]:
    return default_connection().list_applications()


def list_executors() -> list[Executor]:
    return default_connection().list_executors()


def list_nodes() -> list[Node]:
    return default_connection().list_nodes()


def get_node(name: str) -> Node:
    return default_connection().get_node(name)
