"""flamepy 0.6.0's agent client: ``Session(name=..., ctx=...)`` calls a :class:`FlameInstance`.

Requests and answers are any picklable Python objects (cloudpickle). With ``ctx``, the context is
put in the object cache under ``<application>/<session id>`` and the session's common data is its
encoded :class:`~flamepy.cache.ObjectRef`; the service reads it with ``FlameInstance.context()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import cloudpickle

from flamepy import client
from flamepy.cache import ObjectRef, get_object, put_object
from flamepy.session import Session as CoreSession
from flamepy.types import ResourceRequirement, parse_memory
from flamepy.util import short_name

__all__ = ["Session"]


def _resreq(value: Any) -> ResourceRequirement | str | None:
    """0.6.0 also took ``{"cpu": 1, "memory"|"mem": "1g", "gpu": 0}``."""
    if not isinstance(value, Mapping):
        return value
    memory = value.get("memory", value.get("mem", 0))
    if isinstance(memory, str):
        memory = parse_memory(memory)
    return ResourceRequirement(int(value.get("cpu", 0)), int(memory or 0), int(value.get("gpu", 0)))


class Session:
    """An agent session: give exactly one of ``name`` (a new session of that application) and
    ``session_id`` (an existing session)."""

    def __init__(
        self,
        name: str | None = None,
        ctx: Any = None,
        session_id: str | None = None,
        resreq: Any = None,
    ) -> None:
        if (name is None) == (session_id is None):
            raise ValueError("give exactly one of name (a new session) and session_id (an existing one)")
        if session_id is not None:
            self._session: CoreSession = client.open_session(session_id)
            return
        assert name is not None
        common_data = None
        new_id = None
        if ctx is not None:
            new_id = short_name(name)
            common_data = ObjectRef.of(put_object(f"{name}/{new_id}", ctx)).encode()
        self._session = client.create_session(
            name, common_data=common_data, session_id=new_id, resreq=_resreq(resreq)
        )

    def id(self) -> str:
        """The session id."""
        return self._session.id

    def context(self) -> Any:
        """The shared context given as ``ctx`` (None when there is none)."""
        data = self._session.common_data()
        if data is None:
            return None
        return get_object(ObjectRef.decode(data))

    def invoke(self, req: Any) -> Any:
        """Call the agent with ``req`` (pickled, None too); returns its answer (no output: None)."""
        out = self._session.invoke(cloudpickle.dumps(req))
        return None if out is None else cloudpickle.loads(out)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"flamepy.service.Session({self._session.id!r})"
