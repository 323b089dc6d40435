"""The hand-written JSON of task events and runs decodes to what ``json.dumps`` would have written."""

from __future__ import annotations

import json

from flamepy.types import Event, EventCode
from session_manager.effects import TaskRun
from session_manager.storage import codec

EVENTS = [
    Event(EventCode.PENDING, "task created", 1_700_000_000_000),
    Event(1, 'quote " backslash \\ newline \n tab \t é ☃ \U0001f600 \x00', None),
    Event(1003, None, 2),
    Event(3, "", -5),
]


def test_events_json_matches_json_dumps() -> None:
    text = codec.events_to_json(EVENTS)
    assert json.loads(text) == json.loads(json.dumps([[e.code, e.message, e.creation_time] for e in EVENTS]))
    assert codec.events_from_json(text) == tuple(EVENTS)
    assert codec.events_to_json([]) == "[]" and codec.events_from_json("[]") == ()


def test_run_json_round_trips() -> None:
    runs = [
        TaskRun(),
        TaskRun(3, "exec-1", 'node "a"', 2, ("exec-0", "exec-1", "é"), "node-b"),
        TaskRun(1, None, None, 0, (), None),
    ]
    for run in runs:
        assert codec.run_from_json(codec.run_to_json(run)) == run
        fields = [run.attempt, run.executor, run.node, run.retries, list(run.history), run.ran_on]
        assert json.loads(codec.run_to_json(run)) == fields


def test_other_values_fall_back_to_json_dumps() -> None:
    assert codec.events_to_json([Event(True, "x", 1.5)]) == '[[true,"x",1.5]]'  # type: ignore[arg-type]


def test_run_json_of_the_usual_run_is_what_json_dumps_writes() -> None:
    for run in (TaskRun(1, "exec-1", "node-1", 0, (), "node-1"), TaskRun(2, None, None, 1, (), 'n "é"')):
        fields = [run.attempt, run.executor, run.node, run.retries, [], run.ran_on]
        assert codec.run_to_json(run) == json.dumps(fields, separators=(",", ":"))
