"""From one :class:`JobSpec` to the tasks that run it, and the task input the command app reads.

:func:`expand` gives one :class:`TaskLaunch` per array index (or one) per rank, in that order,
each with its command, working directory and full environment (see :mod:`flamepy.jobs.jobenv`).
``TaskLaunch.to_task_input()`` is the UTF-8 JSON a job task carries as its input; ``flmexec``
recognises it by ``"kind": "flame.job/v1"`` (Flame's sandbox requests have no ``kind``):

.. code-block:: json

    {"kind": "flame.job/v1", "job_id": "j-1", "job_name": "train", "index": 0, "rank": 0,
     "ranks": 2, "array_index": null, "argv": null, "shell": "python train.py",
     "interpreter": ["bash"], "setup": null, "cwd": ".", "upload": true,
     "archive": "flmexec/uploads/3f2a...", "deltas": [], "env": {"...": "..."},
     "timeout_s": 7200.0, "stdout": null, "stderr": null,
     "volumes": [{"source": "/data", "target": "data", "read_only": false}],
     "resources": {"cpus": 8, "memory": 0, "gpus": 1, "gpu_type": "a100"}}

Exactly one of ``argv`` (exec, no shell) and ``shell`` (run as ``interpreter + ["-c", shell]``) is
set. ``cwd`` is absolute (run there) or relative to the unpacked upload (``upload`` true).
``archive`` is the object-cache key of the uploaded working directory (a ``.tar.gz``, see
:mod:`flamepy.jobs.upload`), unpacked once per job per node; ``deltas`` are further archives
applied over it in order (``flmctl dev``: changed files plus a list of deleted ones). Inputs
written before these fields existed decode with ``archive`` None and no deltas.
``setup`` is shell text run first, in the same cwd and env; if it fails, the task fails.

Values only known when the task starts are placeholders: :data:`MASTER_ADDR_PLACEHOLDER` in the
env of a multi-rank job (and in argv elements that referenced it). The executor calls
:meth:`TaskLaunch.fill` with the address of the node running rank 0 of the same array index
(``array_index``; the job's rank 0 outside arrays) before it starts the process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from flamepy.jobs.jobenv import MASTER_ADDR_PLACEHOLDER, task_env
from flamepy.jobs.spec import JobSpec
from flamepy.jobs.values import JobSpecError
from flamepy.types import MAX_TASK_DATA_BYTES

KIND = "flame.job/v1"
JOB_ID_PLACEHOLDER = "{{flame.job_id}}"
NO_ARRAY_INDEX = "4294967294"  # what SLURM puts for %a in a job that is not an array
_PATTERN = re.compile(r"%(\d*)([jAaxntu%])")
_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")

__all__ = ["KIND", "MASTER_ADDR_PLACEHOLDER", "TaskLaunch", "expand", "expand_pattern", "is_job_input"]


@dataclass(frozen=True)
class TaskLaunch:
    """One task of a job as the command application runs it (see the module docstring)."""

    job_id: str
    job_name: str
    index: int
    rank: int
    ranks: int
    array_index: int | None
    argv: tuple[str, ...] | None
    shell: str | None
    interpreter: tuple[str, ...] = ("bash",)
    setup: str | None = None
    cwd: str = "."
    upload: bool = True
    archive: str | None = None
    deltas: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    stdout: str | None = None
    stderr: str | None = None
    volumes: tuple[dict[str, Any], ...] = ()
    resources: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.argv is None) == (self.shell is None):
            raise JobSpecError("task input: expected exactly one of 'argv' and 'shell'")

    @property
    def process_argv(self) -> list[str]:
        """The argv to exec: the argv itself, or ``interpreter -c SHELL``."""
        if self.argv is not None:
            return list(self.argv)
        return [*self.interpreter, "-c", self.shell or ""]

    @property
    def needs_fill(self) -> bool:
        """True while a run-time placeholder is still in the env or argv."""
        return any(MASTER_ADDR_PLACEHOLDER in v for v in (*self.env.values(), *(self.argv or ())))

    def fill(self, master_addr: str) -> TaskLaunch:
        """This launch with :data:`MASTER_ADDR_PLACEHOLDER` replaced by ``master_addr`` (the
        address of the node running rank 0) in every env value and argv element."""
        env = {k: v.replace(MASTER_ADDR_PLACEHOLDER, master_addr) for k, v in self.env.items()}
        argv = (
            None
            if self.argv is None
            else tuple(a.replace(MASTER_ADDR_PLACEHOLDER, master_addr) for a in self.argv)
        )
        return replace(self, env=env, argv=argv)

    def to_task_input(self) -> bytes:
        """The UTF-8 JSON task input; raises :class:`JobSpecError` past the task size limit."""
        doc = {"kind": KIND, **{f: _jsonable(getattr(self, f)) for f in _FIELDS}}
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        if len(raw) > MAX_TASK_DATA_BYTES:
            raise JobSpecError(
                f"job {self.job_name!r}: task input is {len(raw)} bytes, over the {MAX_TASK_DATA_BYTES}-byte "
                "limit (a very large script or environment); put data in files instead"
            )
        return raw

    @classmethod
    def from_task_input(cls, raw: bytes) -> TaskLaunch:
        """Decode :meth:`to_task_input`'s bytes; a wrong kind or field raises :class:`JobSpecError`."""
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise JobSpecError(f"task input: expected JSON, got an undecodable payload ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            got = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise JobSpecError(f"task input: expected kind {KIND!r}, got {got!r}")
        missing = [f for f in _REQUIRED if f not in doc]
        if missing:
            raise JobSpecError(f"task input: missing field(s) {', '.join(missing)}")
        values = {f: doc[f] for f in _FIELDS if f in doc}
        try:
            values = _typed(values)
            return cls(**values)
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, JobSpecError):
                raise
            raise JobSpecError(f"task input: malformed field ({exc})") from exc


