"""flamepy 0.6.0's ``flamepy.core.types``: the plain types, aliases, defaults and configuration.

The types themselves are ours (:mod:`flamepy.types`, :mod:`flamepy.errors`); this module adds
0.6.0's aliases and constants and :class:`FlameContext`, a read-only view of our configuration
(:func:`flamepy.config.load_context`: ``~/.flame/flame.yaml`` + ``FLAME_*`` variables).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flamepy.config import DEFAULT_CACHE_ENDPOINT, DEFAULT_ENDPOINT, load_context
from flamepy.errors import FlameError, FlameErrorCode
from flamepy.types import (
    Application,
    ApplicationAttributes,
    ApplicationSchema,
    ApplicationState,
    Event,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    Shim,
    Task,
    TaskState,
)
from flamepy.util import short_name

__all__ = [
    "DEFAULT_FLAME_CACHE_ENDPOINT",
    "DEFAULT_FLAME_CONF",
    "DEFAULT_FLAME_ENDPOINT",
    "DEFAULT_FLAME_RUNNER_TEMPLATE",
    "Application",
    "ApplicationAttributes",
    "ApplicationID",
    "ApplicationSchema",
    "ApplicationState",
    "CommonData",
    "Event",
    "FlameClientCache",
    "FlameClientTls",
    "FlameClusterConfig",
    "FlameContext",
    "FlameContextRunner",
    "FlameError",
    "FlameErrorCode",
    "FlamePackage",
    "Message",
    "ResourceRequirement",
    "SessionAttributes",
    "SessionID",
    "SessionState",
    "Shim",
    "Task",
    "TaskID",
    "TaskInformer",
    "TaskInput",
    "TaskOutput",
    "TaskState",
    "short_name",
]

TaskID = str
SessionID = str
ApplicationID = str
Message = bytes
TaskInput = bytes
TaskOutput = bytes
CommonData = bytes

DEFAULT_FLAME_CONF = "flame.yaml"  # the file name under ~/.flame
DEFAULT_FLAME_ENDPOINT = DEFAULT_ENDPOINT
DEFAULT_FLAME_CACHE_ENDPOINT = DEFAULT_CACHE_ENDPOINT
DEFAULT_FLAME_RUNNER_TEMPLATE = "flmrun"
DEFAULT_PACKAGE_EXCLUDES = (".venv", "__pycache__", ".gitignore", "*.pyc")


@dataclass
class FlameClientTls:
    """TLS settings of a client: the CA bundle that signs the server's certificate."""

    ca_file: str | None = None


@dataclass
class FlameClientCache:
    """Where the object cache is (and a local storage directory, when configured)."""

    endpoint: str | None = None
    tls: FlameClientTls | None = None
    storage: str | None = None


@dataclass
class FlameClusterConfig:
    endpoint: str = ""
    tls: FlameClientTls | None = None


@dataclass
class FlameContextRunner:
    """The Runner's settings: the application it copies (default ``flmrun``)."""

    template: str | None = None


@dataclass
class FlamePackage:
    """Where Runner packages go and which files they leave out."""

    storage: str | None
    excludes: list[str] = field(default_factory=lambda: list(DEFAULT_PACKAGE_EXCLUDES))


class FlameContext:
    """The client configuration, loaded when made (the file and ``FLAME_*`` overrides)."""

    def __init__(self) -> None:
        self._ctx = load_context()

    @property
    def endpoint(self) -> str:
        return self._ctx.endpoint or DEFAULT_FLAME_ENDPOINT

    @property
    def tls(self) -> FlameClientTls | None:
        return FlameClientTls(self._ctx.ca_file) if self._ctx.ca_file else None

    @property
    def cache(self) -> FlameClientCache:
        return FlameClientCache(self.cache_endpoint, self.cache_tls, self._ctx.cache_storage)

    @property
    def cache_endpoint(self) -> str:
        return self._ctx.cache_endpoint or DEFAULT_FLAME_CACHE_ENDPOINT

    @property
    def cache_tls(self) -> FlameClientTls | None:
        return self.tls

    @property
    def package(self) -> FlamePackage | None:
        """Set when ``package.storage`` is configured (as in 0.6.0)."""
        if not self._ctx.package_storage:
            return None
        excludes = sorted(set(DEFAULT_PACKAGE_EXCLUDES) | set(self._ctx.package_excludes))
        return FlamePackage(self._ctx.package_storage, excludes)

    @property
    def runner(self) -> FlameContextRunner:
        return FlameContextRunner(self._ctx.runner_template or DEFAULT_FLAME_RUNNER_TEMPLATE)


class TaskInformer:
    """Callbacks for task updates; override what you need (both do nothing here)."""

    def on_update(self, task: Task) -> None:
        """A new snapshot of a watched task."""

    def on_error(self, error: FlameError) -> None:
        """Watching failed."""
