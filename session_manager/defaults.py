"""The default applications registered on a fresh store: flmexec, flmping, flmrun."""

from __future__ import annotations

import sys

from flamepy.types import ApplicationAttributes, Shim


def default_applications(python: str | None = None) -> list[tuple[str, ApplicationAttributes]]:
    py = python or sys.executable
    return [
        (
            "flmexec",
            ApplicationAttributes(
                shim=Shim.HOST,
                description="Runs the shell script sent as the task input; the output is its stdout.",
                command=py,
                arguments=["-m", "flamepy.apps.flmexec"],
            ),
        ),
        (
            "flmping",
            ApplicationAttributes(
                shim=Shim.HOST,
                description="A trivial echo service, for health checks and benchmarks.",
                command=py,
                arguments=["-m", "flamepy.apps.flmping"],
            ),
        ),
        (
            "flmrun",
            ApplicationAttributes(
                shim=Shim.HOST,
                description="Template application of flamepy.runner.Runner services.",
                command=py,
                arguments=["-m", "flamepy.runner.runpy"],
            ),
        ),
    ]
