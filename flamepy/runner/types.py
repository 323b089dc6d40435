"""flamepy 0.6.0's Runner value types: how a service scales, one call, a chosen session id.

:class:`RunnerContext` is the rule :meth:`Runner.service <flamepy.runner.Runner.service>` applies
(functions and classes are stateless and autoscale by default; an object instance is stateful
and fixed at one instance). :class:`RunnerRequest` is one call (our wire carries it as
:class:`flamepy.runner.codec.Call`; the service accepts either). :class:`SessionContext`, set as
``_session_context`` on a function, class or object, chooses the session id of its service.
Bad values raise :class:`~flamepy.errors.InvalidArgumentError` (a ``ValueError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flamepy.errors import InvalidArgumentError
from flamepy.runner.codec import Call, ServiceKind
from flamepy.runner.service import kind_of

__all__ = ["RunnerContext", "RunnerRequest", "SessionContext"]

MAX_SESSION_ID = 128


@dataclass
class SessionContext:
    """Attach as ``obj._session_context`` to give the service of ``obj`` this session id."""

    session_id: str | None = None
    application_name: str | None = None

    def __post_init__(self) -> None:
        sid = self.session_id
        if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= MAX_SESSION_ID):
            raise InvalidArgumentError(
                f"session_id must be a string of 1 to {MAX_SESSION_ID} characters, got {sid!r}"
            )
        if self.application_name is not None and not isinstance(self.application_name, str):
            raise InvalidArgumentError(f"application_name must be a string, got {self.application_name!r}")


@dataclass
class RunnerContext:
    """How a service of ``execution_object`` runs; ``min_instances``/``max_instances`` follow."""

    execution_object: Any
    stateful: bool | None = None
    autoscale: bool | None = None
    warmup: int = 0
    min_instances: int = field(init=False, repr=False)
    max_instances: int | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.warmup, int) or isinstance(self.warmup, bool) or self.warmup < 0:
            raise InvalidArgumentError(f"warmup must be a non-negative integer, got {self.warmup!r}")
        if kind_of(self.execution_object) is ServiceKind.OBJECT:
            if self.stateful is False:
                raise InvalidArgumentError("an object instance is always stateful (omit stateful)")
            if self.autoscale:
                raise InvalidArgumentError("an object instance is stateful: it cannot autoscale")
            if self.warmup not in (0, 1):
                raise InvalidArgumentError("an object instance runs once: warmup must be 0 or 1")
            self.stateful, self.autoscale = True, False
        else:
            if self.stateful:
                raise InvalidArgumentError("functions and classes are stateless (omit stateful)")
            self.stateful = False
            self.autoscale = True if self.autoscale is None else bool(self.autoscale)
        self.min_instances = self.warmup or (0 if self.autoscale else 1)
        self.max_instances = None if self.autoscale else self.min_instances


@dataclass
class RunnerRequest:
    """One call: ``method`` (None: the object itself), positional ``args``, ``kwargs``."""

    method: str | None = None
    args: tuple | list | None = None
    kwargs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.method is not None and not isinstance(self.method, str):
            raise InvalidArgumentError(f"method must be a string or None, got {self.method!r}")
        if self.args is not None and not isinstance(self.args, tuple | list):
            raise InvalidArgumentError(f"args must be a tuple or list, got {type(self.args).__name__}")
        if self.kwargs is not None and not isinstance(self.kwargs, dict):
            raise InvalidArgumentError(f"kwargs must be a dict, got {type(self.kwargs).__name__}")

    def to_call(self) -> Call:
        """The same call as our wire carries it."""
        return Call(self.method, tuple(self.args or ()), dict(self.kwargs or {}))

    @classmethod
    def from_call(cls, call: Call) -> RunnerRequest:
        return cls(call.method, tuple(call.args), dict(call.kwargs))
