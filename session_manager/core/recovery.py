"""Start-up: rebuild the core's records from what storage returned (the ``Recover`` event)."""

from __future__ import annotations

from flamepy.types import SessionState, Task, TaskState
from session_manager import effects, events
from session_manager.core import applications, retries, spread
from session_manager.core.state import REQUEUED, CoreState
from session_manager.effects import TaskRun
from session_manager.model import AppRecord, SessionRecord, TaskRecord


def recover(st: CoreState, ev: events.Recover) -> None:
    """Tasks that were running when the last process died run again (at-least-once, recorded as
    event ``REQUEUED`` naming the attempt; not charged to their retry limit); pending tasks
    of a session closed meanwhile are cancelled. Finished tasks stay in storage, only counted."""
    for app in ev.apps:
        st.apps[app.name] = AppRecord(app.name, app.attributes, app.state, app.creation_time)
    for s in ev.sessions:
        st.sessions[s.id] = SessionRecord(
            id=s.id,
            attrs=s.attrs,
            state=s.state,
            creation_time=s.creation_time,
            completion_time=s.completion_time,
            events=list(s.events),
            next_task_id=s.next_task_id,
        )
    for t in sorted(ev.tasks, key=lambda t: (t.session_id, int(t.id))):
        _restore_task(st, t, ev.runs.get((t.session_id, int(t.id))))
    retries.restore(st, dict(ev.policies))
    spread.restore(st, ev.spread)
    for sid, keys in ev.keys.items():
        ses = st.sessions.get(sid)
        if ses is not None:
            ses.keys.update(keys)
    for sid, counts in ev.finished.items():
        ses = st.sessions.get(sid)
        if ses is not None:
            for state, n in counts.items():
                ses.counts[state] += n
    applications.ensure_defaults(st, ev.default_apps)
    st.schedule_needed = True
    st.resources_check_needed = True


def _restore_task(st: CoreState, t: Task, run: TaskRun | None) -> None:
    ses = st.sessions.get(t.session_id)
    if ses is None:
        return
    ses.next_task_id = max(ses.next_task_id, int(t.id) + 1)
    if t.state.is_terminal:
        ses.counts[t.state] += 1
        return
    rec = TaskRecord(
        id=int(t.id),
        session_id=t.session_id,
        state=t.state,
        input=t.input,
        creation_time=t.creation_time,
        output=t.output,
        completion_time=t.completion_time,
        events=list(t.events),
    )
    if run is not None:
        rec.attempt, rec.retries, rec.history = run.attempt, run.retries, list(run.history)
        rec.ran_on = run.ran_on
    ses.tasks[rec.id] = rec
    if rec.state == TaskState.RUNNING:  # not a transition: the process that ran it is gone
        rec.state = TaskState.PENDING
        text = f"requeued after session manager restart (attempt {rec.attempt})"
        rec.events.append(st.event(REQUEUED, text))
        st.out.records.append(effects.UpdateTask(rec.snapshot(), rec.run()))
    ses.counts[rec.state] += 1
    if rec.state == TaskState.PENDING:
        if ses.state == SessionState.OPEN:
            ses.pending.append(rec.id)
        else:  # closed while the task was in flight: it can never run now
            st.task_to(ses, rec, TaskState.CANCELLED, "session closed")
