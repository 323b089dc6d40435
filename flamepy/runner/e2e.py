"""A self-test of Runner on a live cluster: ``python -m flamepy.runner [--tasks N]``.

It packages an empty work directory, registers a Runner application and checks a stateless
function (``tasks`` calls), a chained call (an ObjectFuture as an argument) and a stateful object,
then prints the results and exits 0, or exits 1 with the error. The functions live in this
module, which every node has (it is part of the SDK).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flamepy.errors import FlameError
from flamepy.runner.runner import Runner
from flamepy.runner.types import RunnerContext
from flamepy.util import short_name

__all__ = ["DEFAULT_TASKS", "RunnerE2EResult", "build_parser", "format_result", "main", "run_runner_e2e"]

DEFAULT_TASKS = 4


@dataclass
class RunnerE2EResult:
    app_name: str
    template: str
    workdir: str
    function_results: list[int]
    chained_result: int
    stateful_result: int


def _square(x: int) -> int:
    return x * x


def _add(a: int, b: int) -> int:
    return a + b


class _Counter:
    def __init__(self) -> None:
        self.total = 0

    def add(self, n: int) -> int:
        self.total += n
        return self.total


def run_runner_e2e(
    name: str | None = None,
    tasks: int = DEFAULT_TASKS,
    python_version: str | None = None,
    dependencies: list[str] | None = None,
    workdir: str | None = None,
    keep_workdir: bool = False,
) -> RunnerE2EResult:
    """Run the self-test (see the module docstring); raises the first FlameError."""
    app = name or short_name("runner-e2e")
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="flame-runner-e2e-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        runner = Runner(app, dependencies=dependencies, python_version=python_version, root=root)
        with runner:
            square = runner.service(_square)
            results = runner.get([square(i) for i in range(tasks)])
            chained = runner.service(_add)(square(2), square(3)).get()
            fixed = RunnerContext(_Counter())
            counter = runner.service(_Counter(), fixed.autoscale, fixed.warmup)
            stateful = [counter.add(1) for _ in range(3)][-1].get()
        return RunnerE2EResult(app, runner.template, str(root), results, chained, stateful)
    finally:
        if not keep_workdir and workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def format_result(result: RunnerE2EResult) -> str:
    return "\n".join(
        [
            f"application: {result.app_name} (from {result.template})",
            f"workdir: {result.workdir}",
            f"function results: {result.function_results}",
            f"chained result: {result.chained_result}",
            f"stateful result: {result.stateful_result}",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flamepy.runner", description="Runner self-test")
    parser.add_argument("--name", default=None, help="application name (default: random)")
    parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS, help="calls of the function")
    parser.add_argument("--python-version", default=None)
    parser.add_argument("--dependency", dest="dependencies", action="append", default=None)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep-workdir", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run_runner_e2e(
            args.name, args.tasks, args.python_version, args.dependencies, args.workdir, args.keep_workdir
        )
    except FlameError as exc:
        sys.stderr.write(f"runner self-test failed: {exc}\n")
        return 1
    sys.stdout.write(format_result(result) + "\n")
    return 0
