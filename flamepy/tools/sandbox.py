"""A sandbox: a session of the built-in ``flmexec`` application that runs Python or shell code.

Same API and wire format as Flame's ``flamepy.tools.Sandbox``, built on the public client SDK only
(``create_session`` / ``open_session`` / ``Session.invoke`` / ``Session.run``):

- the session's common data is the sandbox's :class:`SandboxAttr` as UTF-8 JSON
  (``{"language", "runtime", "min_instances", "max_instances", "resreq": {"cpu", "memory", "gpu"}
  | null}``), so :meth:`Sandbox.open` can restore it from the session id alone;
- each piece of code is one task whose input is flmexec's JSON request (``language``, ``code``,
  ``input`` as a list of byte values or null, ``runtime`` when set) and whose output is
  ``{"data": [byte values]}``: the code's stdout (see :mod:`flamepy.apps.flmexec`).

Code that exits non-zero fails its task; :meth:`Sandbox.run_code` (and the future of
:meth:`Sandbox.submit_code`) raise the task's :class:`flamepy.FlameError`, whose message carries the
exit code and the tail of stderr.

Beyond Flame's API: ``create`` and ``open`` take an optional ``connection`` (default: the SDK's
default connection, as in Flame), and ``SandboxAttr.resreq`` may be a string like
``"cpu=1,mem=1g"``.

Concurrency model: no threads of its own; :meth:`Sandbox.submit_code` maps the session's task
future onto a new one in the session's completion callback.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from concurrent.futures import InvalidStateError as FutureStateError
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import flamepy

FLMEXEC_APP = "flmexec"
LANGUAGES = ("python", "shell")


@dataclass(frozen=True)
class SandboxAttr:
    """What a sandbox runs: its language (``"python"`` or ``"shell"``), an optional runtime (a
    Python version such as ``"3.11"``, or a shell such as ``"bash"``) and its session's sizing."""

    language: str
    runtime: str | None = None
    min_instances: int = 0
    max_instances: int | None = None
    resreq: flamepy.ResourceRequirement | None = None


@dataclass
class SandboxOutput:
    """What a piece of code printed to stdout."""

    data: bytes

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)


def _language(value: object) -> str:
    language = value.strip().lower() if isinstance(value, str) else None
    if language not in LANGUAGES:
        raise flamepy.InvalidArgumentError(f"sandbox language must be 'python' or 'shell', got {value!r}")
    return language


def _resreq(value: object) -> flamepy.ResourceRequirement | None:
    if value is None:
        return None
    if isinstance(value, str):
        return flamepy.ResourceRequirement.from_string(value)
    if isinstance(value, flamepy.ResourceRequirement):
        return flamepy.ResourceRequirement(cpu=value.cpu, memory=value.memory, gpu=value.gpu)
    raise flamepy.InvalidArgumentError(
        f"sandbox resreq must be a ResourceRequirement or a string like 'cpu=1,mem=1g', got {value!r}"
    )


