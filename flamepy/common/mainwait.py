"""Waiting in a process's main thread without deafening its signal handlers.

Python runs ``signal.signal`` handlers only in the main thread, between bytecodes. A process-
directed signal (``kill PID``) may be taken by any thread; when another thread takes it, a main
thread blocked in a plain ``Event.wait()`` is not interrupted and the handler waits for an event
that may never come (a SIGTERM that should cancel a running job, say). Waking up every
``poll`` seconds bounds that delay.
"""

from __future__ import annotations

import threading

POLL_S = 0.2


def wait_in_main_thread(event: threading.Event, poll: float = POLL_S) -> None:
    """Block until ``event`` is set, letting pending signal handlers run every ``poll`` seconds."""
    while not event.wait(poll):
        pass
