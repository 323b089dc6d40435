"""YAML job files: the Flow layout and the SkyPilot-style layout, loaded unchanged.

**Flow layout** (keys ``name``, ``instance_type``, ``command``, ``env``, ``volumes``,
``max_run_time_hours``, ``num_instances``, ``upload_code``, ``working_dir``, ``gpu``):
``instance_type: 4xa100`` is 4 GPUs of type ``a100`` per instance, ``a100`` is one;
``max_run_time_hours`` becomes the timeout; a ``volumes`` entry with ``host_path`` (or a
``"HOST:MOUNT[:ro]"`` string) binds an existing host path, a cloud volume (``size_gb``,
``volume_id``) warns and is ignored.

**SkyPilot-style layout** (``name``, ``workdir``, ``setup``, ``run``, ``envs``, ``secrets``,
``num_nodes``, ``file_mounts``, ``resources: {cpus, memory, accelerators}``): see
:mod:`flamepy.jobs.yaml_sky`.

Both accept Flame's extras (``timeout``, ``retries``, ``labels``, ``spread``, ``excludes``,
``upload``). Cloud-only keys (price caps, regions, ssh keys, images, spot, disks...) warn and are
ignored; unknown keys warn with a "did you mean". Errors raise :class:`JobSpecError` naming the
file, the key and what was expected. The layout is told by its keys; mixing them is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flamepy.jobs.spec import GpuRequest, JobSpec
from flamepy.jobs.values import JobSpecError, check_name, fail, parse_count, parse_gpus
from flamepy.jobs.yaml_common import (
    CLOUD_KEYS,
    EXTRA_KEYS,
    YamlContext,
    check_keys,
    parse_bool,
    parse_command,
    parse_env_mapping,
    parse_extras,
    parse_volumes,
    reraise_with_source,
)
from flamepy.jobs.yaml_sky import SKY_KEYS, sky_fields

FLOW_KEYS = (
    "name",
    "instance_type",
    "gpu",
    "command",
    "env",
    "volumes",
    "max_run_time_hours",
    "num_instances",
    "upload_code",
    "working_dir",
)
_FLOW_ONLY = {
    "command",
    "instance_type",
    "max_run_time_hours",
    "num_instances",
    "upload_code",
    "working_dir",
    "gpu",
    "env",
}
_SKY_ONLY = {"run", "setup", "resources", "envs", "secrets", "num_nodes", "workdir", "file_mounts"}


def read_yaml(text: str, source: str) -> Mapping[str, Any]:
    """The top-level mapping of a job file's ``text``, or a :class:`JobSpecError` with the line."""
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise JobSpecError(f"{source}: {place}invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{source}: invalid YAML: {exc}") from exc
    if doc is None:
        raise JobSpecError(f"{source}: expected a job description, got an empty file")
    if not isinstance(doc, Mapping):
        raise fail(source, "a mapping of keys at the top level (name:, command: ...)", type(doc).__name__)
    return doc


def detect_layout(doc: Mapping[str, Any], source: str) -> str:
    """``"flow"`` or ``"skypilot"`` by the keys present."""
    keys = {str(k) for k in doc}
    flow, sky = sorted(keys & _FLOW_ONLY), sorted(keys & _SKY_ONLY)
    if flow and sky:
        raise JobSpecError(
            f"{source}: mixes Flow keys ({', '.join(flow)}) and SkyPilot keys ({', '.join(sky)}); "
            "use one layout"
        )
    if sky:
        return "skypilot"
    if "command" in keys:
        return "flow"
    known = [*FLOW_KEYS, *SKY_KEYS, *EXTRA_KEYS]
    unknown = [k for k in keys if k not in known and k not in CLOUD_KEYS]
    hint = f" (unknown keys: {', '.join(sorted(unknown))})" if unknown else ""
    raise JobSpecError(f"{source}: expected a 'command' (Flow layout) or 'run' (SkyPilot layout) key{hint}")


def load_yaml_text(text: str, source: str, *, base_dir: str, environ: Mapping[str, str], cwd: str) -> JobSpec:
    """A :class:`JobSpec` from a job file's text; ``source`` names the file in messages and
    ``base_dir`` anchors its relative paths."""
    doc = read_yaml(text, source)
    ctx = YamlContext(source=source, base_dir=base_dir, environ=environ, cwd=cwd)
    layout = detect_layout(doc, source)
    try:
        fields = flow_fields(doc, ctx) if layout == "flow" else sky_fields(doc, ctx)
        fields.update(parse_extras(doc, ctx))
        fields.setdefault("name", Path(source).stem or "job")
        fields.setdefault("workdir", cwd)
        return JobSpec(**fields, dialect=layout, source=source, warnings=tuple(ctx.warnings))  # type: ignore[arg-type]
    except JobSpecError as exc:
        raise reraise_with_source(exc, source) from exc


def load_yaml_file(path: str | os.PathLike[str], *, environ: Mapping[str, str], cwd: str) -> JobSpec:
    """A :class:`JobSpec` from the job file at ``path`` (relative to ``cwd``)."""
    shown = os.fspath(path)
    full = os.path.join(cwd, shown)
    try:
        text = Path(full).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobSpecError(f"{shown}: cannot read the job file: {exc}") from exc
    base_dir = os.path.dirname(os.path.abspath(full))
    return load_yaml_text(text, shown, base_dir=base_dir, environ=environ, cwd=cwd)


def flow_fields(doc: Mapping[str, Any], ctx: YamlContext) -> dict[str, Any]:
    """JobSpec fields from the Flow layout."""
    check_keys(doc, [*FLOW_KEYS, *EXTRA_KEYS], ctx)
    out: dict[str, Any] = {"command": parse_command(doc["command"], ctx, "command")}
    if "name" in doc:
        out["name"] = check_name(doc["name"], ctx.where("name"))
    for key in ("instance_type", "gpu"):
        if key in doc:
            count, kind = parse_gpus(doc[key], ctx.where(key))
            out["gpus"] = GpuRequest(count, kind)
    if "env" in doc:
        out["env"] = parse_env_mapping(doc["env"], ctx, "env")
    if "volumes" in doc:
        out["volumes"] = tuple(parse_volumes(doc["volumes"], ctx))
    if "max_run_time_hours" in doc:
        hours = doc["max_run_time_hours"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
            raise fail(ctx.where("max_run_time_hours"), "a positive number of hours", hours)
        out["timeout"] = float(hours) * 3600
    if "num_instances" in doc:
        out["instances"] = parse_count(doc["num_instances"], ctx.where("num_instances"))
    if "upload_code" in doc:
        out["upload"] = parse_bool(doc["upload_code"], ctx, "upload_code")
    if "working_dir" in doc:
        _flow_working_dir(doc["working_dir"], out, ctx)
    return out


def _flow_working_dir(value: object, out: dict[str, Any], ctx: YamlContext) -> None:
    """Flow's remote ``working_dir``: with code upload the job runs in its uploaded copy, so it is
    ignored; without, an existing directory becomes the job's working directory."""
    if not isinstance(value, str) or not value:
        raise fail(ctx.where("working_dir"), "a directory path", value)
    if out.get("upload", True):
        ctx.warn("working_dir", "ignored: the job runs in its uploaded copy of the code")
        return
    path = ctx.path(value)
    if not os.path.isdir(path):
        ctx.warn("working_dir", f"ignored: {path!r} is not a directory here")
        return
    out["workdir"] = path