def _count(name: str, value: object, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if type(value) is not int or value < 0:
        raise flamepy.InvalidArgumentError(f"sandbox {name} must be a non-negative integer, got {value!r}")
    return value


def normalize_attr(attr: object) -> SandboxAttr:
    """A validated copy of ``attr`` (language lower-cased, resreq parsed and copied)."""
    if not isinstance(attr, SandboxAttr):
        raise flamepy.InvalidArgumentError(f"a sandbox needs a SandboxAttr, got {type(attr).__name__}")
    if attr.runtime is not None and not isinstance(attr.runtime, str):
        raise flamepy.InvalidArgumentError(f"sandbox runtime must be a string or None, got {attr.runtime!r}")
    return SandboxAttr(
        language=_language(attr.language),
        runtime=attr.runtime,
        min_instances=_count("min_instances", attr.min_instances, optional=False) or 0,
        max_instances=_count("max_instances", attr.max_instances, optional=True),
        resreq=_resreq(attr.resreq),
    )


def encode_attr(attr: SandboxAttr) -> bytes:
    """The session common data that records ``attr``."""
    resreq = attr.resreq
    return json.dumps(
        {
            "language": attr.language,
            "runtime": attr.runtime,
            "min_instances": attr.min_instances,
            "max_instances": attr.max_instances,
            "resreq": None
            if resreq is None
            else {"cpu": resreq.cpu, "memory": resreq.memory, "gpu": resreq.gpu},
        }
    ).encode("utf-8")


def decode_attr(raw: bytes | None, sandbox_id: str) -> SandboxAttr:
    """The :class:`SandboxAttr` recorded in a sandbox session's common data."""
    try:
        payload: dict[str, Any] = json.loads(raw or b"")
        resreq = payload.get("resreq")
        return normalize_attr(
            SandboxAttr(
                language=payload["language"],
                runtime=payload.get("runtime"),
                min_instances=payload.get("min_instances", 0),
                max_instances=payload.get("max_instances"),
                resreq=None if resreq is None else flamepy.ResourceRequirement(**resreq),
            )
        )
    except flamepy.FlameError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise flamepy.InvalidArgumentError(
            f"session {sandbox_id!r} has no sandbox attributes in its common data ({exc})"
        ) from exc


def encode_request(attr: SandboxAttr, code: object, input: object) -> bytes:
    """flmexec's JSON request for one piece of code."""
    if not isinstance(code, str):
        raise flamepy.InvalidArgumentError(f"sandbox code must be a string, got {type(code).__name__}")
    if input is not None and not isinstance(input, bytes | bytearray | memoryview):
        raise flamepy.InvalidArgumentError(f"sandbox input must be bytes or None, got {type(input).__name__}")
    request: dict[str, Any] = {
        "language": attr.language,
        "code": code,
        "input": None if input is None else list(bytes(input)),
    }
    if attr.runtime is not None:
        request["runtime"] = attr.runtime
    return json.dumps(request, separators=(",", ":")).encode("utf-8")


def decode_output(raw: bytes | None) -> SandboxOutput:
    """The :class:`SandboxOutput` in flmexec's JSON response (no output: empty data)."""
    if raw is None:
        return SandboxOutput(data=b"")
    try:
        return SandboxOutput(data=bytes(json.loads(raw)["data"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise flamepy.InternalError(
            f"flmexec answered something that is not its JSON output ({exc})"
        ) from exc


class Sandbox:
    """Runs code on ``flmexec``; one session per sandbox, closed by :meth:`close` or ``with``."""

    def __init__(self, session: flamepy.Session, attr: SandboxAttr) -> None:
        self._session: flamepy.Session | None = session
        self._attr = attr

    @classmethod
    def create(cls, attr: SandboxAttr, connection: flamepy.Connection | None = None) -> Sandbox:
        """A new sandbox (a new flmexec session recording ``attr``)."""
        attr = normalize_attr(attr)
        common_data = encode_attr(attr)
        if connection is None:
            session = flamepy.create_session(
                FLMEXEC_APP,
                common_data=common_data,
                min_instances=attr.min_instances,
                max_instances=attr.max_instances,
                resreq=attr.resreq,
            )
        else:
            session = connection.create_session(
                flamepy.SessionAttributes(
                    application=FLMEXEC_APP,
                    common_data=common_data,
                    min_instances=attr.min_instances,
                    max_instances=attr.max_instances,
                    resreq=attr.resreq,
                )
            )
        return cls(session, attr)

    @classmethod
    def open(cls, sandbox_id: str, connection: flamepy.Connection | None = None) -> Sandbox:
        """The open sandbox whose id is ``sandbox_id`` (made by any Flame client)."""
        if connection is None:
            session = flamepy.open_session(sandbox_id)
        else:
            session = connection.open_session(sandbox_id)
        if session.application != FLMEXEC_APP:
            raise flamepy.InvalidArgumentError(
                f"session {sandbox_id!r} is a session of {session.application!r}, not a sandbox"
            )
        return cls(session, decode_attr(session.common_data(), sandbox_id))

    @property
    def attr(self) -> SandboxAttr:
        return self._attr

    @property
    def sandbox_id(self) -> str:
        return self._open_session().id

    def run_code(self, code: str, input: bytes | None = None) -> SandboxOutput:
        """Run ``code`` with ``input`` as its stdin; what it printed. Raises FlameError on failure."""
        request = encode_request(self._attr, code, input)
        return decode_output(self._open_session().invoke(request))

    def submit_code(self, code: str, input: bytes | None = None) -> Future[SandboxOutput]:
        """Like :meth:`run_code` without waiting: a future of the :class:`SandboxOutput`."""
        request = encode_request(self._attr, code, input)
        task = self._open_session().run(request)
        result: Future[SandboxOutput] = Future()

        def finish(done: Future) -> None:
            if done.cancelled():
                result.cancel()
                return
            error = done.exception()
            output: SandboxOutput | None = None
            if error is None:
                try:
                    output = decode_output(done.result())
                except flamepy.FlameError as exc:
                    error = exc
            try:
                if output is not None:
                    result.set_result(output)
                else:
                    result.set_exception(error)
            except FutureStateError:  # the caller cancelled ``result`` first
                pass

        task.add_done_callback(finish)
        return result

    def close(self) -> None:
        """Close the sandbox's session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def _open_session(self) -> flamepy.Session:
        if self._session is None:
            raise flamepy.InvalidStateError("the sandbox is closed")
        return self._session

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._session is None else self._session.id
        return f"Sandbox({state}, language={self._attr.language!r})"
