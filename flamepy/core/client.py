"""flamepy 0.6.0's ``flamepy.core.client``: connections, sessions and the top-level helpers.

A thin face over :mod:`flamepy.connection`, :mod:`flamepy.session` and :mod:`flamepy.client`.
:class:`ConnectionInstance` is 0.6.0's name for the default connection of the helpers.
"""

from __future__ import annotations

from collections.abc import Iterable

from flamepy.client import (
    close_session,
    connect,
    create_session,
    default_connection,
    get_application,
    get_session,
    list_applications,
    list_executors,
    list_nodes,
    list_sessions,
    open_session,
    register_application,
    unregister_application,
)
from flamepy.connection import Connection
from flamepy.session import Session, TaskWatcher
from flamepy.types import Task

__all__ = [
    "Connection",
    "ConnectionInstance",
    "Session",
    "TaskIterator",
    "TaskWatcher",
    "close_session",
    "connect",
    "create_session",
    "get_application",
    "get_session",
    "list_applications",
    "list_executors",
    "list_nodes",
    "list_sessions",
    "open_session",
    "register_application",
    "unregister_application",
]


class ConnectionInstance:
    """The process's default connection (made on first use from the configuration)."""

    @classmethod
    def instance(cls) -> Connection:
        return default_connection()


class TaskIterator(TaskWatcher):
    """The tasks of session ``session_id``, as ``Session.list_tasks()`` streams them."""

    def __init__(self, stream: Iterable[Task], session_id: str) -> None:
        super().__init__(stream)
        self.session_id = session_id
