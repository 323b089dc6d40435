"""Batching consecutive runs of one kind of message, keeping the order of everything else.

Used by both ends of the backend stream (``invoke_tasks`` from the session manager, ``task_results``
from an executor manager): a run of batchable items becomes one message, any other item its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")  # an item to send
E = TypeVar("E")  # a batch element
M = TypeVar("M")  # a message on the wire


def batch_runs(
    items: Iterable[T],
    element: Callable[[T], E | None],
    single: Callable[[T], M],
    batch: Callable[[list[E]], M],
) -> list[M]:
    """``items`` as messages in order: each run of items that ``element`` maps to an element (not
    None) becomes ``batch(run)``; every other item becomes ``single(item)``."""
    out: list[M] = []
    run: list[E] = []
    for item in items:
        member = element(item)
        if member is not None:
            run.append(member)
            continue
        if run:
            out.append(batch(run))
            run = []
        out.append(single(item))
    if run:
        out.append(batch(run))
    return out
