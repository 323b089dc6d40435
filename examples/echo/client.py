"""Echo example client: register the echo service, open a session, invoke once, run 100 futures.

flmctl cluster up                   # or any Flame cluster; FLAME_ENDPOINT points at it
python examples/echo/client.py [--endpoint http://127.0.0.1:8080] [--tasks 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import flamepy
from flamepy.errors import AlreadyExistsError, FlameError
from flamepy.types import ApplicationAttributes

APP = "echo-example"
SERVICE = Path(__file__).resolve().with_name("service.py")
COMMON_DATA = b"shared with every task of the session"


@dataclass(frozen=True)
class EchoReport:
    session_id: str
    first_output: bytes | None
    common_data_seen: bytes | None
    tasks: int
    echoed: int
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.echoed == self.tasks and self.common_data_seen == COMMON_DATA


def register(name: str = APP) -> None:
    """Register (or update) the echo application: this Python running service.py."""
    attrs = ApplicationAttributes(
        command=sys.executable,
        arguments=[str(SERVICE)],
        description="echo example: returns each task's input",
    )
    try:
        flamepy.register_application(name, attrs)
    except AlreadyExistsError:
        flamepy.update_application(name, attrs)


def run(tasks: int = 100, on_task_done: Callable[[], None] | None = None) -> EchoReport:
    """Invoke once, then run ``tasks`` futures in parallel and check every echo."""
    register()
    started = time.perf_counter()
    with flamepy.create_session(APP, common_data=COMMON_DATA) as ssn:
        first = ssn.invoke(b"hello flame")
        seen = ssn.invoke(None)  # the service answers a task without input with the common data
        futures = {ssn.run(f"message {i}".encode()): i for i in range(tasks)}
        echoed = 0
        for fut in as_completed(futures):
            if fut.result() == f"message {futures[fut]}".encode():
                echoed += 1
            if on_task_done is not None:
                on_task_done()
        session_id = ssn.id
    return EchoReport(session_id, first, seen, tasks, echoed, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="Flame endpoint (default: FLAME_ENDPOINT / config)")
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args(argv)
    if args.endpoint:
        os.environ["FLAME_ENDPOINT"] = args.endpoint
        flamepy.reset_default_connection()
    try:
        report = run(args.tasks)
    except FlameError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        flamepy.reset_default_connection()
    print(f"session {report.session_id}: invoke(b'hello flame') -> {report.first_output!r}")
    print(f"common data seen by the service: {report.common_data_seen!r}")
    print(f"{report.echoed}/{report.tasks} futures echoed correctly in {report.elapsed_s:.2f}s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
