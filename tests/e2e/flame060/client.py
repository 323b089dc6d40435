"""A client written against flamepy 0.6.0 from PyPI, driving our cluster; run by that venv's python.

    <flame060 python> client.py APP SERVICE_DIR

    <flame060 python> client.py --enter-fails APP SERVICE_DIR
    <flame060 python> client.py --list-applications

The endpoint comes from ``~/.flame/flame.yaml`` (the test gives it a temporary HOME), exactly as a
0.6.0 user configures it, or from ``FLAME_ENDPOINT`` (the short ``--list-applications`` run). The application is registered the way Flame's examples register one:
this venv's python as ``command``, ``arguments: [service.py]`` relative to ``working_directory``,
and ``environments``.

Each step prints one JSON line as soon as it ends, ``{"step": name, "ok": true, "value": ...}`` or
``{"step": name, "ok": false, "error": class, "code": FlameErrorCode name, "message": ...}``, so a
step that hangs still leaves the earlier ones for the test. Bytes are shown as latin-1 text.
"""

import fcntl
import json
import os
import sys
import traceback
from collections import Counter
from concurrent.futures import wait

import flamepy

COMMON_DATA = b"common data from a flamepy 0.6.0 client \x00\xff"
RUN_COUNT = 100
FUTURE_TIMEOUT_S = 60
WATCH_TIMEOUT_S = 60
UNKNOWN_SESSION = "no-such-session-flame060"
ENTER_FAILS_TIMEOUT_S = 30  # Flame gives up after 5 bind failures with backoff: ~12 s here
WAITING_TASKS = 40  # more than an executor takes at once, so some are still Pending at close


def text(data):
    return None if data is None else data.decode("latin-1")


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def step(name, fn, show=None):
    """Run ``fn``, print its outcome (``show(value)`` when given) and return its value or None."""
    try:
        value = fn()
    except Exception as exc:  # reported to the test, which asserts on it
        emit(
            {
                "step": name,
                "ok": False,
                "error": type(exc).__name__,
                "code": getattr(getattr(exc, "code", None), "name", None),
                "message": getattr(exc, "message", str(exc)),
                "traceback": traceback.format_exc(),
            }
        )
        return None
    emit({"step": name, "ok": True, "value": value if show is None else show(value)})
    return value


def task_record(task):
    return {
        "id": task.id,
        "session_id": task.session_id,
        "state": task.state.name,
        "output": text(task.output),
        "completed": task.is_completed(),
        "failed": task.is_failed(),
        "has_completion_time": task.completion_time is not None,
        "creation_time": task.creation_time.isoformat(),
        "events": [{"code": e.code, "message": e.message} for e in task.events or []],
    }


def session_record(ssn):
    return {
        "id": ssn.id,
        "application": ssn.application,
        "state": ssn.state.name,
        "pending": ssn.pending,
        "running": ssn.running,
        "succeed": ssn.succeed,
        "failed": ssn.failed,
        "common_data": text(ssn.common_data()),
        "has_completion_time": ssn.completion_time is not None,
        "creation_time": ssn.creation_time.isoformat(),
        "events": [{"code": e.code, "message": e.message} for e in ssn.events or []],
    }


FULL_SPEC = {
    "image": "registry.example/flame/echo:1",
    "description": "every ApplicationSpec field",
    "labels": ["a", "b"],
    "command": "/usr/bin/env",
    "arguments": ["python", "main.py", "--flag=${GREETING}"],
    "environments": {"GREETING": "hi", "EMPTY": ""},
    "working_directory": "/opt/flame/full",
    "max_instances": 7,
    "delay_release": 3,
    "url": "file:///opt/flame/packages/full.tar.gz",
    "installer": "pip",
}


def full_application(name):
    """Register from a dict (0.6.0 accepts one) with every field set; read it back; unregister."""
    attrs = dict(FULL_SPEC, schema=flamepy.ApplicationSchema(input="in", output="out", common_data="cd"))
    flamepy.register_application(name, attrs)
    try:
        app = flamepy.get_application(name)
        record = application_record(app)
        record.update(
            image=app.image,
            max_instances=app.max_instances,
            delay_release=app.delay_release,
            installer=app.installer,
            schema=None
            if app.schema is None
            else [app.schema.input, app.schema.output, app.schema.common_data],
        )
        return record
    finally:
        flamepy.unregister_application(name)


def application_record(app):
    return {
        "name": app.name,
        "state": app.state.name,
        "shim": app.shim.name,
        "command": app.command,
        "arguments": app.arguments,
        "environments": app.environments,
        "working_directory": app.working_directory,
        "description": app.description,
        "labels": app.labels,
        "url": app.url,
        "creation_time": app.creation_time.isoformat(),
    }


