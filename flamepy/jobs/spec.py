"""What a job is, as data: :class:`JobSpec` and its parts, validated on construction.

A **job** is a session of the built-in command application whose task(s) run one command in a
working directory with an environment, on executors holding the requested cpu/mem/gpu. Every way
of describing one (``flmctl run`` options, a Flow or SkyPilot-style YAML file, an ``#SBATCH``
script, ``flamepy.jobs.run(...)`` keyword arguments) produces a :class:`JobSpec`;
:func:`flamepy.jobs.launch.expand` turns it into the tasks to create.

The command has two forms, chosen by its type:

- a ``str`` is **shell text**, run as ``INTERPRETER -c TEXT`` (``interpreter`` defaults to
  ``("bash",)``; an ``#SBATCH`` script's shebang picks it). Pipes, ``&&``, ``$VAR`` and multi-line
  scripts work; this is what ``flmctl run "CMD"``, YAML ``command: ...``/``run: |`` and scripts give.
- a ``tuple`` of strings is an **argv**, executed without a shell (``flmctl run -- CMD ARGS...``,
  a YAML list). ``$NAME`` / ``${NAME}`` in an element is replaced by the task's value of ``NAME``
  when the job sets that variable (Flow's documented list commands rely on it); other text is
  passed through untouched.

Resources are **per task** (one task per rank per array index): ``cpus``, ``memory`` (bytes,
0 = no requirement), ``gpus`` (count and optional type).

Environment layers, lowest first: ``inherited_env`` (copied from the caller's environment, e.g.
SLURM's default ``--export=ALL``), the variables Flame generates per task (ranks, torchrun,
SLURM_*), then ``env`` (what the user set explicitly, which wins).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from flamepy.jobs.values import JobSpecError, check_env_name, check_label, check_name

Dialect = Literal["command", "flow", "skypilot", "sbatch", "python"]
DIALECTS = ("command", "flow", "skypilot", "sbatch", "python")


@dataclass(frozen=True)
class GpuRequest:
    """``count`` whole GPUs per task, of ``type`` (lower-case, e.g. ``"a100"``) or any type."""

    count: int = 0
    type: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
            raise JobSpecError(f"gpus: expected a whole number >= 0, got {self.count!r}")

    def __str__(self) -> str:
        if not self.count:
            return "0"
        return f"{self.count}x{self.type}" if self.type else str(self.count)


@dataclass(frozen=True)
class Volume:
    """A host directory bound into the job: ``source`` (an absolute path on the nodes) seen at
    ``target`` (absolute, or relative to the task's working directory)."""

    source: str
    target: str
    read_only: bool = False

    def __post_init__(self) -> None:
        if not os.path.isabs(self.source):
            raise JobSpecError(f"volumes: expected an absolute host path, got {self.source!r}")
        if not self.target:
            raise JobSpecError(f"volumes: expected a mount path for {self.source!r}, got ''")


@dataclass(frozen=True)
class ArraySpec:
    """A job array: one task (per rank) for each index, at most ``max_concurrent`` running at once
    (``None``: no cap). Array tasks get ``SLURM_ARRAY_TASK_ID`` and friends."""

    indices: tuple[int, ...]
    max_concurrent: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "indices", tuple(self.indices))
        if not self.indices or any(not isinstance(i, int) or i < 0 for i in self.indices):
            raise JobSpecError(f"array: expected indices >= 0, got {self.indices!r}")
        if len(set(self.indices)) != len(self.indices):
            raise JobSpecError(f"array: expected unique indices, got {self.indices!r}")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise JobSpecError(f"array: expected a concurrency cap >= 1, got {self.max_concurrent!r}")

    def __str__(self) -> str:
        text = _compress(self.indices)
        return f"{text}%{self.max_concurrent}" if self.max_concurrent else text


def _compress(indices: tuple[int, ...]) -> str:
    """``(1, 2, 3, 7)`` → ``"1-3,7"``."""
    parts: list[str] = []
    ordered = sorted(indices)
    start = prev = ordered[0]
    for num in [*ordered[1:], None]:
        if num is not None and num == prev + 1:
            prev = num
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if num is not None:
            start = prev = num
    return ",".join(parts)


@dataclass(frozen=True)
class SlurmLayout:
    """What an ``#SBATCH`` script asked for that only its ``SLURM_*`` variables report: tasks in
    the whole job, tasks per node, CPUs per task, and the directory it was submitted from."""

    ntasks: int | None = None
    ntasks_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_per_cpu: int | None = None
    total_gpus: int | None = None
    submit_dir: str | None = None


def _frozen_env(env: Mapping[str, str], where: str) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for name, value in env.items():
        check_env_name(str(name), where)
        if not isinstance(value, str):
            raise JobSpecError(f"{where}.{name}: expected a string value, got {value!r}")
        out[str(name)] = value
    return MappingProxyType(out)


