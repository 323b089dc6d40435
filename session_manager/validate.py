"""Input validation: every request is checked here, right after it is decoded, before it touches state.

Pure (no I/O, no protobuf). The transports call the request checks below on what they decoded,
with the server's :class:`~session_manager.limits.Limits`; the core calls the syntax checks (names
and ids) again where it creates things. A bad request is an InvalidArgumentError naming the field,
the rule or limit, and the value (cut to a few dozen characters: ``bounds.quote``); a request
carrying more tasks than the server takes at once is a LimitExceededError (RESOURCE_EXHAUSTED).
Fixed syntax (not configurable): application names, session ids and task ids below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from flamepy.common.bounds import LimitExceededError, clip, quote
from flamepy.errors import InvalidArgumentError
from flamepy.tasklog import DEFAULT_LOG_CHUNK_BYTES
from flamepy.taskprobe import EXEC_DEFAULT_TIMEOUT_S, EXEC_MAX_ARGS, EXEC_MAX_ARGV_BYTES, EXEC_MAX_TIMEOUT_S
from flamepy.types import ApplicationAttributes, ResourceRequirement, SessionAttributes
from session_manager import events
from session_manager.limits import Limits

_APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# ids the server hands out: 1, 2, 3 ... as ASCII decimal, no sign, space or leading zero; < 2**63
_TASK_ID = re.compile(r"[1-9][0-9]{0,17}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_NUL = re.compile("\x00")
_APP_TEXT = ("description", "image", "command", "working_directory", "url", "installer")


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


# -- names and ids (fixed syntax) -----------------------------------------------------------------


def application_name(name: str) -> str:
    if not name:
        raise InvalidArgumentError("application name must not be empty")
    if not _APP_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"invalid application name {quote(name)}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


def session_id(sid: str) -> str:
    if not sid:
        raise InvalidArgumentError("session id must not be empty")
    if not _SESSION_ID.fullmatch(sid):
        raise InvalidArgumentError(
            f"invalid session id {quote(sid)}: use 1-128 letters, digits, '.', '_', ':' or '-'"
        )
    return sid


def task_id(tid: str) -> int:
    if not _TASK_ID.fullmatch(tid):
        raise InvalidArgumentError(
            f"invalid task id {quote(tid)}: task ids are 1, 2, 3 ... in ASCII digits "
            "(no sign, space or leading zero)"
        )
    return int(tid)


def reference(value: str, what: str, limits: Limits) -> str:
    """A name or id that is looked up, not created: only its length is bounded (an unknown one is
    then simply not found)."""
    if _nbytes(value) > limits.max_name_bytes:
        raise InvalidArgumentError(
            f"{what} is {_nbytes(value)} bytes, at most {limits.max_name_bytes}: {quote(value)}"
        )
    return value


# -- tasks --------------------------------------------------------------------------------------


def log_chunk_size(max_bytes: int, limits: Limits) -> int:
    """The bytes a ReadTaskLog asks for: 0 is the default (1 MiB, within the limit)."""
    if max_bytes > limits.max_log_chunk_bytes:
        raise InvalidArgumentError(
            f"max_bytes {max_bytes} is over the server's max_log_chunk_bytes "
            f"({limits.max_log_chunk_bytes}): read the log in smaller chunks"
        )
    return max_bytes or min(DEFAULT_LOG_CHUNK_BYTES, limits.max_log_chunk_bytes)


def exec_request(argv: Sequence[str], timeout_s: float) -> tuple[tuple[str, ...], float]:
    """An ExecInTask's command and timeout (0: the default, 10 minutes)."""
    if not argv or not argv[0]:
        raise InvalidArgumentError("argv is empty: name the command to run")
    if len(argv) > EXEC_MAX_ARGS or sum(_nbytes(a) + 1 for a in argv) > EXEC_MAX_ARGV_BYTES:
        raise InvalidArgumentError(
            f"argv has {len(argv)} arguments of {sum(_nbytes(a) for a in argv)} bytes: at most "
            f"{EXEC_MAX_ARGS} arguments and {EXEC_MAX_ARGV_BYTES} bytes"
        )
    if any("\0" in a for a in argv):
        raise InvalidArgumentError("argv has an argument with a NUL character")
    if not (0 <= timeout_s <= EXEC_MAX_TIMEOUT_S):
        raise InvalidArgumentError(f"timeout_s {timeout_s:g} is out of range: 0 to {EXEC_MAX_TIMEOUT_S:g}")
    return tuple(argv), timeout_s or EXEC_DEFAULT_TIMEOUT_S


def task_request(sid: str, count: int, limits: Limits) -> None:
    """A CreateTask(s) or RunTask request for ``count`` tasks of session ``sid``."""
    reference(sid, "session_id", limits)
    if count > limits.max_tasks_per_request:
        raise LimitExceededError(
            f"CreateTasks carries {count} tasks; at most {limits.max_tasks_per_request} per request "
            "(max_tasks_per_request): split the submission"
        )


MAX_CANCEL_REASON_BYTES = 1000


def cancel_reason(reason: str | None) -> str:
    """A CancelTask's reason (the cancelled task's event message); default "cancelled by the client"."""
    if not reason:
        return "cancelled by the client"
    _text(reason, "reason", MAX_CANCEL_REASON_BYTES, _CONTROL)
    return reason


# -- applications and sessions ----------------------------------------------------------------


