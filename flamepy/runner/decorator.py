"""``@flamepy.function`` and ``flamepy.invoke``: remote calls without writing a service.

    @flamepy.function(resreq="cpu=1,gpu=1")       # or gpu=1; timeout= (s), retries= as well
    def train(epochs): ...

    train(3)                       # runs here, a plain call
    train.remote(3).get()          # runs in a remote executor

    flamepy.invoke("train.py", "train_model", args=[3], resreq="gpu=1")   # the file is not imported here

``.remote()`` uses the most recently started open :class:`~flamepy.runner.Runner` of the process;
with none, it starts the process's *default Runner* (application ``flmfn-<user>-<pid>``, packaging
the working directory), closed at interpreter exit or by :func:`shutdown`. ``invoke`` uses the open
Runner too, or a Runner of its own for the one call.
"""

from __future__ import annotations

import ast
import atexit
import dataclasses
import functools
import getpass
import os
import re
import secrets
import sys
import threading
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.runner.future import ObjectFuture
from flamepy.runner.runner import Runner, current_runner
from flamepy.types import ResourceRequirement

_default_lock = threading.Lock()
_default_runner: Runner | None = None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text).strip("-.") or "user"


def default_runner() -> Runner:
    """The open Runner to use: the most recent one, else the process's default Runner."""
    global _default_runner
    active = current_runner()
    if active is not None:
        return active
    with _default_lock:
        if _default_runner is None:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = "user"
            name = f"flmfn-{_safe_name(user)}-{os.getpid()}"[:64]
            _default_runner = Runner(name).start()
            atexit.register(shutdown)
        return _default_runner


def shutdown() -> None:
    """Close the default Runner of ``.remote()`` calls, if one was started."""
    global _default_runner
    with _default_lock:
        runner, _default_runner = _default_runner, None
    if runner is not None:
        runner.close()


