"""Input validation for names and ids: bad input gets an error that names the problem."""

from __future__ import annotations

import re

from flamepy.errors import InvalidArgumentError

_APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def application_name(name: str) -> str:
    if not name:
        raise InvalidArgumentError("application name must not be empty")
    if not _APP_NAME.match(name):
        raise InvalidArgumentError(
            f"invalid application name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


def session_id(sid: str) -> str:
    if not sid:
        raise InvalidArgumentError("session id must not be empty")
    if not _SESSION_ID.match(sid):
        raise InvalidArgumentError(
            f"invalid session id {sid!r}: use 1-128 letters, digits, '.', '_', ':' or '-'"
        )
    return sid


def task_id(tid: str) -> int:
    try:
        num = int(tid)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"invalid task id {tid!r}: task ids are decimal integers") from None
    if num < 1:
        raise InvalidArgumentError(f"invalid task id {tid!r}: task ids start at 1")
    return num
