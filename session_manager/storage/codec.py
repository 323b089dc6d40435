"""JSON encodings of the dataclasses stored in SQL columns (no protobuf beyond the boundary)."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from json.encoder import encode_basestring_ascii
from typing import Any

from flamepy.types import (
    ApplicationAttributes,
    ApplicationSchema,
    Event,
    ResourceRequirement,
    SessionAttributes,
    Shim,
)
from session_manager.effects import TaskRun


def _json_value(v: object) -> str:
    """One JSON scalar as ``json.dumps`` writes it, strings and ints without building an encoder
    per call (which ``json.dumps`` does: it was most of the cost of a task's record)."""
    if type(v) is str:
        return encode_basestring_ascii(v)
    if v is None:
        return "null"
    if isinstance(v, int) and not isinstance(v, bool):
        return int.__repr__(v)  # an IntEnum too, as json.dumps writes it
    return json.dumps(v)


def _event_json(e: Event) -> str:
    code, message, when = e.code, e.message, e.creation_time
    usual = type(when) is int and isinstance(code, int) and type(code) is not bool
    if usual and type(message) is str:
        return f"[{int.__repr__(code)},{encode_basestring_ascii(message)},{when}]"
    if usual and message is None:
        return f"[{int.__repr__(code)},null,{when}]"
    return f"[{_json_value(code)},{_json_value(message)},{_json_value(when)}]"


def events_to_json(events: tuple[Event, ...] | list[Event]) -> str:
    """Written on every state change of a task (the whole list): by hand, no encoder per call."""
    return "[" + ",".join(map(_event_json, events)) + "]"


def events_from_json(text: str) -> tuple[Event, ...]:
    return tuple(Event(code, message, ts) for code, message, ts in json.loads(text or "[]"))


def run_to_json(r: TaskRun) -> str:
    """Written at every dispatch and outcome (Running is persisted): by hand, as ``events_to_json``."""
    j = _json_value
    attempt, retries, executor, node, ran_on = r.attempt, r.retries, r.executor, r.node, r.ran_on
    if (
        type(attempt) is int
        and type(retries) is int
        and not r.history
        and (executor is None or type(executor) is str)
        and (node is None or type(node) is str)
        and (ran_on is None or type(ran_on) is str)
    ):  # the usual run: no per-field dispatch
        enc = encode_basestring_ascii
        ex = "null" if executor is None else enc(executor)
        nd = "null" if node is None else enc(node)
        on = "null" if ran_on is None else enc(ran_on)
        return f"[{attempt},{ex},{nd},{retries},[],{on}]"
    history = ",".join(map(j, r.history))
    return f"[{j(attempt)},{j(executor)},{j(node)},{j(retries)},[{history}],{j(ran_on)}]"


def run_from_json(text: str) -> TaskRun:
    """A run record; one written before ``ran_on`` existed has five fields (ran_on None)."""
    attempt, executor, node, retries, history, *rest = json.loads(text)
    return TaskRun(attempt, executor, node, retries, tuple(history), rest[0] if rest else None)


def app_attrs_to_json(a: ApplicationAttributes) -> str:
    doc: dict[str, Any] = asdict(a)
    doc["shim"] = int(a.shim) if a.shim is not None else None
    return json.dumps(doc)


def app_attrs_from_json(text: str) -> ApplicationAttributes:
    doc = json.loads(text)
    if doc.get("shim") is not None:
        doc["shim"] = Shim(doc["shim"])
    if doc.get("schema") is not None:
        doc["schema"] = ApplicationSchema(**doc["schema"])
    return ApplicationAttributes(**doc)


def session_attrs_to_json(s: SessionAttributes) -> str:
    doc: dict[str, Any] = asdict(s)
    doc["common_data"] = base64.b64encode(s.common_data).decode() if s.common_data is not None else None
    return json.dumps(doc)


def session_attrs_from_json(text: str) -> SessionAttributes:
    doc = json.loads(text)
    if doc.get("common_data") is not None:
        doc["common_data"] = base64.b64decode(doc["common_data"])
    if doc.get("resreq") is not None:
        doc["resreq"] = ResourceRequirement(**doc["resreq"])
    return SessionAttributes(**doc)
