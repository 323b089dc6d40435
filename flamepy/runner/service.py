"""RunnerService: the client-side handle of one remote function, class or object (one session).

Calling the handle (or one of its methods, ``svc.method(...)``) submits a task and returns an
:class:`~flamepy.runner.future.ObjectFuture` at once. ObjectFuture arguments become the ObjectRefs
of their results, which the service resolves from the cache; a call whose ObjectFuture arguments
are not finished yet is submitted when they are (by the Runner's one submitting thread), so
``c(a(1, 2), b(3, 4))`` never blocks. A failed dependency fails the call with the same error.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from flamepy.errors import InvalidArgumentError, InvalidStateError
from flamepy.runner import codec
from flamepy.runner.codec import Call, CallRef, ServiceKind
from flamepy.runner.future import ObjectFuture
from flamepy.runner.store import ObjectStore

STATELESS_MARK = "__flame_stateless__"


def kind_of(obj: object) -> ServiceKind:
    """Functions (and marked callables) are stateless functions, classes are stateless classes,
    any other object is a stateful instance."""
    if inspect.isclass(obj):
        return ServiceKind.CLASS
    if inspect.isroutine(obj) or getattr(obj, STATELESS_MARK, False):
        return ServiceKind.FUNCTION
    if callable(obj) and type(obj).__module__ == "functools":  # partial and friends
        return ServiceKind.FUNCTION
    return ServiceKind.OBJECT


def public_methods(obj: object, kind: ServiceKind) -> frozenset[str]:
    if kind is ServiceKind.FUNCTION:
        return frozenset()
    cls = obj if kind is ServiceKind.CLASS else type(obj)
    return frozenset(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n, None)))


class RemoteService:
    """Remote callable: ``svc(*args, **kwargs)`` and ``svc.method(*args, **kwargs)`` → ObjectFuture.

    Made by :meth:`Runner.service <flamepy.runner.Runner.service>` (as its subclass
    :class:`flamepy.runner.RunnerService`) through :meth:`attach`."""

    @classmethod
    def attach(
        cls,
        session: Any,
        kind: ServiceKind,
        name: str,
        methods: frozenset[str],
        store: ObjectStore,
        submitter: Executor,
    ) -> Any:
        """A handle of ``cls`` on ``session`` (without running a subclass's constructor)."""
        svc = cls.__new__(cls)
        RemoteService._setup(svc, session, kind, name, methods, store, submitter)
        return svc

    def _setup(
        self,
        session: Any,
        kind: ServiceKind,
        name: str,
        methods: frozenset[str],
        store: ObjectStore,
        submitter: Executor,
    ) -> None:
        self._session = session
        self.kind = kind
        self.name = name
        self.methods = methods
        self._store = store
        self._submitter = submitter
        self._key_prefix = f"{session.application}/{session.id}"

    @property
    def session_id(self) -> str:
        return self._session.id

    @property
    def session(self) -> Any:
        return self._session

    def __call__(self, *args: Any, **kwargs: Any) -> ObjectFuture:
        return self.call(None, *args, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., ObjectFuture]:
        if name.startswith("_") or name not in self.__dict__.get("methods", ()):
            raise AttributeError(f"{self.__dict__.get('name', 'service')!r} has no remote method {name!r}")

        def method(*args: Any, **kwargs: Any) -> ObjectFuture:
            return self.call(name, *args, **kwargs)

        method.__name__ = name
        return method

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.kind.value}, session={self._session.id!r})"

    def call(self, method: str | None, *args: Any, **kwargs: Any) -> ObjectFuture:
        """Call ``method`` (None: the object itself) remotely."""
        if method is not None and method not in self.methods:
            raise InvalidArgumentError(f"{self.name!r} has no public method {method!r}")
        call = Call(method, tuple(args), dict(kwargs))
        pending = [f for f in _futures_in(call) if not f.done()]
        if not pending:
            try:
                resolved = _resolve(call)
            except BaseException as exc:  # a failed dependency fails this call too
                return ObjectFuture(_failed(exc), self._store, self._key_prefix)
            return ObjectFuture(self._session.run(self._encode(resolved)), self._store, self._key_prefix)
        outer: Future = Future()
        left = [len(pending)]
        lock = threading.Lock()

        def on_dependency_done(_: Future) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            try:
                self._submitter.submit(self._run_into, call, outer)
            except RuntimeError:  # the Runner is closing
                outer.set_exception(InvalidStateError(f"{self.name!r}: the Runner was closed"))

        for dep in pending:
            dep.future.add_done_callback(on_dependency_done)
        return ObjectFuture(outer, self._store, self._key_prefix)

    def close(self) -> None:
        """Close the session (idempotent)."""
        self._session.close()

    # -- internals -------------------------------------------------------------------------------

    def _encode(self, call: Call) -> bytes:
        try:
            data = codec.encode(call)
        except Exception as exc:
            raise InvalidArgumentError(f"arguments of {self.name!r} cannot be pickled: {exc}") from exc
        if len(data) > codec.INLINE_CALL_LIMIT:
            data = codec.encode(CallRef(self._store.put(self._key_prefix, call)))
        return data

    def _run_into(self, call: Call, outer: Future) -> None:
        try:
            inner = self._session.run(self._encode(_resolve(call)))
        except BaseException as exc:  # a failed dependency, session closed ...
            outer.set_exception(exc)
            return

        def copy(done: Future) -> None:
            exc = done.exception()
            if exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(copy)


def _futures_in(call: Call) -> list[ObjectFuture]:
    found = codec.find_args((call.args, call.kwargs), lambda v: isinstance(v, ObjectFuture))
    return found  # type: ignore[return-value]


def _ref_of_future(value: object) -> object:
    return value.ref() if isinstance(value, ObjectFuture) else codec.KEEP


def _resolve(call: Call) -> Call:
    """``call`` with every ObjectFuture argument replaced by the ObjectRef of its result."""
    args = codec.map_args(call.args, _ref_of_future)
    kwargs = codec.map_args(call.kwargs, _ref_of_future)
    return Call(call.method, args, kwargs)  # type: ignore[arg-type]


def _failed(exc: BaseException) -> Future:
    fut: Future = Future()
    fut.set_exception(exc)
    return fut