def watch(ssn, task_id):
    return [task_record(t) for t in ssn.watch_task(task_id, timeout=WATCH_TIMEOUT_S)]


def outcome(future):
    try:
        return {"ok": True, "value": text(future.result(timeout=FUTURE_TIMEOUT_S))}
    except flamepy.FlameError as exc:
        return {"ok": False, "code": exc.code.name, "message": exc.message}


def run_many(ssn):
    inputs = [f"task-{i}".encode() for i in range(RUN_COUNT)]
    futures = [ssn.run(data) for data in inputs]
    _, not_done = wait(futures, timeout=FUTURE_TIMEOUT_S)
    outcomes = [outcome(f) for f in futures if f not in not_done]
    return {
        "not_done": len(not_done),
        "succeeded": sum(1 for o in outcomes if o["ok"]),
        "all_match": [o.get("value") for o in outcomes] == [text(d) for d in inputs],
        "failures": [o for o in outcomes if not o["ok"]][:5],
    }


def close_with_waiting_tasks(app, lock_path):
    """Close a session while its tasks wait (Running) or queue (Pending) behind a lock we hold."""
    with open(lock_path, "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ssn = step("waiting_session", lambda: flamepy.create_session(app, max_instances=1), session_record)
        if ssn is None:
            return
        data = f"wait:{lock_path}".encode()
        ids = [ssn.create_task(data).id for _ in range(WAITING_TASKS)]
        emit({"step": "waiting_tasks", "ok": True, "value": ids})
        step("close_waiting_session", lambda: session_record(flamepy.close_session(ssn.id)))
        step("get_waiting_session", lambda: session_record(flamepy.get_session(ssn.id)))
        step("list_waiting_tasks", lambda: dict(Counter(t.state.name for t in ssn.list_tasks())))
        step("get_last_waiting_task", lambda: task_record(ssn.get_task(ids[-1])))
        fcntl.flock(lock, fcntl.LOCK_UN)


def enter_fails(app, service_dir):
    """A session whose service's on_session_enter raises: does the caller hear of it?"""
    attrs = flamepy.ApplicationAttributes(
        command=sys.executable, arguments=["service.py"], working_directory=service_dir
    )
    step("register_application", lambda: flamepy.register_application(app, attrs))
    ssn = step("session", lambda: flamepy.create_session(app, common_data=b"fail-enter"), session_record)
    if ssn is None:
        return
    future = ssn.run(b"hello")
    step("run", lambda: text(future.result(timeout=ENTER_FAILS_TIMEOUT_S)))
    step("get_session", lambda: session_record(flamepy.get_session(ssn.id)))
    step("close_session", ssn.close)
    step("unregister_application", lambda: flamepy.unregister_application(app))


def open_with_spec(app, session_id):
    """open_session with a spec creates the session; a differing spec is refused."""
    spec = flamepy.SessionAttributes(application=app, common_data=b"from open_session")
    opened = step("open_session_with_spec", lambda: flamepy.open_session(session_id, spec), session_record)
    if opened is None:
        return
    step("invoke_opened_with_spec", lambda: text(opened.invoke(b"common")))
    other = flamepy.SessionAttributes(application=app, common_data=b"from open_session", min_instances=1)
    step("open_session_with_other_spec", lambda: session_record(flamepy.open_session(session_id, other)))
    step("close_opened_with_spec", opened.close)


def agent(app, service_dir):
    """0.6.0's agent API: flamepy.service.Session against a FlameInstance entrypoint (agent.py)."""
    from flamepy.service import Session as AgentSession

    attrs = flamepy.ApplicationAttributes(
        command=sys.executable, arguments=["agent.py"], working_directory=service_dir
    )
    step("agent_register", lambda: flamepy.register_application(app, attrs))
    session = step("agent_session", lambda: AgentSession(name=app), lambda s: s.id())
    if session is not None:
        step("agent_invoke", lambda: session.invoke({"x": 1, "y": 2}))
        step("agent_invoke_raises", lambda: session.invoke({"fail": 7}))
        step("agent_close", session.close)
    step("agent_unregister", lambda: flamepy.unregister_application(app))


def main(app, service_dir, lock_path):
    emit(
        {"step": "reference", "ok": True, "value": {"version": flamepy.__version__, "file": flamepy.__file__}}
    )
    attrs = flamepy.ApplicationAttributes(
        command=sys.executable,
        # as Flame's example applications: a trailing slash, ${VAR} expanded in arguments
        arguments=["service.py", "--greeting=${FLAME060_GREETING}"],
        working_directory=service_dir + "/",
        environments={"FLAME060_GREETING": "hello from the application", "FLAME_LOG_LEVEL": "DEBUG"},
        url="file:///opt/flame/packages/flame060-echo.tar.gz",
        description="a flamepy 0.6.0 service",
        labels=["flame060"],
    )
    step("register_application", lambda: flamepy.register_application(app, attrs))
    step("get_application", lambda: application_record(flamepy.get_application(app)))
    step("list_applications", lambda: [a.name for a in flamepy.list_applications()])
    step("full_application", lambda: full_application(app + "-full"))
    ssn = step("session", lambda: flamepy.create_session(app, common_data=COMMON_DATA), session_record)
    if ssn is None:
        return
    step("invoke", lambda: text(ssn.invoke(b"hello")))
    step("invoke_common_data", lambda: text(ssn.invoke(b"common")))
    step("invoke_env", lambda: json.loads(ssn.invoke(b"env")))
    step("invoke_none", lambda: text(ssn.invoke(b"none")))
    step("invoke_empty", lambda: text(ssn.invoke(b"")))
    # A task's messages carry input and output: 2 x 1.5 MiB stays under 0.6.0's 4 MiB receive limit
    # (as against Flame, whose Task messages carry both as well).
    big = bytes(range(256)) * (6 * 1024)
    step("invoke_1_5mib", lambda: ssn.invoke(big) == big)
    step("run_many", lambda: run_many(ssn))
    step("stats", lambda: json.loads(ssn.invoke(b"stats")))
    step("run_raises", lambda: outcome(ssn.run(b"raise:the service refused task 7")))
    step("invoke_raises", lambda: text(ssn.invoke(b"raise:invoke refused")))
    failing = step("create_failing_task", lambda: task_record(ssn.create_task(b"raise:watched failure")))
    if failing is not None:
        step("watch_failed_task", lambda: watch(ssn, failing["id"]))
        step("get_failed_task", lambda: task_record(ssn.get_task(failing["id"])))
    ok = step("create_task", lambda: task_record(ssn.create_task(b"watched")))
    if ok is not None:
        step("watch_task", lambda: watch(ssn, ok["id"]))
        step("watch_finished_task", lambda: watch(ssn, ok["id"]))
    step(
        "list_tasks",
        lambda: {
            "count": len(tasks := list(ssn.list_tasks())),
            "states": dict(Counter(t.state.name for t in tasks)),
            "session_ids": sorted({t.session_id for t in tasks}),
            "failed_events": [
                [{"code": e.code, "message": e.message} for e in t.events] for t in tasks if t.is_failed()
            ],
        },
    )
    step("get_session", lambda: session_record(flamepy.get_session(ssn.id)))
    step("list_sessions", lambda: [s.id for s in flamepy.list_sessions()])
    step("close_session", ssn.close)
    step("get_closed_session", lambda: session_record(flamepy.get_session(ssn.id)))
    step("open_unknown_session", lambda: session_record(flamepy.open_session(UNKNOWN_SESSION)))
    step("open_closed_session", lambda: session_record(flamepy.open_session(ssn.id)))
    step("create_task_in_closed_session", lambda: task_record(ssn.create_task(b"too late")))
    step(
        "create_duplicate_session",
        lambda: session_record(flamepy.create_session(app, session_id=ssn.id)),
    )
    open_with_spec(app, ssn.id + "-spec")
    bare = step("session_without_common_data", lambda: flamepy.create_session(app), session_record)
    if bare is not None:
        step("invoke_without_common_data", lambda: text(bare.invoke(b"common")))
        step("open_session", lambda: session_record(flamepy.open_session(bare.id)))
        step("close_session_without_common_data", bare.close)
    step("list_nodes", lambda: len(flamepy.list_nodes()))
    step("list_executors", lambda: len(flamepy.list_executors()))
    close_with_waiting_tasks(app, lock_path)
    agent(app + "-agent", service_dir)
    step("unregister_application", lambda: flamepy.unregister_application(app))
    step("get_unregistered_application", lambda: flamepy.get_application(app) is None)


if __name__ == "__main__":
    if sys.argv[1] == "--enter-fails":
        enter_fails(*sys.argv[2:4])
    elif sys.argv[1] == "--list-applications":
        step("list_applications", lambda: [a.name for a in flamepy.list_applications()])
    else:
        main(*sys.argv[1:4])
    emit({"step": "done", "ok": True, "value": None})
    # 0.6.0's Connection keeps a non-daemon thread pool for watches; leave even if one still hangs.
    os._exit(0)