def _text(value: str, what: str, most: int, forbid: re.Pattern[str] | None = None) -> int:
    size = _nbytes(value)
    if size > most:
        raise InvalidArgumentError(f"{what} is {size} bytes, at most {most}: {quote(value)}")
    if forbid is not None and forbid.search(value):
        raise InvalidArgumentError(f"{what} contains a control character: {quote(value)}")
    return size


def _items(values: Iterable[str], what: str, count: int, most: int, limits: Limits) -> int:
    if count > limits.max_list_items:
        raise InvalidArgumentError(f"{what} has {count} entries, at most {limits.max_list_items}")
    return sum(_text(v, f"{what}[{i}]", most, _NUL) for i, v in enumerate(values))


def _in_range(value: int, what: str, low: int, high: int, limit: str) -> None:
    if not low <= value <= high:
        raise InvalidArgumentError(f"{what} is {quote(value)}; allowed {low} to {high} ({limit})")


def application(name: str, attrs: ApplicationAttributes, limits: Limits) -> None:
    """A RegisterApplication / UpdateApplication request."""
    application_name(name)
    what = f"application {name!r}:"
    total = 0
    for field in _APP_TEXT:
        value = getattr(attrs, field)
        if value is not None:
            forbid = None if field == "description" else _CONTROL
            total += _text(value, f"{what} {field}", limits.max_text_bytes, forbid)
    labels = attrs.labels or []
    total += _items(labels, f"{what} labels", len(labels), limits.max_name_bytes, limits)
    args = attrs.arguments or []
    total += _items(args, f"{what} arguments", len(args), limits.max_text_bytes, limits)
    envs = attrs.environments or {}
    total += _items(envs.values(), f"{what} environments", len(envs), limits.max_text_bytes, limits)
    for key in envs:
        if not key or "=" in key:
            raise InvalidArgumentError(f"{what} environment name {quote(key)} is empty or contains '='")
        total += _text(key, f"{what} environment name", limits.max_name_bytes, _CONTROL)
    if attrs.schema is not None:
        for field in ("input", "output", "common_data"):
            value = getattr(attrs.schema, field)
            if value is not None:
                total += _text(value, f"{what} schema.{field}", limits.max_text_bytes)
    if total > limits.max_spec_bytes:
        raise InvalidArgumentError(
            f"{what} the spec's strings add up to {total} bytes, at most {limits.max_spec_bytes}"
        )
    if attrs.max_instances is not None:
        _in_range(attrs.max_instances, f"{what} max_instances", 1, limits.max_instances, "max_instances")
    if attrs.delay_release is not None:
        most = limits.max_delay_release
        _in_range(attrs.delay_release, f"{what} delay_release", 0, most, "max_delay_release")


def session(attrs: SessionAttributes, limits: Limits) -> None:
    """A CreateSession / OpenSession request's spec."""
    sid = session_id(attrs.id or "")
    what = f"session {sid!r}:"
    reference(attrs.application, f"{what} application", limits)
    _in_range(attrs.min_instances, f"{what} min_instances", 0, limits.max_instances, "max_instances")
    if attrs.max_instances is not None:
        _in_range(attrs.max_instances, f"{what} max_instances", 1, limits.max_instances, "max_instances")
    _in_range(attrs.batch_size, f"{what} batch_size", 0, limits.max_batch_size, "max_batch_size")
    _in_range(attrs.priority, f"{what} priority", 0, limits.max_priority, "max_priority")
    if attrs.resreq is not None:
        resources(attrs.resreq, f"{what} resreq", limits)


def resources(r: ResourceRequirement, what: str, limits: Limits) -> None:
    _in_range(r.cpu, f"{what}.cpu", 0, limits.max_cpu, "max_cpu")
    _in_range(r.memory, f"{what}.memory", 0, limits.max_memory, "max_memory")
    _in_range(r.gpu, f"{what}.gpu", 0, limits.max_gpu, "max_gpu")


# -- executor managers --------------------------------------------------------------------------


def node_registration(ev: events.NodeRegistered, limits: Limits) -> None:
    """A node's register message: its name, what it says about itself and its capacity."""
    if not ev.node:
        raise InvalidArgumentError("register: node name is empty")
    _text(ev.node, "register: node name", limits.max_name_bytes, _SPACE_OR_CONTROL)
    what = f"register of node {ev.node!r}:"
    for field in ("hostname", "arch", "os"):
        _text(getattr(ev, field), f"{what} {field}", limits.max_name_bytes, _CONTROL)
    if len(ev.shims) > 16:
        raise InvalidArgumentError(f"{what} {len(ev.shims)} shims, at most 16")
    resources(ev.capacity, f"{what} capacity", limits)


def node_event(ev: events.NodeEvent, limits: Limits) -> events.NodeEvent:
    """A node's report with its ids checked and its error text cut to ``max_message_chars``."""
    most = limits.max_message_chars
    if isinstance(ev, events.TaskResults):
        for r in ev.outcomes:
            task_id(r.task_id)
        if any(r.message is not None and len(r.message) > most for r in ev.outcomes):
            outcomes = [replace(r, message=_clip(r.message, most)) for r in ev.outcomes]
            return replace(ev, outcomes=outcomes)
    elif (
        isinstance(ev, events.BindFailed | events.ExecutorReleased)
        and ev.message is not None
        and len(ev.message) > most
    ):
        return replace(ev, message=clip(ev.message, most))
    return ev


def _clip(text: str | None, most: int) -> str | None:
    return None if text is None else clip(text, most)
