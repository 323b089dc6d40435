"""Flame for Python: the client SDK and the service runtime.

Client::

    ssn = flamepy.create_session("my-app", common_data=b"...", resreq="cpu=1,mem=1g")
    out = ssn.invoke(b"hello")
    futures = [ssn.run(x) for x in inputs]
    ssn.close()

Service::

    class Echo(flamepy.FlameService): ...
    flamepy.run(Echo())

Plain functions, no service to write: ``flamepy.runner.Runner``, ``@flamepy.function``
(``f.remote(...)``) and ``flamepy.invoke("file.py", "fn", args=[...])``.

Errors and types import eagerly; everything that needs grpc loads on first use, so ``import
flamepy`` (and ``import flamepy.types`` by the servers) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flamepy.errors import (
    AlreadyExistsError,
    AuthenticationError,
    FlameError,
    FlameErrorCode,
    InternalError,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidStateError,
    NotFoundError,
    ResourceExhaustedError,
    TaskTimeoutError,
    UnavailableError,
)
from flamepy.types import (
    Application,
    ApplicationAttributes,
    ApplicationSchema,
    ApplicationState,
    Event,
    Executor,
    ExecutorState,
    Node,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    SessionStatus,
    Shim,
    Task,
    TaskState,
)

if TYPE_CHECKING:
    from flamepy.cache import ObjectRef, get_object, put_object, update_object
    from flamepy.client import (
        close_session,
        connect,
        create_session,
        get_application,
        get_node,
        get_session,
        list_applications,
        list_executors,
        list_nodes,
        list_sessions,
        open_session,
        register_application,
        reset_default_connection,
        unregister_application,
        update_application,
    )
    from flamepy.connection import Connection
    from flamepy.core.service import FLAME_INSTANCE_ENDPOINT
    from flamepy.core.types import (
        DEFAULT_FLAME_CACHE_ENDPOINT,
        DEFAULT_FLAME_CONF,
        DEFAULT_FLAME_ENDPOINT,
        ApplicationID,
        CommonData,
        FlameContext,
        FlameContextRunner,
        FlamePackage,
        Message,
        SessionID,
        TaskID,
        TaskInformer,
        TaskInput,
        TaskOutput,
    )
    from flamepy.runner.decorator import function, invoke
    from flamepy.service import (
        ApplicationContext,
        FlameService,
        SessionContext,
        TaskContext,
        run,
    )
    from flamepy.session import Session, TaskWatcher
    from flamepy.tls import TlsConfig

_LAZY: dict[str, str] = {
    "connect": "flamepy.client",
    "create_session": "flamepy.client",
    "open_session": "flamepy.client",
    "get_session": "flamepy.client",
    "list_sessions": "flamepy.client",
    "close_session": "flamepy.client",
    "register_application": "flamepy.client",
    "unregister_application": "flamepy.client",
    "update_application": "flamepy.client",
    "get_application": "flamepy.client",
    "list_applications": "flamepy.client",
    "list_executors": "flamepy.client",
    "list_nodes": "flamepy.client",
    "get_node": "flamepy.client",
    "reset_default_connection": "flamepy.client",
    "Connection": "flamepy.connection",
    "Session": "flamepy.session",
    "TaskWatcher": "flamepy.session",
    "TlsConfig": "flamepy.tls",
    "FlameService": "flamepy.service",
    "SessionContext": "flamepy.service",
    "TaskContext": "flamepy.service",
    "ApplicationContext": "flamepy.service",
    "run": "flamepy.service",
    "ObjectRef": "flamepy.cache",
    "put_object": "flamepy.cache",
    "get_object": "flamepy.cache",
    "update_object": "flamepy.cache",
    "function": "flamepy.runner.decorator",
    "invoke": "flamepy.runner.decorator",
    "FLAME_INSTANCE_ENDPOINT": "flamepy.core.service",
    **{
        name: "flamepy.core.types"
        for name in (
            "ApplicationID",
            "CommonData",
            "DEFAULT_FLAME_CACHE_ENDPOINT",
            "DEFAULT_FLAME_CONF",
            "DEFAULT_FLAME_ENDPOINT",
            "FlameContext",
            "FlameContextRunner",
            "FlamePackage",
            "Message",
            "SessionID",
            "TaskID",
            "TaskInformer",
            "TaskInput",
            "TaskOutput",
        )
    },
}
# Subpackages that ``import flamepy`` makes available as attributes (as flamepy 0.6.0 did), on first use.
_SUBMODULES = ("runner", "service", "util")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"flamepy.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flamepy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__all__ = [
    "DEFAULT_FLAME_CACHE_ENDPOINT",
    "DEFAULT_FLAME_CONF",
    "DEFAULT_FLAME_ENDPOINT",
    "FLAME_INSTANCE_ENDPOINT",
    "AlreadyExistsError",
    "Application",
    "ApplicationAttributes",
    "ApplicationContext",
    "ApplicationID",
    "ApplicationSchema",
    "ApplicationState",
    "AuthenticationError",
    "CommonData",
    "Connection",
    "Event",
    "Executor",
    "ExecutorState",
    "FlameContext",
    "FlameContextRunner",
    "FlameError",
    "FlameErrorCode",
    "FlamePackage",
    "FlameService",
    "InternalError",
    "InvalidArgumentError",
    "InvalidConfigError",
    "InvalidStateError",
    "Message",
    "Node",
    "NodeState",
    "NotFoundError",
    "ObjectRef",
    "ResourceExhaustedError",
    "ResourceRequirement",
    "Session",
    "SessionAttributes",
    "SessionContext",
    "SessionID",
    "SessionState",
    "SessionStatus",
    "Shim",
    "Task",
    "TaskContext",
    "TaskID",
    "TaskInformer",
    "TaskInput",
    "TaskOutput",
    "TaskState",
    "TaskTimeoutError",
    "TaskWatcher",
    "TlsConfig",
    "UnavailableError",
    "close_session",
    "connect",
    "create_session",
    "function",
    "get_application",
    "get_node",
    "get_object",
    "get_session",
    "invoke",
    "list_applications",
    "list_executors",
    "list_nodes",
    "list_sessions",
    "open_session",
    "put_object",
    "register_application",
    "reset_default_connection",
    "run",
    "runner",
    "service",
    "unregister_application",
    "update_application",
    "update_object",
    "util",
]
