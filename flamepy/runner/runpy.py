"""The service side of Runner applications: ``python -m flamepy.runner.runpy`` (the ``flmrun`` command).

Per session (:meth:`RunnerRuntime.on_session_enter`) it reads the :class:`ServiceSpec` from the
common data. On the first task it installs the code package (downloaded and extracted once per
digest under the work directory, ``$FLAME_RUNNER_WORK_DIR`` or ``./.flmrun/packages``, shared by
the executors of a node), puts it first on ``sys.path``, makes it the working directory and loads
the function, class (instantiated once) or object from the cache. Loading happens in a task, not
in OnSessionEnter, so a broken package fails the calls with its error instead of failing binds.

Per task: decode the call, resolve ObjectRef arguments from the cache, call, answer a small result
inline (pickled) or put a bigger one in the cache and answer its reference; a stateful object is
saved back to the cache after every call. An exception is stored in the cache (pickled when it
round-trips, with its traceback text) and the task fails with a message naming it. One call at a
time (the service runtime's model).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flamepy.core.service import FlameService, SessionContext, TaskContext
from flamepy.errors import InvalidArgumentError
from flamepy.runner import codec
from flamepy.runner.codec import Call, CallFailed, CallRef, ErrorInfo, PackageInfo, ServiceKind, ServiceSpec
from flamepy.runner.package import extract_package
from flamepy.runner.store import CacheStore, ObjectStore
from flamepy.runner.types import RunnerRequest

__all__ = ["MAX_PARALLEL_RESOLVE", "FlameRunpyService", "RunnerRuntime", "main"]

log = logging.getLogger(__name__)

# flamepy 0.6.0 fetched up to this many ObjectRef arguments of a call at once; we fetch them one
# after the other (each is one streamed get from the cache).
MAX_PARALLEL_RESOLVE = 8

WORK_DIR_ENV = "FLAME_RUNNER_WORK_DIR"
_UNSET: Any = object()


class FlameRunpyService(FlameService):
    """The ``flmrun`` service: runs the calls of Runner sessions (see the module docstring)."""

    def __init__(
        self,
        store_factory: Callable[[], ObjectStore] = CacheStore,
        work_dir: str | Path | None = None,
    ) -> None:
        self._store_factory = store_factory
        self._store: ObjectStore | None = None
        self._work_dir = Path(work_dir or os.environ.get(WORK_DIR_ENV) or ".flmrun/packages").absolute()
        self._context: SessionContext | None = None
        self._spec: ServiceSpec | None = None
        self._target: Any = _UNSET
        self._state_ref: Any = None
        self._installed: set[str] = set()

    # -- FlameService ----------------------------------------------------------------------------

    def on_session_enter(self, context: SessionContext) -> None:
        self._context = context
        self._spec = None
        self._target = _UNSET
        log.info("runner session %s of %s", context.session_id, context.application)

    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        store = self._get_store()
        prefix = f"{self._app()}/{context.session_id}"
        try:
            target = self._load(store)
            call = self._read_call(store, context.input)
            func = target if call.method is None else getattr(target, call.method)
            args: Any = codec.map_args(call.args, lambda v: _fetch(store, v))
            kwargs: Any = codec.map_args(call.kwargs, lambda v: _fetch(store, v))
        except Exception as exc:
            raise self._failure(store, prefix, ErrorInfo.capture(exc)) from None
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            raise self._failure(store, prefix, ErrorInfo.capture(exc, skip_frames=1)) from None
        finally:
            self._save_state(store)
        try:
            pickled = codec.encode(result)
            if len(pickled) <= codec.INLINE_RESULT_LIMIT:  # no cache round trip for small results
                return codec.encode(codec.InlineResult(pickled))
            ref = store.put(prefix, result)
        except Exception as exc:
            raise self._failure(store, prefix, ErrorInfo.capture(exc)) from None
        return codec.encode(ref)

    def on_session_leave(self) -> None:
        self._target = _UNSET
        self._spec = None

    # -- loading ---------------------------------------------------------------------------------

    def _app(self) -> str:
        return self._context.application.name if self._context is not None else "unknown"

    def _get_store(self) -> ObjectStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def _load(self, store: ObjectStore) -> Any:
        if self._target is not _UNSET:
            return self._target
        ctx = self._context
        common = ctx.common_data() if ctx is not None else None
        spec: ServiceSpec = codec.decode_as(common, ServiceSpec, "the session's common data")
        if spec.package is not None:
            self._install(store, spec.package)
        obj = store.get(spec.object_ref)
        if spec.kind is ServiceKind.CLASS:
            obj = obj()  # type: ignore[operator]
        self._spec = spec
        self._state_ref = spec.object_ref if spec.kind is ServiceKind.OBJECT else None
        self._target = obj
        log.info("loaded %s %s", spec.kind.value, spec.name)
        return obj

    def _install(self, store: ObjectStore, package: PackageInfo) -> Path:
        target = self._work_dir / package.digest
        if not target.is_dir():
            self._work_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{package.digest[:12]}-", suffix=".tar.gz", dir=self._work_dir
            )
            os.close(fd)
            try:
                store.download(package.ref, Path(tmp))
                extract_package(tmp, self._work_dir, package.digest)
            finally:
                Path(tmp).unlink(missing_ok=True)
        if package.digest not in self._installed:
            sys.path.insert(0, str(target))
            self._installed.add(package.digest)
        os.chdir(target)
        return target

    def _read_call(self, store: ObjectStore, data: bytes | None) -> Call:
        value = codec.get_data(data)
        if isinstance(value, CallRef):
            value = store.get(value.ref)
        if isinstance(value, RunnerRequest):
            value = value.to_call()
        if not isinstance(value, Call):
            raise InvalidArgumentError(f"task input is {type(value).__name__}, not a Runner call")
        return value

    # -- results and errors ----------------------------------------------------------------------

    def _save_state(self, store: ObjectStore) -> None:
        if self._state_ref is not None:
            self._state_ref = store.update(self._state_ref, self._target)

    def _failure(self, store: ObjectStore, prefix: str, info: ErrorInfo) -> CallFailed:
        try:
            ref = store.put(prefix, info)
        except Exception as exc:  # the text still reaches the client
            log.warning("cannot store the error of a call: %s", exc)
            ref = None
        return CallFailed(codec.failure_message(info, ref))


def _fetch(store: ObjectStore, value: object) -> object:
    return store.get(value) if store.is_ref(value) else codec.KEEP


RunnerRuntime = FlameRunpyService  # this SDK's earlier name


def main() -> None:
    from flamepy.core.service import run

    run(FlameRunpyService())


if __name__ == "__main__":
    main()
