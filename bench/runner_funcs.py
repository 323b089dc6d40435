"""The functions bench/runner.py ships with the Runner.

They live in a module of their own (imported as ``bench.runner_funcs``, never from ``__main__``) so
that cloudpickle pickles them by reference and the service imports them from the code package,
which is the repository root.
"""

from __future__ import annotations


def noop() -> None:
    """The no-op call of the overhead benchmark."""
    return None


def square(x: int) -> int:
    """The trivial function of the map benchmark."""
    return x * x
