"""flamepy 0.6.0's agent service: a :class:`FlameInstance` runs one ``@entrypoint`` function.

    instance = FlameInstance()

    @instance.entrypoint
    def chat(req):                 # zero or one parameter; may be ``async``
        return answer(req, instance.context())

    if __name__ == "__main__":
        instance.run()

Each task's input is the cloudpickled request, its output the cloudpickled answer (None: no
output). The shared context is the object named by the session's common data (an encoded
:class:`~flamepy.cache.ObjectRef`, see :class:`flamepy.service.Session`). Started without
``FLAME_INSTANCE_ENDPOINT`` (by hand, not by an executor), :meth:`FlameInstance.run` serves a
small debug HTTP endpoint instead: ``POST /<entrypoint name>`` on 127.0.0.1:5050 with the
pickled request as the body answers the pickled result (stdlib ``http.server``; 0.6.0 used FastAPI
on every interface).
"""

from __future__ import annotations

import asyncio
import http.server
import inspect
import logging
import os
from collections.abc import Callable
from typing import Any

import cloudpickle

from flamepy.cache import ObjectRef, get_object, put_object, update_object
from flamepy.core.service import FLAME_INSTANCE_ENDPOINT, FlameService, SessionContext, TaskContext
from flamepy.core.service import run as run_service
from flamepy.errors import FlameError, InvalidArgumentError, InvalidStateError

__all__ = ["FlameInstance", "debug_service", "entrypoint_local_api", "run_debug_service"]

log = logging.getLogger(__name__)

DEBUG_HOST = "127.0.0.1"
DEBUG_PORT = 5050

debug_service: http.server.ThreadingHTTPServer | None = None  # the running debug server, if any


class FlameInstance(FlameService):
    """A service made of one entrypoint function (see the module docstring)."""

    def __init__(self) -> None:
        self._entrypoint: Callable[..., Any] | None = None
        self._takes_arg = False
        self._ref: ObjectRef | None = None
        self._session_id: str | None = None
        self._application: str | None = None

    def entrypoint(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: ``func`` (zero or one positional-or-keyword parameter) answers each task."""
        params = list(inspect.signature(func).parameters.values())
        if len(params) > 1 or any(p.kind != p.POSITIONAL_OR_KEYWORD for p in params):
            raise InvalidArgumentError(
                f"entrypoint {func.__name__!r} must take zero or one positional-or-keyword parameter"
            )
        self._entrypoint, self._takes_arg = func, bool(params)
        return func

    def context(self) -> Any:
        """The session's shared context (None when the session has none)."""
        return None if self._ref is None else get_object(self._ref)

    def update_context(self, data: Any) -> None:
        """Replace the shared context (stored as a new object when the session had none)."""
        if self._ref is not None:
            self._ref = ObjectRef.of(update_object(self._ref, data))
        elif self._session_id is not None:
            prefix = f"{self._application}/{self._session_id}"
            self._ref = ObjectRef.of(put_object(prefix, data))
        else:
            raise InvalidStateError("update_context() needs a session (called outside a task?)")

    def on_session_enter(self, context: SessionContext) -> None:
        data = context.common_data()
        self._ref = ObjectRef.decode(data) if data else None
        self._session_id, self._application = context.session_id, str(context.application)

    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        if self._entrypoint is None:
            log.warning("no @entrypoint function: task %s has no output", context.task_id)
            return None
        request = cloudpickle.loads(context.input) if context.input is not None else None
        args = (request,) if self._takes_arg else ()
        result = self._entrypoint(*args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return None if result is None else cloudpickle.dumps(result)

    def on_session_leave(self) -> None:
        self._ref = None

    def run(self) -> None:
        """Serve the executor's session, or the debug endpoint when started by hand; errors are
        logged, not raised (as in 0.6.0)."""
        try:
            if os.environ.get(FLAME_INSTANCE_ENDPOINT):
                run_service(self)
            else:
                run_debug_service(self)
        except KeyboardInterrupt:
            log.info("stopped by the user")
        except (FlameError, OSError) as exc:
            log.error("FlameInstance stopped: %s", exc)


def entrypoint_local_api(s: Any) -> bytes:
    """Answer one debug request ``s`` (a handler with ``.server.instance`` and the body read)."""
    instance: FlameInstance = s.server.instance
    length = int(s.headers.get("Content-Length") or 0)
    body = s.rfile.read(length) if length else None
    out = instance.on_task_invoke(TaskContext("0", "0", body))
    return out or b""


class _DebugHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        instance: FlameInstance = self.server.instance  # type: ignore[attr-defined]
        name = getattr(instance._entrypoint, "__name__", None)
        if name is None or self.path.split("?")[0] != f"/{name}":
            self.send_error(404, "no such entrypoint")
            return
        try:
            out = entrypoint_local_api(self)
        except Exception as exc:  # the entrypoint's error goes back to the caller
            self.send_error(500, f"{type(exc).__name__}: {exc}")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def run_debug_service(instance: FlameInstance) -> None:
    """Serve ``instance`` on http://127.0.0.1:5050 until interrupted (see the module docstring)."""
    global debug_service
    server = http.server.ThreadingHTTPServer((DEBUG_HOST, DEBUG_PORT), _DebugHandler)
    server.instance = instance  # type: ignore[attr-defined]
    debug_service = server
    log.info("FlameInstance debug endpoint on http://%s:%d", DEBUG_HOST, DEBUG_PORT)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        debug_service = None
