"""The chaos bench's workload: ``tasks`` tasks over a few sessions, submitted with ``Session.run``.

Each task's input is a unique key (``s<session>-t<index>``) that the service echoes, so an output
names the task it belongs to. Submission is paced evenly over ``window`` seconds (one thread per
session), so that kills land while tasks are being submitted, queued and run. Concurrency model:
submitter threads only call ``Session.run``; the caller waits on the futures with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

import flamepy

APP = "chaos-echo"
KIND_CHARS = 80  # an error kind is cut to this many characters
PACE_SLACK_S = 0.005  # submit without waiting while at most this far ahead of the even pace


def key_for(session: int, index: int) -> str:
    return f"s{session}-t{index:05d}"


@dataclass
class Workload:
    sessions: list[flamepy.Session]
    futures: dict[str, Future] = field(default_factory=dict)
    run_errors: Counter[str] = field(default_factory=Counter)  # Session.run itself raised
    lock: threading.Lock = field(default_factory=threading.Lock)


def open_sessions(conn: flamepy.Connection, count: int) -> Workload:
    attrs = flamepy.SessionAttributes(application=APP)
    return Workload([conn.create_session(attrs) for _ in range(count)])


def submit_all(work: Workload, tasks: int, window: float, stop: threading.Event) -> list[threading.Thread]:
    """Start one paced submitter thread per session; ``stop`` ends submission early."""
    shares = [len(range(s, tasks, len(work.sessions))) for s in range(len(work.sessions))]
    threads = [
        threading.Thread(target=_submit, args=(work, s, n, window, stop), name=f"submit-{s}", daemon=True)
        for s, n in enumerate(shares)
    ]
    for t in threads:
        t.start()
    return threads


def _submit(work: Workload, s: int, count: int, window: float, stop: threading.Event) -> None:
    ssn, start = work.sessions[s], time.monotonic()
    for i in range(count):
        ahead = start + i * window / max(count, 1) - time.monotonic()
        if (ahead > PACE_SLACK_S and stop.wait(ahead)) or stop.is_set():
            return
        key = key_for(s, i)
        try:
            fut = ssn.run(key.encode())
        except Exception as exc:  # counted and reported by kind, never silently dropped
            with work.lock:
                work.run_errors[error_kind(exc)] += 1
            continue
        with work.lock:
            work.futures[key] = fut


def wait_futures(work: Workload, submitters: list[threading.Thread], deadline: float) -> float:
    """Wait until every submitter finished and every future is done, or ``deadline`` (monotonic);
    returns when the last future settled (or the deadline)."""
    for t in submitters:
        t.join(max(0.0, deadline - time.monotonic()))
    with work.lock:
        futures = list(work.futures.values())
    concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    return time.monotonic()


def error_kind(exc: BaseException) -> str:
    """A short label for an error: the FlameError code (or the type) and its folded message."""
    label = exc.code.name if isinstance(exc, flamepy.FlameError) else type(exc).__name__
    folded = fold(exc.message if isinstance(exc, flamepy.FlameError) else str(exc))
    return f"{label}: {folded}" if folded else label


def fold(text: str) -> str:
    """The first line of ``text`` with quoted names, session/node/executor ids and numbers folded,
    cut to ``KIND_CHARS``, so that messages of one kind group together."""
    lines = text.strip().splitlines()
    folded = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", lines[0] if lines else "")
    folded = re.sub(r"\b(session|node|executor) (?!')[^\s,;:()']+", r"\1 …", folded)
    folded = re.sub(r"\d+", "N", folded)
    if len(folded) > KIND_CHARS:
        folded = folded[: KIND_CHARS - 1].rstrip() + "…"
    return folded


def close_sessions(work: Workload) -> list[str]:
    """Close every session (failing futures still pending); returns the errors, if any."""
    errors = []
    for ssn in work.sessions:
        try:
            ssn.close()
        except flamepy.FlameError as exc:
            errors.append(f"close {ssn.id}: {exc}")
    return errors