class RemoteFunction:
    """A function that runs locally when called and remotely with :meth:`remote`."""

    __flame_stateless__ = True

    def __init__(
        self,
        fn: Callable[..., Any],
        resreq: ResourceRequirement | str | None = None,
        autoscale: bool | None = None,
        warmup: int = 0,
        *,
        gpu: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidArgumentError(f"@flamepy.function needs a function, got {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.options: dict[str, Any] = {
            "resreq": _with_gpu(resreq, gpu),
            "autoscale": autoscale,
            "warmup": warmup,
        }
        self.policy = _policy(timeout, retries)
        self._configured: set[str] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def remote(self, *args: Any, **kwargs: Any) -> ObjectFuture:
        """Call the function in a remote executor; the result comes back as an ObjectFuture."""
        svc = default_runner().service_for(self, self.fn, **self.options)
        if self.policy and svc.session_id not in self._configured:  # once per session, before its tasks
            svc.session.connection.set_retry_policy(session=svc.session_id, **self.policy)
            self._configured.add(svc.session_id)
        return svc(*args, **kwargs)

    def map(self, *iterables: Iterable[Any]) -> list[ObjectFuture]:
        """``remote`` for every tuple of arguments, like the builtin ``map`` (all submitted at once)."""
        return [self.remote(*args) for args in zip(*iterables, strict=False)]

    def __repr__(self) -> str:
        return f"<flamepy.function {getattr(self, '__qualname__', self.fn)!r}>"


def _with_gpu(resreq: ResourceRequirement | str | None, gpu: int | None) -> ResourceRequirement | str | None:
    """``resreq`` with its GPU count set to ``gpu`` (one CPU when there was no ``resreq``)."""
    if gpu is None:
        return resreq
    if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
        raise InvalidArgumentError(f"@flamepy.function: gpu must be a whole number >= 0, got {gpu!r}")
    if resreq is None:
        return ResourceRequirement(cpu=1, gpu=gpu)
    base = ResourceRequirement.from_string(resreq) if isinstance(resreq, str) else resreq
    return dataclasses.replace(base, gpu=gpu)


def _policy(timeout: float | None, retries: int | None) -> dict[str, Any]:
    """The session retry policy for ``timeout`` (seconds per call) and ``retries`` (re-runs of a
    call that failed, raised included)."""
    policy: dict[str, Any] = {}
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidArgumentError(f"@flamepy.function: timeout must be seconds > 0, got {timeout!r}")
        policy["task_timeout"] = float(timeout)
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgumentError(
                f"@flamepy.function: retries must be a whole number >= 0, got {retries!r}"
            )
        policy.update(max_retries=retries, retry_on_error=retries > 0)
    return policy


def function(
    fn: Callable[..., Any] | None = None,
    *,
    resreq: ResourceRequirement | str | None = None,
    autoscale: bool | None = None,
    warmup: int = 0,
    gpu: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
) -> Any:
    """Decorator: ``@flamepy.function`` or ``@flamepy.function(resreq="gpu=1", warmup=2)``.

    ``gpu`` sets the GPU count of ``resreq``; ``timeout`` (seconds) is each remote call's wall-clock
    limit and ``retries`` how often a failed call (one that raised, too) re-runs — the function's
    session's retry policy."""

    def wrap(f: Callable[..., Any]) -> RemoteFunction:
        return RemoteFunction(f, resreq, autoscale, warmup, gpu=gpu, timeout=timeout, retries=retries)

    if fn is not None:
        return wrap(fn)

    return wrap


# -- invoke ------------------------------------------------------------------------------------------


class FileFunction:
    """A function of a Python file, loaded where it is called (remotely, by ``invoke``).

    It runs the file from the package when the file is part of it (``relpath``), else from the
    source text it carries; the module is named after the file, never ``__main__``."""

    __flame_stateless__ = True

    def __init__(self, source: str, function_name: str, filename: str, relpath: str | None) -> None:
        self.source = source
        self.function_name = function_name
        self.filename = filename
        self.relpath = relpath
        self._module: types.ModuleType | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_module": None}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._load(), self.function_name)(*args, **kwargs)

    def _load(self) -> types.ModuleType:
        if self._module is not None:
            return self._module
        path = Path(self.relpath) if self.relpath else None
        if path is not None and path.is_file():
            source, filename = path.read_text(), str(path.absolute())
        else:
            source, filename = self.source, self.filename
        name = f"__flame_invoke_{_safe_name(Path(filename).stem).replace('-', '_').replace('.', '_')}__"
        module = types.ModuleType(name)
        module.__file__ = filename
        sys.modules[name] = module  # only while it runs: dataclasses and friends look it up
        try:
            exec(compile(source, filename, "exec"), module.__dict__)
        finally:
            sys.modules.pop(name, None)
        if not callable(getattr(module, self.function_name, None)):
            raise NotFoundError(f"{filename} defines no function {self.function_name!r}")
        self._module = module
        return module


def _file_function(file: str | os.PathLike[str], function_name: str, root: Path) -> FileFunction:
    path = Path(file).expanduser().resolve()
    try:
        source = path.read_text()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {file}: {exc}") from exc
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as exc:
        raise InvalidArgumentError(f"{file} is not valid Python: {exc}") from exc
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    if function_name not in names:
        raise NotFoundError(f"{file} defines no top-level function {function_name!r}")
    try:
        relpath: str | None = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        relpath = None
    return FileFunction(source, function_name, str(path), relpath)


def invoke(
    file: str | os.PathLike[str],
    function_name: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    resreq: ResourceRequirement | str | None = None,
) -> Any:
    """Run ``function_name`` of the Python ``file`` remotely and return its result (the file is
    never imported here). Raises what the function raised."""
    runner = current_runner()
    if runner is not None:
        target = _file_function(file, function_name, runner.root)
        key = ("invoke", target.filename, function_name, str(resreq))
        return runner.service_for(key, target, resreq=resreq)(*args, **(kwargs or {})).get()
    stem = _safe_name(Path(file).stem)[:40]
    target = _file_function(file, function_name, Path.cwd())
    with Runner(f"invoke-{stem}-{secrets.token_hex(3)}") as own:
        return own.service(target, resreq=resreq)(*args, **(kwargs or {})).get()
