"""``#SBATCH`` scripts as Flame jobs: the script itself is the command.

As SLURM does, directives are read from ``#SBATCH`` lines before the first line that is neither
blank nor a comment; later ones win. Supported: ``-J/--job-name``, ``-N/--nodes`` (ranks),
``-n/--ntasks``, ``--ntasks-per-node``, ``-c/--cpus-per-task``, ``--mem`` (MB unless a unit is
given), ``--mem-per-cpu``, ``--mem-per-gpu``, ``--gres=gpu[:type]:N``, ``-G/--gpus`` (over the
whole job), ``--gpus-per-node``, ``--gpus-per-task``, ``--cpus-per-gpu``, ``-t/--time``,
``-o/--output`` and ``-e/--error`` (patterns, see :func:`flamepy.jobs.launch.expand_pattern`; with
only ``-o``, stderr goes to the same file, as in SLURM), ``-D/--chdir``, ``--export``,
``-a/--array`` and ``--spread-job``. Queue and placement options warn and are ignored.

Shape: each of the ``N`` ranks runs the script once (there is no ``srun``); it gets the CPUs, memory
and GPUs SLURM would give one node: ``cpus-per-task x tasks-per-node`` CPUs and so on.
``--export`` follows SLURM: ``ALL`` (the default) copies the caller's environment (less host-only
variables such as ``PWD``, ``SHLVL`` and any ``SLURM_*``), ``NONE`` copies nothing, and a list
``[ALL,]NAME[=VALUE],...`` sets or copies just those (plus all, with ``ALL``).
The script runs with the interpreter its ``#!`` line names, else ``bash``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flamepy.jobs.sbatch_options import IGNORED, read_options
from flamepy.jobs.spec import ArraySpec, GpuRequest, JobSpec, SlurmLayout
from flamepy.jobs.values import (
    JobSpecError,
    check_env_name,
    check_name,
    fail,
    parse_array,
    parse_count,
    parse_gpus,
    parse_memory,
    parse_slurm_time,
)
from flamepy.jobs.yaml_common import reraise_with_source

SBATCH_SUFFIXES = (".sbatch", ".slurm")
_HOST_ONLY = {
    "_",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "HOSTNAME",
    "PS1",
    "PS2",
    "LS_COLORS",
    "DISPLAY",
    "TMUX",
    "TMUX_PANE",
    "SSH_AUTH_SOCK",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "XDG_RUNTIME_DIR",
}
_HOST_PREFIXES = ("SLURM_", "SBATCH_", "FLAME_", "BASH_FUNC_")


def directive_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text after #SBATCH)`` for each directive before the first command line."""
    out: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        rest = stripped[len("#SBATCH") :]
        if stripped.startswith("#SBATCH") and (not rest or rest[0].isspace()):
            out.append((lineno, rest.strip()))
    return out


def has_sbatch_directives(text: str) -> bool:
    """Whether ``text`` is a script with at least one ``#SBATCH`` directive in its header."""
    return bool(directive_lines(text))


def interpreter_of(text: str) -> tuple[str, ...]:
    """The ``#!`` line's program and options, else ``("bash",)``."""
    first = text.split("\n", 1)[0].strip()
    if first.startswith("#!") and first[2:].strip():
        return tuple(first[2:].split())
    return ("bash",)


