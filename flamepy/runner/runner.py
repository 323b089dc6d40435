"""Runner: ship plain Python functions, classes and objects of the current directory as services.

    print(Runner("add-app").service(add)(1, 2).get())     # or: with Runner("add-app") as runner: ...

Start (on first use — :meth:`Runner.service`, :meth:`Runner.put_object` — or ``__enter__``; an
interpreter exit closes a Runner left open): package the working directory (see
:mod:`flamepy.runner.package`), content-addressed in the cache under ``flmrun/packages/<digest>``
and uploaded only when that digest is not there yet; it is kept after the Runner closes, so
re-running unchanged code uploads nothing (``delete_objects("flmrun/packages")`` clears them). Then
register application ``name`` as a copy of the template (``flmrun``) with the package in its ``url``
and environment, unless it exists (``fail_if_exists=True`` → AlreadyExistsError; otherwise it is
reused and left in place).

Each :meth:`Runner.service` is one session; the callable is stored in the cache under the
session's prefix and the session's common data names it (and the package). Close (``__exit__``,
idempotent): close the sessions, delete their objects, unregister the application if this Runner
registered it, close the connection.

Concurrency: the caller's threads; one "submitter" thread per Runner sends calls whose ObjectFuture
arguments finish later. Thread-safe.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from flamepy.client import session_attributes
from flamepy.config import FlameContext, load_context
from flamepy.connection import Connection, default_session_id
from flamepy.errors import (
    AlreadyExistsError,
    FlameError,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
)
from flamepy.runner import codec, future
from flamepy.runner.codec import PackageInfo, ServiceSpec
from flamepy.runner.future import ObjectFuture, ObjectFutureIterator
from flamepy.runner.package import build_archive, collect_files, package_digest
from flamepy.runner.service import RemoteService, kind_of, public_methods
from flamepy.runner.store import CacheStore, ObjectStore
from flamepy.runner.types import RunnerContext
from flamepy.tls import TlsConfig
from flamepy.types import ResourceRequirement

__all__ = [
    "ObjectFuture",
    "ObjectFutureIterator",
    "PackageUpload",
    "Runner",
    "RunnerService",
    "current_runner",
]

log = logging.getLogger(__name__)

TEMPLATE_APPLICATION = "flmrun"
PYTHON_VERSION_ENV = "FLAME_PYTHON_VERSION"
DEPENDENCIES_ENV = "FLAME_RUNNER_DEPENDENCIES"
PACKAGE_PREFIX = "flmrun/packages"
PACKAGE_ENV = "FLAME_RUNNER_PACKAGE"
DIGEST_ENV = "FLAME_RUNNER_PACKAGE_DIGEST"

# Open Runners, most recent last: ``@flamepy.function``'s ``.remote()`` uses the last one.
_active: list[Runner] = []
_active_lock = threading.Lock()


def current_runner() -> Runner | None:
    """The most recently started Runner of this process that is still open."""
    with _active_lock:
        return _active[-1] if _active else None


@dataclass(frozen=True)
class PackageUpload:
    """The Runner's code package: its digest, where it is, and whether this Runner uploaded it."""

    digest: str
    ref: Any
    files: int
    uploaded: bool


