"""The SkyPilot-style job layout: ``name``, ``workdir``, ``setup``, ``run``, ``envs``/``secrets``,
``num_nodes``, ``file_mounts`` and ``resources: {cpus, memory, accelerators}``.

- ``run`` is shell text (the command); ``setup`` runs before it in every task.
- ``workdir`` (relative to the file) is the directory uploaded; it must exist.
- ``resources.cpus`` takes ``4`` or ``"4+"``; ``resources.memory`` takes GB (``32``, ``"32+"``) or a
  size with a unit (``"64g"``); ``resources.accelerators`` takes ``H100:8``, ``H100`` or
  ``{H100: 8}``; a list or several candidates use the first one, with a warning.
- ``num_nodes`` is the number of ranks.
- ``file_mounts: {MOUNT_PATH: HOST_PATH}`` binds existing host paths; remote storage warns.
- ``envs`` values may be null: the caller's value is copied (or a warning when it has none).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flamepy.jobs.spec import GpuRequest, Volume
from flamepy.jobs.values import check_name, fail, parse_count, parse_cpus, parse_gpus, parse_memory
from flamepy.jobs.yaml_common import (
    EXTRA_KEYS,
    YamlContext,
    bind,
    check_keys,
    expect_mapping,
    parse_env_mapping,
)

SKY_KEYS = ("name", "workdir", "setup", "run", "envs", "secrets", "num_nodes", "file_mounts", "resources")
RESOURCE_KEYS = ("cpus", "memory", "accelerators")
# keys under resources that name cloud machines rather than what a task needs
_RESOURCE_CLOUD = {
    "instance_type": "cloud instance types do not apply; cpus, memory and accelerators do",
    "labels": "cloud instance tags; use the top-level labels key",
    "any_of": "alternatives are a cloud placement choice; give one set of resources",
    "ordered": "alternatives are a cloud placement choice; give one set of resources",
}


def sky_fields(doc: Mapping[str, Any], ctx: YamlContext) -> dict[str, Any]:
    """JobSpec fields from the SkyPilot-style layout."""
    check_keys(doc, [*SKY_KEYS, *EXTRA_KEYS], ctx)
    run = doc.get("run")
    if not isinstance(run, str) or not run.strip():
        raise fail(ctx.where("run"), "the commands to run (a string)", run)
    out: dict[str, Any] = {"command": run}
    if "name" in doc:
        out["name"] = check_name(doc["name"], ctx.where("name"))
    setup = doc.get("setup")
    if setup is not None:
        if not isinstance(setup, str):
            raise fail(ctx.where("setup"), "shell commands (a string)", setup)
        out["setup"] = setup if setup.strip() else None
    env: dict[str, str] = {}
    for key in ("envs", "secrets"):
        if doc.get(key) is not None:
            env.update(parse_env_mapping(doc[key], ctx, key))
    out["env"] = env
    if "num_nodes" in doc:
        out["instances"] = parse_count(doc["num_nodes"], ctx.where("num_nodes"))
    if doc.get("workdir") is not None:
        out["workdir"] = _workdir(doc["workdir"], ctx)
    if doc.get("file_mounts") is not None:
        out["volumes"] = tuple(_file_mounts(doc["file_mounts"], ctx))
    if doc.get("resources") is not None:
        out.update(_resources(doc["resources"], ctx))
    return out


def _workdir(value: object, ctx: YamlContext) -> str:
    if not isinstance(value, str) or not value:
        raise fail(ctx.where("workdir"), "a local directory", value)
    path = ctx.path(value)
    if not os.path.isdir(path):
        raise fail(ctx.where("workdir"), "an existing local directory", path)
    return path


def _file_mounts(value: object, ctx: YamlContext) -> list[Volume]:
    out: list[Volume] = []
    for target, source in expect_mapping(value, ctx, "file_mounts").items():
        key = f"file_mounts.{target}"
        if isinstance(source, Mapping):
            source = source.get("source")
        if not isinstance(source, str) or not source:
            raise fail(ctx.where(key), "a host path (or a mapping with source)", source)
        volume = bind(source, str(target), False, ctx, key)
        if volume is not None:
            out.append(volume)
    return out


def _resources(value: object, ctx: YamlContext) -> dict[str, Any]:
    res = expect_mapping(value, ctx, "resources")
    for key, reason in _RESOURCE_CLOUD.items():
        if key in res:
            ctx.warn(f"resources.{key}", f"ignored: {reason}")
    check_keys({k: v for k, v in res.items() if k not in _RESOURCE_CLOUD}, RESOURCE_KEYS, ctx, "resources.")
    out: dict[str, Any] = {}
    if res.get("cpus") is not None:
        cpus, note = parse_cpus(res["cpus"], ctx.where("resources.cpus"))
        out["cpus"] = cpus
        if note:
            ctx.warnings.append(note)
    if res.get("memory") is not None:
        raw = res["memory"]
        text = str(raw).strip().rstrip("+") if not isinstance(raw, bool) else raw
        out["memory"] = parse_memory(text, ctx.where("resources.memory"), default_unit="g")
    if res.get("accelerators") is not None:
        out["gpus"] = _accelerators(res["accelerators"], ctx)
    return out


def _accelerators(value: object, ctx: YamlContext) -> GpuRequest:
    key = "resources.accelerators"
    choices: list[object]
    if isinstance(value, Mapping):
        choices = [f"{k}:{v}" for k, v in value.items()]
    elif isinstance(value, list | set | tuple):
        choices = list(value)
    else:
        choices = [value]
    if not choices:
        raise fail(ctx.where(key), "an accelerator such as H100:8", value)
    if len(choices) > 1:
        ctx.warn(key, f"several candidates given; using the first, {choices[0]!r}")
    count, kind = parse_gpus(choices[0], ctx.where(key))
    return GpuRequest(count, kind)
