"""``flmexec``: runs the script sent as the task input and returns what it printed.

Two input forms, told apart by the input itself:

- **Flame's JSON request** (what ``flamepy.tools.Sandbox`` and Flame's own clients send): a UTF-8
  JSON object ``{"language": "python" | "shell", "code": "...", "input": [0-255, ...] | null}``
  with an optional ``"runtime"`` (a Python version such as ``"3.11"`` / ``"python3.11"``, or a
  shell such as ``"bash"``). ``code`` is written to ``main.py`` / ``main.sh`` in a fresh temporary
  directory, which is also the working directory; the ``input`` bytes are the script's stdin. The
  output is ``{"data": [0-255, ...]}``: the script's stdout as a JSON list of byte values, the
  encoding Flame uses for ``Vec<u8>`` fields (``bytes(json.loads(out)["data"])`` decodes it).
  Python runs with this service's interpreter unless ``runtime`` names another; shell runs with
  ``/bin/bash`` (``/bin/sh`` where there is no bash) unless ``runtime`` names another shell.
- **A job task** (``{"kind": "flame.job/v1", ...}``, see :mod:`flamepy.jobs.launch`): run by
  :mod:`flamepy.apps.jobrun` in its own process group with live per-task logs, timeout and
  cancellation; the output is a ``flame.job-result/v1`` JSON and a non-zero exit fails the task
  with ``exit code N (REASON)`` in the message (:mod:`flamepy.apps.jobresult`). When this runs as
  the service process, SIGTERM/SIGINT are forwarded to the running job's process group first.
- **Anything else** is a raw shell script run with ``/bin/sh -c``; the output is its raw stdout.
  Our own job features send this form.

Either way a non-zero exit fails the task with the exit code and the tail of stderr (Flame's own
flmexec returns the stdout and ignores the exit status; issue 10 asks for a failure, so a caller
never mistakes a crashed script for a result). The session's common data, when given, is passed in
the environment as ``FLAME_COMMON_DATA`` (decoded UTF-8), with ``FLAME_SESSION_ID`` and
``FLAME_TASK_ID``.

Concurrency model: none of its own; the service runtime calls one handler at a time and each task
runs one child process to completion.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import flamepy
from flamepy.apps.jobrun import JobRunner, install_signal_forwarding

log = logging.getLogger(__name__)

STDERR_TAIL = 2000
LANGUAGES = ("python", "shell")
SCRIPT_FILES = {"python": "main.py", "shell": "main.sh"}


@dataclass(frozen=True)
class ScriptRequest:
    """One JSON request: the script, its language and the bytes for its stdin."""

    language: str
    code: str
    input: bytes | None = None
    runtime: str | None = None


def parse_request(raw: bytes | None) -> ScriptRequest | None:
    """The JSON request in ``raw``, or None when ``raw`` is not one (a raw shell script).

    An object with a string ``code`` is a request; if its other fields are wrong, the task fails
    with a message naming the field rather than running the JSON as a shell script.
    """
    if not raw or raw.lstrip()[:1] != b"{":
        return None
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return None
    language = payload.get("language")
    if not isinstance(language, str) or language.strip().lower() not in LANGUAGES:
        raise ValueError(f"flmexec: language must be 'python' or 'shell', got {language!r}")
    runtime = payload.get("runtime")
    if runtime is not None and not isinstance(runtime, str):
        raise ValueError(f"flmexec: runtime must be a string or null, got {runtime!r}")
    return ScriptRequest(
        language=language.strip().lower(),
        code=payload["code"],
        input=_input_bytes(payload.get("input")),
        runtime=(runtime.strip() or None) if runtime else None,
    )


def _input_bytes(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, list) and all(type(v) is int and 0 <= v <= 255 for v in value):
        return bytes(value)
    raise ValueError("flmexec: input must be null or a list of byte values (integers 0-255)")


def encode_output(data: bytes) -> bytes:
    """The JSON response for a script's stdout: ``{"data": [byte values]}``."""
    return json.dumps({"data": list(data)}, separators=(",", ":")).encode("ascii")