class Runner:
    """Packages the working directory, registers application ``name`` and makes services of it."""

    def __init__(
        self,
        name: str,
        fail_if_exists: bool = False,
        dependencies: list[str] | None = None,
        python_version: str | None = None,
        *,
        root: str | Path | None = None,
        context: FlameContext | None = None,
        store: ObjectStore | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"Runner name must be a non-empty string, got {name!r}")
        self.name = name
        self.fail_if_exists = fail_if_exists
        self.dependencies = list(dependencies or [])
        self.python_version = python_version
        self.root = Path(root) if root is not None else Path.cwd()
        self._context = context
        self._store: ObjectStore | None = store
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._first_use = threading.Lock()  # one thread starts a Runner on first use; others wait
        self._services: list[RemoteService] = []
        self._by_key: dict[object, RemoteService] = {}
        self._submitter: ThreadPoolExecutor | None = None
        self._registered = False
        self._state = "new"  # new → open → closed
        self.package: PackageUpload | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Runner:
        """Package, upload and register (see the module docstring); returns self."""
        with self._lock:
            if self._state != "new":
                raise InvalidStateError(f"Runner {self.name!r} was already started")
            self._state = "starting"
        ctx = self._context or load_context()
        store = self._store = self._store or CacheStore()
        conn = self._conn = Connection(ctx.endpoint, TlsConfig(ca_file=ctx.ca_file))
        try:
            existing = conn.get_application(self.name)
            if existing is not None and self.fail_if_exists:
                raise AlreadyExistsError(f"application {self.name!r} already exists (fail_if_exists=True)")
            self.package = _upload_package(store, self.root, ctx.package_excludes)
            if existing is None:
                self._registered = self._register(conn, self.package)
        except BaseException:
            conn.close()
            with self._lock:
                self._state = "closed"
            raise
        self._submitter = ThreadPoolExecutor(1, thread_name_prefix=f"flame-runner-{self.name}")
        with self._lock:
            self._state = "open"
        with _active_lock:
            _active.append(self)
        atexit.register(self.close)
        log.info(
            "runner %s: package %s (%d files, %s), application %s",
            self.name,
            self.package.digest[:12],
            self.package.files,
            "uploaded" if self.package.uploaded else "already in the cache",
            "registered" if self._registered else "reused",
        )
        return self

    def close(self) -> None:
        """Close the sessions, delete their objects, unregister the application if this Runner
        registered it (idempotent; problems are logged, not raised)."""
        with self._lock:
            if self._state in ("closed", "new"):
                self._state = "closed"
                return
            self._state = "closed"
            services, self._services = self._services, []
            self._by_key.clear()
        with _active_lock:
            if self in _active:
                _active.remove(self)
        atexit.unregister(self.close)
        for svc in services:
            _quietly(svc.close, f"close session {svc.session_id}")
        if self._submitter is not None:
            self._submitter.shutdown(wait=True, cancel_futures=True)
        store, conn = self._store, self._conn
        for svc in services:
            if store is not None:
                _quietly(lambda s=svc: store.delete(f"{self.name}/{s.session_id}"), "delete objects")
        if conn is not None:
            if self._registered:
                _quietly(lambda: conn.unregister_application(self.name), "unregister")
            conn.close()

    @property
    def template(self) -> str:
        """The application this Runner's application copies (``runner.template``, default flmrun)."""
        ctx = self._context or load_context()
        return ctx.runner_template or TEMPLATE_APPLICATION

    def put_object(self, obj: Any) -> Any:
        """Store ``obj`` where every service of this Runner can read it (``<name>/shared``)."""
        _, store, _ = self._open_parts()
        return store.put(f"{self.name}/shared", obj)

    @property
    def registered(self) -> bool:
        """Whether this Runner registered its application (and unregisters it on close)."""
        return self._registered

    # -- services --------------------------------------------------------------------------------

    def service(
        self,
        execution_object: Any,
        autoscale: bool | None = None,
        warmup: int = 0,
        resreq: ResourceRequirement | str | None = None,
    ) -> RunnerService:
        """A remote service of a function or class (stateless) or an object (stateful, one instance)."""
        conn, store, submitter = self._open_parts()
        scaling = RunnerContext(execution_object, autoscale=autoscale, warmup=warmup)
        min_instances, max_instances = scaling.min_instances, scaling.max_instances
        kind = kind_of(execution_object)
        name = _display_name(execution_object)
        chosen = getattr(execution_object, "_session_context", None)
        session_id = getattr(chosen, "session_id", None) or default_session_id(self.name)
        prefix = f"{self.name}/{session_id}"
        object_ref = store.put(prefix, execution_object)
        assert self.package is not None
        spec = ServiceSpec(kind, name, object_ref, PackageInfo(self.package.digest, self.package.ref))
        try:
            attrs = session_attributes(
                self.name, codec.encode(spec), session_id, min_instances, max_instances, 1, resreq
            )
            session = conn.create_session(attrs)
        except BaseException:
            _quietly(lambda: store.delete(prefix), "delete objects")
            raise
        methods = public_methods(execution_object, kind)
        svc: RunnerService = RunnerService.attach(session, kind, name, methods, store, submitter)
        with self._lock:
            if self._state != "open":
                _quietly(session.close, f"close session {session_id}")
                raise InvalidStateError(f"Runner {self.name!r} is closed")
            self._services.append(svc)
        return svc

    def service_for(self, key: object, execution_object: Any, **options: Any) -> RemoteService:
        """The service made for ``key`` by an earlier call, else a new :meth:`service` remembered
        under ``key`` (how ``@flamepy.function`` reuses one session per function and Runner)."""
        with self._lock:
            found = self._by_key.get(key)
        if found is not None:
            return found
        svc = self.service(execution_object, **options)
        with self._lock:
            return self._by_key.setdefault(key, svc)

    # -- many futures ----------------------------------------------------------------------------

    @staticmethod
    def get(futures: Iterable[ObjectFuture]) -> list[Any]:
        """Every result, in order (raises the first failure, in list order)."""
        return future.get_all(futures)

    @staticmethod
    def ref(futures: Iterable[ObjectFuture]) -> list[Any]:
        """Every result's ObjectRef, in order."""
        return future.ref_all(futures)

    @staticmethod
    def wait(futures: Iterable[ObjectFuture], timeout: float | None = None) -> bool:
        """Wait until every call finished; False when ``timeout`` passed first."""
        return future.wait_all(futures, timeout)

    @staticmethod
    def select(futures: Iterable[ObjectFuture], timeout: float | None = None) -> Iterator[ObjectFuture]:
        """The futures in the order their calls finish."""
        return future.select(futures, timeout)

    # -- internals -------------------------------------------------------------------------------

    def _open_parts(self) -> tuple[Connection, ObjectStore, ThreadPoolExecutor]:
        """The open Runner's parts; a new Runner starts here (first use)."""
        with self._first_use:
            with self._lock:
                state = self._state
            if state == "new":
                with contextlib.suppress(InvalidStateError):  # ``with`` started it meanwhile
                    self.start()
        with self._lock:
            if self._state != "open":
                raise InvalidStateError(f"Runner {self.name!r} is {self._state}")
        assert self._conn is not None and self._store is not None and self._submitter is not None
        return self._conn, self._store, self._submitter

    def _register(self, conn: Connection, package: PackageUpload) -> bool:
        """Register ``name`` from the template; False when someone else registered it meanwhile."""
        template_name = self.template
        template = conn.get_application(template_name)
        if template is None:
            raise NotFoundError(
                f"the Runner template application {template_name!r} is not registered "
                "on this cluster; register it (it runs `python -m flamepy.runner.runpy`)"
            )
        base = template.attributes
        extra = {PYTHON_VERSION_ENV: self.python_version} if self.python_version else {}
        if self.dependencies:
            extra[DEPENDENCIES_ENV] = " ".join(self.dependencies)
        attrs = dataclasses.replace(
            base,
            description=f"Runner application {self.name} (from {template_name})",
            url=f"{package.ref.endpoint}/{package.ref.key}",
            environments={
                **(base.environments or {}),
                PACKAGE_ENV: package.ref.key,
                DIGEST_ENV: package.digest,
                **extra,
            },
        )
        try:
            conn.register_application(self.name, attrs)
        except AlreadyExistsError:
            if self.fail_if_exists:
                raise
            return False
        return True