_FIELDS = tuple(TaskLaunch.__dataclass_fields__)
_REQUIRED = ("job_id", "job_name", "index", "rank", "ranks", "array_index", "argv", "shell")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """Check the JSON types of a decoded task input and restore tuples."""
    for name in ("job_id", "job_name"):
        if not isinstance(values[name], str):
            raise JobSpecError(f"task input: {name}: expected a string, got {values[name]!r}")
    for name in ("index", "rank", "ranks"):
        if not isinstance(values[name], int):
            raise JobSpecError(f"task input: {name}: expected an integer, got {values[name]!r}")
    env = values.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise JobSpecError("task input: env: expected an object of strings")
    if values.get("archive") is not None and not isinstance(values["archive"], str):
        raise JobSpecError(f"task input: archive: expected a cache key, got {values['archive']!r}")
    for name in ("argv", "interpreter", "volumes", "deltas"):
        if values.get(name) is not None:
            if not isinstance(values[name], list):
                raise JobSpecError(f"task input: {name}: expected a list, got {values[name]!r}")
            values[name] = tuple(values[name])
    if not all(isinstance(d, str) for d in values.get("deltas") or ()):
        raise JobSpecError("task input: deltas: expected a list of cache keys")
    if values["argv"] is not None and not all(isinstance(a, str) for a in values["argv"]):
        raise JobSpecError("task input: argv: expected a list of strings")
    if values["shell"] is not None and not isinstance(values["shell"], str):
        raise JobSpecError("task input: shell: expected a string")
    return values


def is_job_input(raw: bytes | None) -> bool:
    """Whether ``raw`` claims to be a job task input (cheap check before decoding)."""
    if not raw or raw.lstrip()[:1] != b"{":
        return False
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("kind"), str) and doc["kind"].startswith("flame.job/")


def expand_pattern(
    pattern: str,
    job_id: str,
    array_job_id: str,
    index: int | None,
    name: str,
    *,
    rank: int = 0,
    user: str = "",
) -> str:
    """SLURM's filename pattern: ``%j`` job id, ``%A`` array's job id, ``%a`` array index
    (``4294967294`` outside arrays, as SLURM), ``%x`` job name, ``%n``/``%t`` node/task rank,
    ``%u`` user, ``%%`` a percent sign; a width (``%3a``) zero-pads numbers. Others are kept."""

    def one(m: re.Match[str]) -> str:
        width, code = m.group(1), m.group(2)
        value = {
            "j": job_id,
            "A": array_job_id,
            "x": name,
            "u": user,
            "%": "%",
            "a": NO_ARRAY_INDEX if index is None else str(index),
            "n": str(rank),
            "t": str(rank),
        }[code]
        return value.zfill(int(width)) if width and value.isdigit() else value

    return _PATTERN.sub(one, pattern)


def _substitute_argv(argv: tuple[str, ...], env: dict[str, str]) -> tuple[str, ...]:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, m.group(0))

    return tuple(_VAR_REF.sub(one, arg) for arg in argv)


def expand(spec: JobSpec, job_id: str | None = None) -> list[TaskLaunch]:
    """The job's tasks: for each array index (or once), ranks ``0..instances-1``. ``job_id`` is the
    job's session id; without it (a dry run) it stays :data:`JOB_ID_PLACEHOLDER`."""
    jid = job_id or JOB_ID_PLACEHOLDER
    indices: list[int | None] = list(spec.array.indices) if spec.array else [None]
    out: list[TaskLaunch] = []
    for array_index in indices:
        for rank in range(spec.instances):
            out.append(_one(spec, jid, len(out), rank, array_index))
    return out


def _one(spec: JobSpec, jid: str, index: int, rank: int, array_index: int | None) -> TaskLaunch:
    env = task_env(spec, jid, index, rank, array_index)
    element_id = jid if array_index is None else f"{jid}_{array_index}"

    def path(pattern: str | None) -> str | None:
        if pattern is None:
            return None
        return expand_pattern(pattern, element_id, jid, array_index, spec.name, rank=rank)

    argv = None if isinstance(spec.command, str) else _substitute_argv(spec.command, env)
    return TaskLaunch(
        job_id=jid,
        job_name=spec.name,
        index=index,
        rank=rank,
        ranks=spec.instances,
        array_index=array_index,
        argv=argv,
        shell=spec.command if isinstance(spec.command, str) else None,
        interpreter=spec.interpreter,
        setup=spec.setup,
        cwd="." if spec.upload else spec.workdir,
        upload=spec.upload,
        env=env,
        timeout_s=spec.timeout,
        stdout=path(spec.stdout),
        stderr=path(spec.stderr),
        volumes=tuple(
            {"source": v.source, "target": v.target, "read_only": v.read_only} for v in spec.volumes
        ),
        resources={
            "cpus": spec.cpus,
            "memory": spec.memory,
            "gpus": spec.gpus.count,
            "gpu_type": spec.gpus.type,
        },
    )