@dataclass(frozen=True)
class JobSpec:
    """One job, validated. See the module docstring for the command forms and env layers.

    ``workdir`` (default: the current directory) is an absolute directory on the submitting
    machine: with ``upload`` its contents
    (minus ``excludes``, ``.flameignore``/``.gitignore`` applied by the uploader) travel to the
    node and the task runs in the unpacked copy; without, nodes are assumed to share the path and
    the task runs there. ``timeout`` is wall-clock seconds per task attempt (``None``: none);
    ``retries`` re-runs a failed task; ``instances`` ranks, on distinct nodes when ``spread``.
    ``stdout``/``stderr`` are optional SLURM-style path patterns (``%j %A %a %x``, see
    :func:`flamepy.jobs.launch.expand_pattern`), relative to the task's working directory.
    ``warnings`` are human sentences about what was ignored or adjusted while loading.
    """

    command: str | tuple[str, ...]
    name: str = "job"
    workdir: str = field(default_factory=os.getcwd)
    env: Mapping[str, str] = field(default_factory=dict)
    inherited_env: Mapping[str, str] = field(default_factory=dict)
    cpus: int = 1
    memory: int = 0
    gpus: GpuRequest = field(default_factory=GpuRequest)
    timeout: float | None = None
    retries: int = 0
    instances: int = 1
    spread: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    upload: bool = True
    excludes: tuple[str, ...] = ()
    setup: str | None = None
    array: ArraySpec | None = None
    stdout: str | None = None
    stderr: str | None = None
    volumes: tuple[Volume, ...] = ()
    interpreter: tuple[str, ...] = ("bash",)
    master_port: int | None = None
    dialect: Dialect = "command"
    source: str = "command line"
    slurm: SlurmLayout | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._check_command()
        object.__setattr__(self, "name", check_name(self.name, "name"))
        if not isinstance(self.workdir, str) or not os.path.isabs(self.workdir):
            raise JobSpecError(f"workdir: expected an absolute directory, got {self.workdir!r}")
        object.__setattr__(self, "env", _frozen_env(self.env, "env"))
        object.__setattr__(self, "inherited_env", _frozen_env(self.inherited_env, "inherited_env"))
        self._check_numbers()
        labels = {str(k): str(v) for k, v in self.labels.items()}
        for key, value in labels.items():
            check_label(key, value, f"labels.{key}")
        object.__setattr__(self, "labels", MappingProxyType(labels))
        for name in ("excludes", "volumes", "interpreter", "warnings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.interpreter or not all(isinstance(p, str) and p for p in self.interpreter):
            raise JobSpecError(f"interpreter: expected a program and its options, got {self.interpreter!r}")
        if self.dialect not in DIALECTS:
            raise JobSpecError(f"dialect: expected one of {', '.join(DIALECTS)}, got {self.dialect!r}")
        if isinstance(self.gpus, int) and not isinstance(self.gpus, bool):
            object.__setattr__(self, "gpus", GpuRequest(self.gpus))
        if not isinstance(self.gpus, GpuRequest):
            raise JobSpecError(f"gpus: expected a GpuRequest or a count, got {self.gpus!r}")
        if self.array is not None and not isinstance(self.array, ArraySpec):
            raise JobSpecError(f"array: expected an ArraySpec, got {self.array!r}")
        if not all(isinstance(v, Volume) for v in self.volumes):
            raise JobSpecError(f"volumes: expected Volume entries, got {list(self.volumes)!r}")

    def _check_command(self) -> None:
        cmd = self.command
        if isinstance(cmd, list):
            cmd = tuple(cmd)
            object.__setattr__(self, "command", cmd)
        if isinstance(cmd, str):
            if not cmd.strip():
                raise JobSpecError("command: expected a command to run, got ''")
        elif isinstance(cmd, tuple):
            if not cmd or not all(isinstance(a, str) for a in cmd) or not cmd[0]:
                raise JobSpecError(f"command: expected a non-empty list of strings, got {list(cmd)!r}")
        else:
            raise JobSpecError(f"command: expected a shell string or an argv list, got {cmd!r}")

    def _check_numbers(self) -> None:
        checks = (
            ("cpus", self.cpus, 1),
            ("memory", self.memory, 0),
            ("retries", self.retries, 0),
            ("instances", self.instances, 1),
        )
        for name, value, low in checks:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise JobSpecError(f"{name}: expected a whole number >= {low}, got {value!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or self.timeout <= 0
        ):
            raise JobSpecError(
                f"timeout: expected a positive number of seconds or None, got {self.timeout!r}"
            )
        if self.master_port is not None and not 1 <= self.master_port <= 65535:
            raise JobSpecError(f"master_port: expected a TCP port 1-65535, got {self.master_port!r}")

    @property
    def is_shell(self) -> bool:
        """True when ``command`` is shell text, False for an argv."""
        return isinstance(self.command, str)

    @property
    def num_tasks(self) -> int:
        """Tasks the job creates: ranks times array indices."""
        return self.instances * (len(self.array.indices) if self.array else 1)
