"""What happened to every task, counted three ways and compared.

* the client: each ``Session.run`` future — resolved (with which output), failed (with which
  error) or still unresolved at the deadline;
* the service: the execution log (one line per execution, written by the service itself);
* storage: every task of every session, read back through the SDK (state, output, events).

Definitions (the rows of the report):
  lost        = unresolved at the deadline + failed with a lost-task error (NOT_FOUND, "lost")
                + resolved on the client yet missing from storage;
  duplicated  = outputs that are not the task's own input (on the client or in storage)
                + inputs stored as more than one task;
  re-runs     = executions in the log beyond the first of each task;
  re-runs with a task event = per task, min(re-runs, re-runs its events record): the highest
                attempt number an event names ("attempt 3") less one, or, where no event names
                one, the events recording a new attempt (a Pending event after the first event,
                or a message naming a requeue/retry/re-run).
Storage is read once, right after the futures settled (or the deadline came): a task still
finishing then is counted in the state the session manager reports at that moment.
A ``concurrent.futures.Future`` cannot be resolved twice (the second result is dropped), so a
second outcome shows up as a wrong output or a second stored task, not as a second resolution.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import flamepy
from bench.chaos.workload import error_kind, fold

ATTEMPT = re.compile(r"\battempt\s*#?\s*(\d+)", re.IGNORECASE)
RERUN_WORDS = re.compile(r"requeue|retr(y|ied|ies)|re-?run", re.IGNORECASE)


@dataclass
class Counts:
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    rejected: int = 0  # failed on the client and not in storage: never accepted
    unresolved: int = 0
    lost_error: int = 0
    missing: int = 0
    not_succeed: int = 0  # resolved with a result on the client, yet not Succeed in storage
    wrong_output: int = 0
    stored_twice: int = 0
    stored_wrong: int = 0
    executions: int = 0
    tasks_ran: int = 0
    reruns: int = 0
    reruns_with_event: int = 0
    ran_after_error: int = 0
    stored: Counter[str] = field(default_factory=Counter)  # storage task states
    errors: Counter[str] = field(default_factory=Counter)  # client errors by kind
    rerun_reasons: Counter[str] = field(default_factory=Counter)  # messages of re-run events

    @property
    def lost(self) -> int:
        return self.unresolved + self.lost_error + self.missing

    @property
    def duplicated(self) -> int:
        return self.wrong_output + self.stored_twice + self.stored_wrong


def read_executions(path: Path) -> Counter[str]:
    """Executions per task input, from the service's log (a missing log: none ran)."""
    runs: Counter[str] = Counter()
    if not path.exists():
        return runs
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 4:
            runs[parts[2]] += 1
    return runs


def rerun_events(task: flamepy.Task) -> list[flamepy.Event]:
    """Events of ``task`` that record a re-run (see the module docstring)."""
    found = []
    for i, ev in enumerate(task.events):
        attempt = ATTEMPT.search(ev.message or "")
        if attempt is not None:
            if int(attempt.group(1)) >= 2:
                found.append(ev)
        elif (i > 0 and ev.code == flamepy.TaskState.PENDING.value) or RERUN_WORDS.search(ev.message or ""):
            found.append(ev)
    return found


def recorded_reruns(task: flamepy.Task) -> int:
    """How many re-runs of ``task`` its events record: the highest attempt number they name, less
    one; without attempt numbers, the number of :func:`rerun_events`."""
    attempts = [int(m.group(1)) for ev in task.events if (m := ATTEMPT.search(ev.message or ""))]
    return max(attempts) - 1 if attempts else len(rerun_events(task))


def audit(
    futures: Mapping[str, Future],
    run_errors: Counter[str],
    runs: Counter[str],
    stored: Iterable[flamepy.Task] | None,
) -> Counts:
    """Count everything; ``stored`` None: storage could not be read (storage rows stay 0)."""
    c = Counts(submitted=len(futures) + sum(run_errors.values()), errors=Counter(run_errors))
    by_input: dict[str, list[flamepy.Task]] = defaultdict(list)
    for task in stored or ():
        key = (task.input or b"").decode(errors="replace")
        if key in futures:
            by_input[key].append(task)
    _count_client(c, futures, by_input, runs, stored is not None)
    _count_storage(c, by_input)
    _count_runs(c, runs, by_input, futures)
    return c


def _count_client(
    c: Counts,
    futures: Mapping[str, Future],
    by_input: Mapping[str, list[flamepy.Task]],
    runs: Counter[str],
    storage_read: bool,
) -> None:
    for key, fut in futures.items():
        if not fut.done():
            c.unresolved += 1
            continue
        exc = fut.exception(timeout=0)
        if exc is None:
            c.completed += 1
            c.wrong_output += fut.result(timeout=0) != key.encode()
            c.missing += storage_read and key not in by_input
            c.not_succeed += any(t.state != flamepy.TaskState.SUCCEED for t in by_input.get(key, ()))
            continue
        c.failed += 1
        c.rejected += storage_read and key not in by_input
        c.errors[error_kind(exc)] += 1
        lost = isinstance(exc, flamepy.NotFoundError) or "lost" in str(exc).lower()
        c.lost_error += lost
        c.ran_after_error += runs[key] > 0


def _count_storage(c: Counts, by_input: Mapping[str, list[flamepy.Task]]) -> None:
    for key, tasks in by_input.items():
        c.stored_twice += len(tasks) - 1
        for task in tasks:
            c.stored[task.state.name] += 1
            ok = task.state != flamepy.TaskState.SUCCEED or task.output == key.encode()
            c.stored_wrong += not ok


def _count_runs(
    c: Counts, runs: Counter[str], by_input: Mapping[str, list[flamepy.Task]], futures: Mapping[str, Future]
) -> None:
    for key, n in runs.items():
        if key not in futures:
            continue
        c.executions += n
        c.tasks_ran += 1
        if n > 1:
            c.reruns += n - 1
            tasks = by_input.get(key, [])
            c.reruns_with_event += min(n - 1, sum(recorded_reruns(t) for t in tasks))
            events = [ev for t in tasks for ev in rerun_events(t)]
            c.rerun_reasons.update(fold(ev.message or f"event code {ev.code}") for ev in events)
