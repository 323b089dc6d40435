"""What ``flmctl run --dry-run`` prints: the job's shape once, then every task's command, working
directory and environment difference from the caller's (``+`` added, ``~`` changed; after the
first task, only what differs from the first task's). Values of
variables whose names look secret (``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``) are masked.
Plain text, no colour; the CLI may style it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from flamepy.jobs.jobenv import MASTER_ADDR_PLACEHOLDER
from flamepy.jobs.launch import JOB_ID_PLACEHOLDER, TaskLaunch, expand
from flamepy.jobs.spec import JobSpec
from flamepy.jobs.values import format_bytes, format_duration

MAX_TASKS_SHOWN = 16
_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
_ORIGIN = {
    "command": "command",
    "flow": "Flow job file",
    "skypilot": "SkyPilot-style job file",
    "sbatch": "#SBATCH script",
    "python": "Python call",
}


def _masked(name: str, value: str) -> str:
    upper = name.upper()
    if value and any(word in upper for word in _SECRET_WORDS):
        return "****"
    return value


def _resources(spec: JobSpec) -> str:
    parts = [f"{spec.cpus} CPU" + ("s" if spec.cpus != 1 else "")]
    parts.append(f"{format_bytes(spec.memory)} memory" if spec.memory else "any memory")
    if spec.gpus.count:
        kind = f" {spec.gpus.type}" if spec.gpus.type else ""
        parts.append(f"{spec.gpus.count}{kind} GPU" + ("s" if spec.gpus.count != 1 else ""))
    else:
        parts.append("no GPU")
    return ", ".join(parts)


def _header(spec: JobSpec) -> list[str]:
    lines = [f"job {spec.name!r} ({_ORIGIN[spec.dialect]}: {spec.source}), {spec.num_tasks} task(s)"]
    lines.append(f"  resources per task: {_resources(spec)}")
    shape = f"  ranks: {spec.instances}" + (" on distinct nodes" if spec.spread else "")
    if spec.array:
        cap = spec.array.max_concurrent
        shape += f"; array {spec.array}" + (f" (at most {cap} at once)" if cap else "")
    lines.append(shape)
    lines.append(f"  timeout: {format_duration(spec.timeout)}; retries: {spec.retries}")
    if spec.upload:
        from flamepy.jobs.upload import upload_root

        root, rel = upload_root(spec)
        excl = f" (excluding {', '.join(spec.excludes)})" if spec.excludes else ""
        inside = "" if rel == "." else f" ({rel}/ of it)"
        lines.append(f"  code: uploads {root}{excl}; tasks run in the uploaded copy{inside}")
    else:
        lines.append(f"  code: not uploaded; tasks run in {spec.workdir}")
    if spec.setup:
        lines.append("  setup:")
        lines.extend(f"    {line}" for line in spec.setup.rstrip().splitlines())
    if spec.labels:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(spec.labels.items())))
    if spec.stdout or spec.stderr:
        lines.append(f"  stdout: {spec.stdout or '(logs only)'}; stderr: {spec.stderr or '(with stdout)'}")
    for vol in spec.volumes:
        lines.append(f"  volume: {vol.source} -> {vol.target}" + (" (read-only)" if vol.read_only else ""))
    if spec.inherited_env:
        lines.append(f"  environment: {len(spec.inherited_env)} variable(s) copied from yours")
    if isinstance(spec.command, str) and "\n" in spec.command.strip():
        lines.append(f"  script ({' '.join(spec.interpreter)}):")
        lines.extend(f"    {line}" for line in spec.command.rstrip().splitlines())
    if spec.warnings:
        lines.append("warnings:")
        lines.extend(f"  ! {w}" for w in spec.warnings)
    return lines


def _command(spec: JobSpec, task: TaskLaunch) -> str:
    if task.argv is not None:
        return shlex.join(task.argv)
    text = task.shell or ""
    if "\n" in text.strip():
        return f"{' '.join(spec.interpreter)} <the script above, {len(text.splitlines())} lines>"
    return shlex.join(task.process_argv)


def _env_lines(spec: JobSpec, task: TaskLaunch, environ: Mapping[str, str]) -> list[str]:
    """``+``/``~`` lines for the variables ``task`` adds to or changes in ``environ``."""
    lines: list[str] = []
    for name in sorted(task.env):
        value = task.env[name]
        if name in spec.inherited_env and environ.get(name) == value:
            continue
        mark = "+" if name not in environ else ("~" if environ[name] != value else "")
        if mark:
            lines.append(f"    {mark} {name}={_masked(name, value)}")
    return lines


def _task(spec: JobSpec, task: TaskLaunch, first: TaskLaunch, environ: Mapping[str, str]) -> list[str]:
    where = f"rank {task.rank}/{task.ranks}"
    if task.array_index is not None:
        where += f", array index {task.array_index}"
    cwd = f"{task.cwd} (the uploaded copy)" if task.upload else task.cwd
    lines = [f"task {task.index} ({where})", f"  command: {_command(spec, task)}", f"  cwd: {cwd}"]
    if task.stdout or task.stderr:
        lines.append(f"  output: {task.stdout or '-'}; errors: {task.stderr or task.stdout or '-'}")
    if task is first:
        lines.append("  env (+ added to yours, ~ changed):")
        lines.extend(_env_lines(spec, task, environ))
    else:
        lines.append(f"  env: as task {first.index}, except:")
        lines.extend(_env_lines(spec, task, {**environ, **first.env}))
    return lines


def render_dry_run(
    spec: JobSpec,
    environ: Mapping[str, str] | None = None,
    job_id: str | None = None,
    max_tasks: int = MAX_TASKS_SHOWN,
) -> str:
    """The dry-run text for ``spec``: the job, then up to ``max_tasks`` tasks with their command,
    cwd and env difference from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    tasks = expand(spec, job_id)
    lines = _header(spec)
    for task in tasks[:max_tasks]:
        lines.extend(_task(spec, task, tasks[0], env))
    if len(tasks) > max_tasks:
        lines.append(f"... and {len(tasks) - max_tasks} more task(s) like these")
    notes = []
    if job_id is None:
        notes.append(f"{JOB_ID_PLACEHOLDER} is the job id, known once the job is created")
    if spec.instances > 1:
        notes.append(f"{MASTER_ADDR_PLACEHOLDER} is filled with rank 0's node address when it starts")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines) + "\n"
