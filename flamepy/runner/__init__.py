"""Run plain Python functions, classes and objects remotely, without writing a FlameService.

    from flamepy.runner import Runner

    with Runner("add-app") as runner:
        svc = runner.service(add)          # one session; add() runs in remote executors
        print(svc(1, 2).get())
        print(sum(runner.get([svc(i, i) for i in range(1000)])))

Pieces: :class:`Runner` (package, register, services, close), :class:`RunnerService` (the remote
callable), :class:`ObjectFuture` (the result of a call, inline or in the object cache),
:func:`get_data` (decode task data), flamepy 0.6.0's :class:`RunnerContext`,
:class:`RunnerRequest`, :class:`SessionContext` (choose a service's session id) and
:class:`ObjectFutureIterator`, ``@function`` / :func:`invoke` (the decorator and run-a-file
helpers, also exported as ``flamepy.function`` / ``flamepy.invoke``). The service side is
:mod:`flamepy.runner.runpy`.
"""

from __future__ import annotations

from typing import Any

from flamepy.runner.codec import RemoteError, get_data
from flamepy.runner.decorator import RemoteFunction, function, invoke, shutdown
from flamepy.runner.future import ObjectFuture, ObjectFutureIterator
from flamepy.runner.helper import ErrorType, RunnerError
from flamepy.runner.runner import PackageUpload, Runner, RunnerService, current_runner
from flamepy.runner.types import RunnerContext, RunnerRequest, SessionContext


def __getattr__(name: str) -> Any:
    # The service class loads on first use: ``python -m flamepy.runner.runpy`` (the flmrun command)
    # imports this package first, and must not find its own module imported already.
    if name == "FlameRunpyService":
        from flamepy.runner.runpy import FlameRunpyService

        return FlameRunpyService
    raise AttributeError(f"module 'flamepy.runner' has no attribute {name!r}")


__all__ = [
    "ErrorType",
    "FlameRunpyService",
    "ObjectFuture",
    "ObjectFutureIterator",
    "PackageUpload",
    "RemoteError",
    "RemoteFunction",
    "Runner",
    "RunnerContext",
    "RunnerError",
    "RunnerRequest",
    "RunnerService",
    "SessionContext",
    "current_runner",
    "function",
    "get_data",
    "invoke",
    "shutdown",
]
