"""What the SDK retries, and for how long: the one place that decides which errors are retryable.

A call is retried only when (a) the error says the session manager could not be reached or the
connection broke (:func:`retryable`), and (b) repeating the call cannot do anything twice: a read,
a watch, or a submission carrying client-chosen idempotency keys (CreateTasks with keys; a retry
with the same keys returns the same task ids, also across a restart of the session manager).

Retryable: ``UnavailableError`` (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, a broken same-host socket,
and CANCELLED without details, which :mod:`flamepy._rpc` maps to UNAVAILABLE), except
``TaskTimeoutError`` (the caller's own deadline) and ``ResourceExhaustedError`` (the server's disk
is full: the caller hears of it at once rather than after the retry deadline). Everything else
(INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, a per-request limit, UNAUTHENTICATED —
``AuthenticationError`` ...) fails at once.

Retries stop ``retry_deadline`` seconds after the first failure of the operation
(:data:`DEFAULT_RETRY_DEADLINE_S`; 0 disables retrying); waits between attempts grow from
:data:`BACKOFF_MIN_S` to :data:`BACKOFF_MAX_S`. When the deadline passes the caller gets
:func:`unreachable` (an UnavailableError that says how long, and whether the work may still run).

Concurrency model: pure functions, the :class:`Retry` record (no I/O), and :func:`call`, which
blocks its caller; its waits end early when the given ``stop`` event is set (the transport closing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flamepy.errors import (
    FlameError,
    InvalidArgumentError,
    InvalidStateError,
    ResourceExhaustedError,
    TaskTimeoutError,
    UnavailableError,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_RETRY_DEADLINE_S = 60.0
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0


def retryable(err: BaseException) -> bool:
    """Whether ``err`` says the session manager was unreachable (the call may be repeated if it is
    a read, a watch or a keyed submission)."""
    not_outage = TaskTimeoutError | ResourceExhaustedError
    return isinstance(err, UnavailableError) and not isinstance(err, not_outage)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    return min(BACKOFF_MIN_S * (2 ** min(attempt, 16)), BACKOFF_MAX_S)


def check_deadline(value: float) -> float:
    """``value`` as a retry deadline (seconds, >= 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidArgumentError(f"retry_deadline must be a number of seconds >= 0, got {value!r}")
    return float(value)


def unreachable(what: str, waited: float, cause: FlameError, may_run: str = "") -> UnavailableError:
    """The error for giving up after ``waited`` seconds; ``may_run`` names the work that may still
    run (empty for a read)."""
    tail = f"; {may_run} may still run" if may_run else ""
    took = f"{waited:.0f}" if waited >= 10 else f"{waited:.1f}"
    err = UnavailableError(f"{what}: session manager unreachable for {took} s{tail} ({cause.message})")
    err.__cause__ = cause
    return err


class Retry:
    """The retry state of one operation: when it first failed and how often (no I/O)."""

    __slots__ = ("attempt", "deadline", "since")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.since: float | None = None
        self.attempt = 0

    def next_delay(self, err: FlameError, now: float) -> float | None:
        """Seconds to wait before trying again after ``err`` at ``now``; None: give up (``err`` is
        not retryable, retrying is off, or the deadline has passed)."""
        if self.deadline <= 0 or not retryable(err):
            return None
        if self.since is None:
            self.since = now
        left = self.since + self.deadline - now
        if left <= 0:
            return None
        delay = min(backoff(self.attempt), left)
        self.attempt += 1
        return delay

    def progressed(self) -> None:
        """The operation got an answer: a later failure starts a new deadline."""
        self.since = None
        self.attempt = 0

    def waited(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since


def call(fn: Callable[[], T], what: str, deadline: float, stop: threading.Event, may_run: str = "") -> T:
    """``fn()``, repeated after retryable errors until ``deadline`` seconds have passed since the
    first failure. ``fn`` must be safe to repeat. ``stop`` (set when the transport closes) ends the
    waiting with InvalidStateError."""
    retry = Retry(deadline)
    while True:
        try:
            return fn()
        except FlameError as err:
            now = time.monotonic()
            delay = retry.next_delay(err, now)
            if delay is None:
                if retry.since is None or not retryable(err):
                    raise
                raise unreachable(what, retry.waited(now), err, may_run) from err
            log.info("%s: %s; retrying in %.2f s", what, err.message, delay)
            if stop.wait(delay):
                raise InvalidStateError(f"{what}: the connection was closed while retrying") from err
