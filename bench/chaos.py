"""Chaos bench: a seeded, bounded crash scenario against a local cluster, and what it did to tasks.

Usage: ``python bench/chaos.py [--seed N] [--tasks 20000] [--kills 12] [--deadline 300]
[--window 30] [--kinds sm,em,svc] [--quick] [--markdown]`` (or ``make bench-chaos``), from the
repository root.

A local cluster on loopback (one session manager with SQLite in a temporary data directory, and
three executor managers on nodes chaos-a, chaos-b, chaos-c) runs ``--tasks`` tasks of a small echo
service, submitted with ``Session.run`` over four sessions and paced over ``--window`` seconds.
Meanwhile a schedule drawn from ``--seed`` sends ``kill -9`` to the session manager (restarted on
the same port and data directory), to executor managers (restarted under the same node name) and
to service processes. After the deadline (or once every future settled) it prints: submitted,
completed, lost, duplicated outcomes, executions and re-runs (counted from a log the service writes
itself, outside the broker), re-runs that a task event records, client errors by kind, durations.
``--quick``: 500 tasks, 3 kills, 60 s. Only processes it started (and their children) are killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos.main import main

if __name__ == "__main__":
    sys.exit(main())