class RunnerService(RemoteService):
    """The remote handle :meth:`Runner.service` returns. Made directly (flamepy 0.6.0's way),
    ``RunnerService(app, obj, ...)`` is a service of application ``app`` through this process's
    open Runner of that name, or through a new Runner that :meth:`close` also closes."""

    def __init__(
        self,
        app: str,
        execution_object: Any,
        autoscale: bool | None = None,
        warmup: int = 0,
        resreq: ResourceRequirement | str | None = None,
    ) -> None:
        runner = _open_runner(app)
        owned = runner is None
        if runner is None:
            runner = Runner(app)
        made = runner.service(execution_object, autoscale, warmup, resreq)
        self.__dict__.update(made.__dict__)
        self._owner = runner if owned else None

    def close(self) -> None:
        """Close the session (and the Runner this handle made, if it made one)."""
        super().close()
        owner = self.__dict__.get("_owner")
        if owner is not None:
            owner.close()


def _open_runner(name: str) -> Runner | None:
    with _active_lock:
        return next((r for r in reversed(_active) if r.name == name), None)


def _upload_package(store: ObjectStore, root: Path, excludes: tuple[str, ...]) -> PackageUpload:
    files = collect_files(root, excludes)
    digest = package_digest(root, files)
    key = f"{PACKAGE_PREFIX}/{digest}"
    ref = store.exists(key)
    if ref is not None:
        return PackageUpload(digest, ref, len(files), uploaded=False)
    with tempfile.TemporaryDirectory(prefix="flame-runner-") as tmp:
        archive = build_archive(root, files, Path(tmp) / "package.tar.gz")
        ref = store.upload(key, archive)
    return PackageUpload(digest, ref, len(files), uploaded=True)


def _display_name(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return str(name) if name else type(obj).__qualname__


def _quietly(action: Any, what: str) -> None:
    try:
        action()
    except FlameError as exc:
        log.warning("runner close: %s failed: %s", what, exc)