def inherit(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment less host-only variables (what ``--export=ALL`` carries)."""
    return {
        k: v
        for k, v in environ.items()
        if k not in _HOST_ONLY and not k.startswith(_HOST_PREFIXES) and k.replace("_", "a").isalnum()
    }


def collect(text: str, source: str, warnings: list[str]) -> dict[str, tuple[str | None, str]]:
    """Every supported option's last ``(value, where)`` from the script's directives."""
    seen: dict[str, tuple[str | None, str]] = {}
    for lineno, body in directive_lines(text):
        where = f"{source}:{lineno}"
        try:
            words = shlex.split(body, comments=True)
        except ValueError as exc:
            raise JobSpecError(f"{where}: cannot split the #SBATCH line: {exc}") from exc
        for name, value in read_options(words, where, warnings.append):
            if name in IGNORED:
                warnings.append(f"{where}: --{name} ignored: {IGNORED[name]}")
                continue
            seen[name] = (value, where)
    return seen


def load_sbatch_text(text: str, source: str, *, environ: Mapping[str, str], cwd: str) -> JobSpec:
    """A :class:`JobSpec` running the script ``text`` (``source`` names it in messages)."""
    warnings: list[str] = []
    try:
        opts = collect(text, source, warnings)
        fields = _shape(opts, warnings)
        fields.update(_io(opts, environ, cwd, warnings))
        fields.setdefault("name", Path(source).name or "sbatch")
        slurm = fields.pop("slurm_layout")
        return JobSpec(
            command=text,
            interpreter=interpreter_of(text),
            dialect="sbatch",
            source=source,
            slurm=SlurmLayout(**slurm, submit_dir=cwd),
            warnings=tuple(warnings),
            **fields,
        )
    except JobSpecError as exc:
        raise reraise_with_source(exc, source) from exc


def load_sbatch_file(path: str | os.PathLike[str], *, environ: Mapping[str, str], cwd: str) -> JobSpec:
    """A :class:`JobSpec` from the script at ``path`` (relative to ``cwd``)."""
    shown = os.fspath(path)
    try:
        text = Path(os.path.join(cwd, shown)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobSpecError(f"{shown}: cannot read the script: {exc}") from exc
    return load_sbatch_text(text, shown, environ=environ, cwd=cwd)


def _get(opts: dict[str, tuple[str | None, str]], name: str) -> tuple[str | None, str]:
    value, where = opts[name]
    return value, f"{where}: --{name}"


def _count(opts: dict[str, tuple[str | None, str]], name: str) -> int | None:
    if name not in opts:
        return None
    value, where = _get(opts, name)
    return parse_count(value, where)


def _gpus(
    opts: dict[str, tuple[str | None, str]], nodes: int, tasks_per_node: int
) -> tuple[GpuRequest, int | None]:
    """GPUs per node and the job-wide ``-G`` total (for ``SLURM_GPUS``)."""
    if "gres" in opts:
        value, where = _get(opts, "gres")
        for item in (value or "").split(","):
            if item.split(":")[0].strip() == "gpu":
                return GpuRequest(*parse_gpus(item.strip().split("(")[0], where)), None
        raise fail(where, "gpu[:TYPE]:N (other generic resources are not supported)", value)
    for name, times in (("gpus-per-node", 1), ("gpus-per-task", tasks_per_node)):
        if name in opts:
            value, where = _get(opts, name)
            count, kind = parse_gpus(value, where)
            return GpuRequest(count * times, kind), None
    if "gpus" in opts:
        value, where = _get(opts, "gpus")
        total, kind = parse_gpus(value, where)
        return GpuRequest(-(-total // nodes), kind), total
    return GpuRequest(), None


def _shape(opts: dict[str, tuple[str | None, str]], warnings: list[str]) -> dict[str, Any]:
    """Ranks, CPUs, memory and GPUs per rank from the resource options."""
    nodes = 1
    if "nodes" in opts:
        value, where = _get(opts, "nodes")
        low, dash, _high = (value or "").partition("-")
        nodes = parse_count(low, where)
        if dash:
            warnings.append(f"{where}: a node range; running on {nodes} (the minimum)")
    ntasks, per_node = _count(opts, "ntasks"), _count(opts, "ntasks-per-node")
    tasks_per_node = per_node or (-(-ntasks // nodes) if ntasks else 1)
    cpt = _count(opts, "cpus-per-task")
    gpus, total_gpus = _gpus(opts, nodes, tasks_per_node)
    cpus = (cpt or 1) * tasks_per_node
    if "cpus-per-gpu" in opts and gpus.count:
        cpus = max(cpus, (_count(opts, "cpus-per-gpu") or 1) * gpus.count)
    memory, mem_per_cpu = _memory(opts, cpus, gpus.count, warnings)
    fields: dict[str, Any] = {"instances": nodes, "cpus": cpus, "memory": memory, "gpus": gpus}
    fields["slurm_layout"] = {
        "ntasks": ntasks,
        "ntasks_per_node": per_node,
        "cpus_per_task": cpt,
        "mem_per_cpu": mem_per_cpu,
        "total_gpus": total_gpus,
    }
    if "job-name" in opts:
        value, where = _get(opts, "job-name")
        fields["name"] = check_name(value, where)
    if "time" in opts:
        value, where = _get(opts, "time")
        fields["timeout"] = parse_slurm_time(value or "", where)
    if "spread-job" in opts:
        fields["spread"] = True
    return fields


def _memory(
    opts: dict[str, tuple[str | None, str]], cpus: int, gpus: int, warnings: list[str]
) -> tuple[int, int | None]:
    given = [n for n in ("mem", "mem-per-cpu", "mem-per-gpu") if n in opts]
    if len(given) > 1:
        raise JobSpecError(f"{opts[given[1]][1]}: --{given[0]} and --{given[1]} are mutually exclusive")
    if not given:
        return 0, None
    value, where = _get(opts, given[0])
    size = parse_memory(value, where, default_unit="m")
    if given[0] == "mem":
        if size == 0:
            warnings.append(f"{where}: 0 (a whole node's memory) requests no particular amount")
        return size, None
    if given[0] == "mem-per-cpu":
        return size * cpus, size
    return size * max(gpus, 1), None


def _io(
    opts: dict[str, tuple[str | None, str]], environ: Mapping[str, str], cwd: str, warnings: list[str]
) -> dict[str, Any]:
    """Output patterns, working directory, environment and array."""
    out: dict[str, Any] = {"workdir": cwd}
    for name, key in (("output", "stdout"), ("error", "stderr")):
        if name in opts:
            value, where = _get(opts, name)
            if not value:
                raise fail(where, "a file name pattern", value)
            out[key] = value
    if "chdir" in opts:
        value, where = _get(opts, "chdir")
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(value or "")))
        if not value or not os.path.isdir(path):
            raise fail(where, "an existing directory", value)
        out["workdir"] = path
    if "array" in opts:
        value, where = _get(opts, "array")
        indices, cap = parse_array(value or "", where)
        out["array"] = ArraySpec(indices, cap)
    export, where = opts.get("export", ("ALL", "default"))
    out["inherited_env"], out["env"] = _export(export or "", where, environ, warnings)
    return out


def _export(
    value: str, where: str, environ: Mapping[str, str], warnings: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``(inherited, explicit)`` environments for an ``--export`` value."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise fail(f"{where}: --export", "ALL, NONE or NAME[=VALUE],...", value)
    upper = [p.upper() for p in parts]
    if upper == ["NONE"] or upper == ["NIL"]:
        return {}, {}
    inherited = inherit(environ) if "ALL" in upper else {}
    explicit: dict[str, str] = {}
    for part in parts:
        if part.upper() in ("ALL", "NONE", "NIL"):
            continue
        name, sep, val = part.partition("=")
        check_env_name(name, f"{where}: --export")
        if sep:
            explicit[name] = val
        elif name in environ:
            explicit[name] = environ[name]
        else:
            warnings.append(f"{where}: --export {name}: not set in your environment; not passed")
    return inherited, explicit
