"""Applications: register, update, unregister (sans-IO; called by ``Core.handle``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from flamepy.errors import AlreadyExistsError, InvalidArgumentError, InvalidStateError, NotFoundError
from flamepy.types import ApplicationAttributes, ApplicationState, SessionState, Shim
from session_manager import effects, events, validate
from session_manager.core import failures
from session_manager.core.state import CoreState
from session_manager.model import AppRecord


def get(st: CoreState, name: str) -> AppRecord:
    rec = st.apps.get(name)
    if rec is None:
        raise NotFoundError(f"application {name!r} not found")
    return rec


def register(st: CoreState, ev: events.RegisterApplication) -> AppRecord:
    name = validate.application_name(ev.name)
    if name in st.apps:
        raise AlreadyExistsError(f"application {name!r} already exists")
    _check_attrs(name, ev.attrs)
    rec = AppRecord(name, _normalise(ev.attrs), ApplicationState.ENABLED, st.clock.ms())
    st.apps[name] = rec
    st.out.records.append(effects.SaveApp(rec.snapshot()))
    return rec


def update(st: CoreState, ev: events.UpdateApplication) -> AppRecord:
    rec = get(st, ev.name)
    _check_attrs(ev.name, ev.attrs)
    rec.attrs = _normalise(ev.attrs)
    st.out.records.append(effects.SaveApp(rec.snapshot()))
    failures.application_updated(st, rec.name)
    st.resources_check_needed = True  # its shim may have changed
    return rec


def unregister(st: CoreState, ev: events.UnregisterApplication) -> None:
    name = ev.name
    get(st, name)
    users = [
        s.id for s in st.sessions.values() if s.attrs.application == name and s.state == SessionState.OPEN
    ]
    if users:
        raise InvalidStateError(
            f"application {name!r} has {len(users)} open session(s) "
            f"({', '.join(users[:3])}); close them first"
        )
    del st.apps[name]
    st.out.records.append(effects.DeleteApp(name))


def ensure_defaults(st: CoreState, defaults: Sequence[tuple[str, ApplicationAttributes]]) -> None:
    """Register the default applications on a fresh store (never overwrites)."""
    if st.apps:
        return
    for name, attrs in defaults:
        register(st, events.RegisterApplication(name, attrs))


def _check_attrs(name: str, attrs: ApplicationAttributes) -> None:
    if attrs.max_instances is not None and attrs.max_instances < 1:
        raise InvalidArgumentError(f"application {name!r}: max_instances must be at least 1")
    if attrs.delay_release is not None and attrs.delay_release < 0:
        raise InvalidArgumentError(f"application {name!r}: delay_release must not be negative")
    if attrs.working_directory and not attrs.working_directory.startswith("/"):
        raise InvalidArgumentError(
            f"application {name!r}: working_directory must be absolute, got {attrs.working_directory!r}"
        )


def _normalise(attrs: ApplicationAttributes) -> ApplicationAttributes:
    return replace(
        attrs,
        shim=attrs.shim or Shim.HOST,
        labels=list(attrs.labels or []),
        arguments=list(attrs.arguments or []),
        environments=dict(attrs.environments or {}),
    )