def python_interpreter(runtime: str | None) -> str:
    """This interpreter, or the ``python<version>`` on PATH that ``runtime`` asks for."""
    if not runtime:
        return sys.executable
    if os.path.isabs(runtime):
        if os.access(runtime, os.X_OK):
            return runtime
        raise ValueError(f"flmexec: python runtime {runtime!r} is not an executable file")
    version = runtime.removeprefix("python")
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version in ("", "3", ours):
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        raise ValueError(
            f"flmexec: python runtime {runtime!r} is not available on this node (it has Python {ours})"
        )
    return found


def shell_interpreter(runtime: str | None) -> str:
    """``runtime`` found on PATH, else /bin/bash, else /bin/sh."""
    if runtime:
        found = shutil.which(runtime)
        if found is None:
            raise ValueError(f"flmexec: shell runtime {runtime!r} is not available on this node")
        return found
    return "/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh"


def run_process(
    argv: list[str], stdin: bytes | None, env: dict[str, str], cwd: str | None, what: str
) -> bytes:
    """Run ``argv`` to completion; its stdout, or RuntimeError with the exit code and stderr tail."""
    proc = subprocess.run(
        argv,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-STDERR_TAIL:].strip()
        log.warning("%s exited with code %d", what, proc.returncode)
        raise RuntimeError(f"{what} exited with code {proc.returncode}: {tail}")
    return proc.stdout


def run_request(request: ScriptRequest, env: dict[str, str]) -> bytes:
    """Run one JSON request in a fresh temporary directory; its stdout."""
    if request.language == "python":
        interpreter = python_interpreter(request.runtime)
    else:
        interpreter = shell_interpreter(request.runtime)
    with tempfile.TemporaryDirectory(prefix=f"flmexec-{request.language}-") as work_dir:
        script = os.path.join(work_dir, SCRIPT_FILES[request.language])
        with open(script, "w", encoding="utf-8") as f:
            f.write(request.code)
        return run_process([interpreter, script], request.input, env, work_dir, f"{request.language} script")


def run_raw(script: bytes | None, env: dict[str, str]) -> bytes:
    """Run a raw shell script (the input as it is) with /bin/sh -c; its stdout."""
    text = (script or b"").decode("utf-8", "replace")
    return run_process(["/bin/sh", "-c", text], None, env, None, "script")


def _looks_like_job(raw: bytes | None) -> bool:
    """Cheap pre-check before :func:`flamepy.jobs.launch.is_job_input` (which imports the jobs
    package): only job inputs mention their kind."""
    return raw is not None and raw.lstrip()[:1] == b"{" and b"flame.job/" in raw


class Exec(flamepy.FlameService):
    """The flmexec service: job tasks, Flame JSON requests and raw shell scripts."""

    def __init__(self, jobs: JobRunner | None = None) -> None:
        self.env = dict(os.environ)
        self.jobs = jobs or JobRunner()

    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        data = context.common_data()
        if data is not None:
            self.env["FLAME_COMMON_DATA"] = data.decode("utf-8", "replace")
        self.env["FLAME_SESSION_ID"] = context.session_id

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        env = {**self.env, "FLAME_TASK_ID": context.task_id}
        if _looks_like_job(context.input):
            from flamepy.jobs.launch import is_job_input

            if is_job_input(context.input):
                assert context.input is not None
                extra = {k: v for k, v in env.items() if k.startswith("FLAME_")}
                return self.jobs.run_task(context.input, extra)
        request = parse_request(context.input)
        if request is None:
            return run_raw(context.input, env)
        return encode_output(run_request(request, env))

    def on_session_leave(self) -> None:
        pass


def main() -> None:
    """The service process: forward SIGTERM/SIGINT to a running job, then serve."""
    service = Exec()
    install_signal_forwarding(service.jobs)
    flamepy.run(service)


if __name__ == "__main__":
    main()
