"""Monte-Carlo π client: fan out N tasks with ``session.run``, combine the counts, print π.

python examples/pi/client.py [--endpoint http://127.0.0.1:8080] [--tasks 100] [--samples 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import flamepy
from flamepy.errors import AlreadyExistsError, FlameError
from flamepy.types import ApplicationAttributes, ApplicationSchema

APP = "pi-example"
SERVICE = Path(__file__).resolve().with_name("service.py")


@dataclass(frozen=True)
class PiReport:
    session_id: str
    tasks: int
    samples: int
    inside: int
    elapsed_s: float

    @property
    def estimate(self) -> float:
        return 4.0 * self.inside / self.samples

    @property
    def error(self) -> float:
        return abs(self.estimate - math.pi)


def register(name: str = APP) -> None:
    attrs = ApplicationAttributes(
        command=sys.executable,
        arguments=[str(SERVICE)],
        description="Monte-Carlo pi: counts random points inside the quarter circle",
        schema=ApplicationSchema(input='{"samples": int, "seed": int}', output="int (decimal)"),
    )
    try:
        flamepy.register_application(name, attrs)
    except AlreadyExistsError:
        flamepy.update_application(name, attrs)


def task_input(samples: int, seed: int) -> bytes:
    return json.dumps({"samples": samples, "seed": seed}).encode()


def run(
    tasks: int = 100,
    samples_per_task: int = 20_000,
    on_task_done: Callable[[], None] | None = None,
) -> PiReport:
    register()
    started = time.perf_counter()
    with flamepy.create_session(APP) as ssn:
        futures = [ssn.run(task_input(samples_per_task, seed)) for seed in range(tasks)]
        inside = 0
        for fut in as_completed(futures):
            inside += int(fut.result())
            if on_task_done is not None:
                on_task_done()
        session_id = ssn.id
    elapsed = time.perf_counter() - started
    return PiReport(session_id, tasks, tasks * samples_per_task, inside, elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="Flame endpoint (default: FLAME_ENDPOINT / config)")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--samples", type=int, default=20_000, help="samples per task")
    args = parser.parse_args(argv)
    if args.endpoint:
        os.environ["FLAME_ENDPOINT"] = args.endpoint
        flamepy.reset_default_connection()
    try:
        report = run(args.tasks, args.samples)
    except FlameError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        flamepy.reset_default_connection()
    print(
        f"pi ≈ {report.estimate:.6f} (error {report.error:.6f}) from {report.samples:,} samples "
        f"in {report.tasks} tasks, {report.elapsed_s:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
