"""Pins the public API of ``flamepy`` and keeps ``import flamepy`` cheap."""

from __future__ import annotations

import subprocess
import sys

import flamepy

EXPECTED = {
    # errors
    "FlameError", "FlameErrorCode", "InvalidConfigError", "InvalidStateError", "InvalidArgumentError",
    "InternalError", "AlreadyExistsError", "NotFoundError", "UnavailableError", "TaskTimeoutError",
    "ResourceExhaustedError", "AuthenticationError",
    # types
    "SessionState", "TaskState", "ApplicationState", "ExecutorState", "NodeState", "Shim",
    "ResourceRequirement", "SessionAttributes", "SessionStatus", "ApplicationAttributes",
    "ApplicationSchema", "Application", "Task", "Event", "Executor", "Node",
    # client
    "connect", "create_session", "open_session", "get_session", "list_sessions", "close_session",
    "register_application", "unregister_application", "update_application", "get_application",
    "list_applications", "list_executors", "list_nodes", "get_node", "reset_default_connection",
    "Connection", "Session", "TaskWatcher", "TlsConfig",
    # service
    "FlameService", "SessionContext", "TaskContext", "ApplicationContext", "run",
    # object cache
    "ObjectRef", "put_object", "get_object", "update_object",
    # runner
    "function", "invoke",
    # flamepy 0.6.0's names: aliases, defaults, configuration, and its subpackages as attributes
    "TaskID", "SessionID", "ApplicationID", "Message", "TaskInput", "TaskOutput", "CommonData",
    "DEFAULT_FLAME_CONF", "DEFAULT_FLAME_ENDPOINT", "DEFAULT_FLAME_CACHE_ENDPOINT",
    "FLAME_INSTANCE_ENDPOINT", "FlameContext", "FlameContextRunner", "FlamePackage", "TaskInformer",
    "runner", "service", "util",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(flamepy.__all__) == EXPECTED
    assert len(flamepy.__all__) == len(EXPECTED)


def test_every_export_resolves() -> None:
    for name in flamepy.__all__:
        assert getattr(flamepy, name) is not None, name
    assert set(flamepy.__all__) <= set(dir(flamepy))


def test_error_subclasses_share_the_root() -> None:
    for name in ("InvalidConfigError", "InvalidStateError", "NotFoundError", "UnavailableError"):
        assert issubclass(getattr(flamepy, name), flamepy.FlameError)


def test_import_is_cheap() -> None:
    code = "import sys, flamepy; print('grpc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_raises() -> None:
    try:
        flamepy.does_not_exist  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
