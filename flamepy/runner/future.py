"""ObjectFuture: the result of one remote call.

An ObjectFuture wraps the ``concurrent.futures.Future`` of its task, which resolves to the task's
output: a small result itself (pickled, :class:`~flamepy.runner.codec.InlineResult`) or the encoded
reference of the result in the object cache. ``get()`` returns the value (fetched once, then kept),
``ref()`` its reference in the cache (a small result is put there on the first ``ref()``), ``wait()``
only waits. A failed call raises the remote exception (see :mod:`flamepy.runner.codec`), fetched
once and then kept. Thread-safe.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from flamepy.errors import FlameError, InternalError
from flamepy.runner import codec
from flamepy.runner.store import CacheStore, ObjectStore

_UNSET: Any = object()
_FAILED_PREFIX = " failed: "


class ObjectFuture:
    """A handle on the result of a remote call (see the module docstring)."""

    def __init__(self, future: Future, store: ObjectStore | None = None, key_prefix: str = "") -> None:
        self._future = future
        self._store = store if store is not None else CacheStore()
        self._key_prefix = key_prefix  # where ref() puts a small result
        self._lock = threading.Lock()
        self._ref: Any = _UNSET
        self._value: Any = _UNSET
        self._error: BaseException | None = None

    @property
    def future(self) -> Future:
        """The task's Future (resolves to the encoded result reference)."""
        return self._future

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the call finished (successfully or not); False if ``timeout`` passed first."""
        done, _ = concurrent.futures.wait([self._future], timeout=timeout)
        return bool(done)

    def _output(self, timeout: float | None) -> Any:
        """The decoded task output (an InlineResult or a cache reference); raises the remote exception."""
        try:
            output = self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise
        except BaseException as exc:
            raise self._remote_error(exc) from None
        decoded = codec.get_data(output)
        if not isinstance(decoded, codec.InlineResult) and not self._store.is_ref(decoded):
            raise InternalError(f"a Runner task returned {type(decoded).__name__}, not a result")
        return decoded

    def ref(self, timeout: float | None = None) -> Any:
        """The ObjectRef of the result in the object cache; raises the remote exception."""
        if self._ref is not _UNSET:
            return self._ref
        out = self._output(timeout)
        with self._lock:
            if self._ref is _UNSET:
                if isinstance(out, codec.InlineResult):
                    out = self._store.put(self._key_prefix, self._value_of(out))
                self._ref = out
            return self._ref

    def get(self, timeout: float | None = None) -> Any:
        """The result (fetched from the cache on the first call); raises the remote exception."""
        if self._value is not _UNSET:
            return self._value
        out = self._output(timeout)
        with self._lock:
            if self._value is _UNSET:
                self._value = self._value_of(out)
            return self._value

    def _value_of(self, out: Any) -> Any:
        if self._value is not _UNSET:
            return self._value
        if isinstance(out, codec.InlineResult):
            return codec.get_data(out.data)
        return self._store.get(out)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The remote exception, or None when the call succeeded."""
        try:
            self.ref(timeout)
        except concurrent.futures.TimeoutError:
            raise
        except BaseException as exc:
            return exc
        return None

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<ObjectFuture {state}>"

    def _remote_error(self, exc: BaseException) -> BaseException:
        """The exception to raise for a failed task: the remote one when the task says where it is."""
        with self._lock:
            if self._error is None:
                self._error = _translate(exc, self._store)
            return self._error


def _translate(exc: BaseException, store: ObjectStore) -> BaseException:
    if not isinstance(exc, InternalError):
        return exc  # not a failed call: cancelled, session closed, transport error, a dependency's error
    fields = codec.error_ref_fields(exc.message)
    if fields is None:
        return exc
    try:
        info = store.get(store.make_ref(**fields))
    except FlameError:
        info = None
    if not isinstance(info, codec.ErrorInfo):
        return _error_from_text(exc.message)
    return info.to_exception()


def _error_from_text(message: str) -> codec.RemoteError:
    """A RemoteError from a failure message alone (the stored error is gone)."""
    text = message.split(_FAILED_PREFIX, 1)[-1]
    text = text.removeprefix(f"{codec.CallFailed.__name__}: ")
    text = text[: text.rfind(codec.ERROR_MARKER)].rstrip() if codec.ERROR_MARKER in text else text
    head, _, rest = text.partition("\n")
    type_name, _, msg = head.partition(": ")
    return codec.RemoteError(type_name or "Exception", msg, rest)


# -- many futures ------------------------------------------------------------------------------------


def get_all(futures: Iterable[ObjectFuture]) -> list[Any]:
    """Every result, in order; raises the first failure in list order."""
    items = list(futures)
    concurrent.futures.wait([f.future for f in items])
    return [f.get() for f in items]


def ref_all(futures: Iterable[ObjectFuture]) -> list[Any]:
    items = list(futures)
    concurrent.futures.wait([f.future for f in items])
    return [f.ref() for f in items]


def wait_all(futures: Iterable[ObjectFuture], timeout: float | None = None) -> bool:
    """Wait for every call; False if ``timeout`` passed first."""
    _, not_done = concurrent.futures.wait([f.future for f in futures], timeout=timeout)
    return not not_done


class ObjectFutureIterator:
    """Iterates ``futures`` in the order their calls finish."""

    def __init__(self, futures: Iterable[ObjectFuture], timeout: float | None = None) -> None:
        self._items = select(futures, timeout)

    def __iter__(self) -> ObjectFutureIterator:
        return self

    def __next__(self) -> ObjectFuture:
        return next(self._items)


def select(futures: Iterable[ObjectFuture], timeout: float | None = None) -> Iterator[ObjectFuture]:
    """The futures in the order their calls finish."""
    by_future = {f.future: f for f in futures}
    for done in concurrent.futures.as_completed(by_future, timeout=timeout):
        yield by_future[done]
