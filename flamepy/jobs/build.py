"""Options on top of a job: what ``flmctl run --gpus 2 job.yaml`` and
``flamepy.jobs.run("python train.py", gpus="a100:2", memory="16g", timeout="2h")`` share.

:func:`apply_options` takes friendly values (text as a user types it, or typed values) for any of
``name``, ``gpus``, ``cpus``, ``memory``, ``timeout``, ``retries``, ``instances``, ``array``,
``workdir``, ``spread``, ``upload``, ``setup``, ``env`` (merged over the job's), ``labels``
(merged), ``excludes`` (appended) and ``warnings`` (appended), and returns a new validated
:class:`JobSpec`. ``None`` leaves a field as it is. A bare number for ``memory`` is GiB, as on the
command line (``JobSpec.memory`` itself is bytes). Errors name the option the way the caller
spells it (``--mem`` on the CLI, ``memory=`` in Python).

:func:`make_spec` is the Python entry: a command (shell text or argv), a job file path, or a
``JobSpec``, plus options.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from flamepy.jobs.load import load_job, spec_for_command
from flamepy.jobs.spec import ArraySpec, GpuRequest, JobSpec
from flamepy.jobs.values import (
    check_label,
    check_name,
    fail,
    parse_array,
    parse_count,
    parse_cpus,
    parse_duration,
    parse_gpus,
    parse_memory,
)

OPTIONS = (
    "name", "gpus", "cpus", "memory", "timeout", "retries", "instances", "array", "workdir", "spread",
    "upload", "setup", "env", "labels", "excludes", "warnings",
)  # fmt: skip


Names = Mapping[str, str] | None


def _label(names: Names, key: str) -> str:
    return (names or {}).get(key, f"{key}=")


def _resources(options: Mapping[str, Any], names: Names, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gpus = options.get("gpus")
    if isinstance(gpus, GpuRequest):
        out["gpus"] = gpus
    elif gpus is not None:
        out["gpus"] = GpuRequest(*parse_gpus(gpus, _label(names, "gpus")))
    if options.get("cpus") is not None:
        out["cpus"], note = parse_cpus(options["cpus"], _label(names, "cpus"))
        if note:
            notes.append(note)
    if options.get("memory") is not None:  # a bare number is GiB, as on the command line
        out["memory"] = parse_memory(options["memory"], _label(names, "memory"), default_unit="g")
    if options.get("timeout") is not None:
        out["timeout"] = parse_duration(options["timeout"], _label(names, "timeout"))
    if options.get("retries") is not None:
        out["retries"] = parse_count(options["retries"], _label(names, "retries"), minimum=0)
    if options.get("instances") is not None:
        out["instances"] = parse_count(options["instances"], _label(names, "instances"))
    array = options.get("array")
    if isinstance(array, ArraySpec):
        out["array"] = array
    elif array is not None:
        out["array"] = ArraySpec(*parse_array(str(array), _label(names, "array")))
    return out


def _flags(base: JobSpec, options: Mapping[str, Any], names: Names, cwd: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if options.get("name") is not None:
        out["name"] = check_name(options["name"], _label(names, "name"))
    if options.get("workdir") is not None:
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(os.fspath(options["workdir"]))))
        if not os.path.isdir(path):
            raise fail(_label(names, "workdir"), "an existing directory", options["workdir"])
        out["workdir"] = path
    for key in ("spread", "upload"):
        if options.get(key) is not None:
            if not isinstance(options[key], bool):
                raise fail(_label(names, key), "True or False", options[key])
            out[key] = options[key]
    if options.get("setup") is not None:
        if not isinstance(options["setup"], str):
            raise fail(_label(names, "setup"), "shell commands (a string)", options["setup"])
        out["setup"] = options["setup"] or None
    if options.get("env") is not None:
        out["env"] = {**base.env, **dict(options["env"])}
    if options.get("labels") is not None:
        labels = {str(k): str(v) for k, v in dict(options["labels"]).items()}
        for key, value in labels.items():
            check_label(key, value, f"{_label(names, 'labels')} {key}")
        out["labels"] = {**base.labels, **labels}
    if options.get("excludes"):
        out["excludes"] = (*base.excludes, *options["excludes"])
    return out


def apply_options(
    base: JobSpec, *, cwd: str, names: Mapping[str, str] | None = None, **options: Any
) -> JobSpec:
    """``base`` with ``options`` applied (see the module docstring); ``cwd`` anchors ``workdir``,
    ``names`` maps an option to how the caller spells it in error messages."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise fail("job options", f"some of {', '.join(OPTIONS)}", ", ".join(unknown))
    notes: list[str] = []
    changes = _resources(options, names, notes)
    changes.update(_flags(base, options, names, cwd))
    changes["warnings"] = (*base.warnings, *(options.get("warnings") or ()), *notes)
    return dataclasses.replace(base, **changes)


def make_spec(
    job: str | os.PathLike[str] | Sequence[str] | JobSpec,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    **options: Any,
) -> JobSpec:
    """A :class:`JobSpec` from shell text or a job file path (:func:`load_job`), an argv list, or a
    spec, with keyword ``options`` on top (``gpus="a100:2"``, ``memory="16g"``, ``timeout="2h"``...)."""
    here = os.path.abspath(cwd or os.getcwd())
    if isinstance(job, JobSpec):
        base = job
    elif isinstance(job, str | os.PathLike):
        base = load_job(job, environ=environ, cwd=here)
        if base.dialect == "command":
            base = dataclasses.replace(base, dialect="python", source="Python call")
    else:
        argv_spec = spec_for_command(list(job), cwd=here)
        base = dataclasses.replace(argv_spec, dialect="python", source="Python call")
    return apply_options(base, cwd=here, **options)
