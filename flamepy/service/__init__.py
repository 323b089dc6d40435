"""Services: the runtime (``FlameService`` + ``run``) and flamepy 0.6.0's agent API.

- :class:`FlameService`, :class:`SessionContext`, :class:`TaskContext`, :class:`ApplicationContext`
  and :func:`run` are the service runtime (:mod:`flamepy.core.service`), also exported by
  ``flamepy`` itself.
- :class:`Session` (:mod:`flamepy.service.client`) calls an agent with Python objects (cloudpickled)
  and an optional shared context kept in the object cache; :class:`FlameInstance`
  (:mod:`flamepy.service.instance`) is the service side, a function decorated ``@entrypoint``.
"""

from __future__ import annotations

from flamepy.core.service import (
    ApplicationContext,
    FlameService,
    SessionContext,
    TaskContext,
    run,
    socket_path,
)
from flamepy.service.client import Session
from flamepy.service.instance import FlameInstance

__all__ = [
    "ApplicationContext",
    "FlameInstance",
    "FlameService",
    "Session",
    "SessionContext",
    "TaskContext",
    "run",
    "socket_path",
]
