"""What both YAML job layouts share: the loading context, key checking with "did you mean",
cloud-only keys that warn, environment mappings, local volumes and Flame's own extra keys.

Every error reads ``FILE: KEY: expected WHAT, got VALUE``; every warning ``FILE: KEY: ...``.
Paths in a job file are relative to the file's directory.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flamepy.jobs.spec import Volume
from flamepy.jobs.values import (
    JobSpecError,
    check_env_name,
    check_label,
    fail,
    parse_count,
    parse_duration,
)

# Keys that only make sense when a cloud provisions the machine: warned about, then ignored.
CLOUD_KEYS: dict[str, str] = {
    "max_price_per_hour": "price caps only apply to rented cloud capacity",
    "priority": "price/priority tiers only apply to rented cloud capacity",
    "use_spot": "spot capacity is a cloud notion",
    "spot_recovery": "spot capacity is a cloud notion",
    "job_recovery": "spot capacity is a cloud notion; use retries",
    "ssh_keys": "jobs run on your own nodes; use 'flmctl exec' instead of ssh",
    "cloud": "jobs run on this Flame cluster's nodes",
    "infra": "jobs run on this Flame cluster's nodes",
    "region": "jobs run on this Flame cluster's nodes",
    "regions": "jobs run on this Flame cluster's nodes",
    "zone": "jobs run on this Flame cluster's nodes",
    "image": "jobs run directly on the nodes, not in a container image",
    "image_id": "jobs run directly on the nodes, not in a container image",
    "image_registry": "jobs run directly on the nodes, not in a container image",
    "docker_login_config": "jobs run directly on the nodes, not in a container image",
    "disk_size": "nodes use their own disks",
    "disk_tier": "nodes use their own disks",
    "ports": "nodes' ports are reachable as they are; nothing to open",
    "min_gpu_memory_gb": "name the GPU type instead (instance_type / accelerators)",
    "reservation_id": "reservations are a cloud notion",
    "allocation_mode": "reservations are a cloud notion",
    "autostop": "there is no cloud instance to stop",
    "network_tier": "a cloud networking option",
    "accelerator_args": "a cloud accelerator option",
    "service": "serving replicas are not jobs",
    "event_callback": "not supported by Flame jobs",
    "config": "provider configuration does not apply to a Flame cluster",
}

# Flame's own keys, accepted in both layouts.
EXTRA_KEYS = ("timeout", "retries", "labels", "spread", "excludes", "upload")


@dataclass
class YamlContext:
    """Where the document came from, the caller's environment, and the warnings so far."""

    source: str
    base_dir: str
    environ: Mapping[str, str]
    cwd: str
    warnings: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        return f"{self.source}: {key}"

    def warn(self, key: str, text: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {text}")

    def path(self, text: str) -> str:
        """``text`` made absolute against the file's directory (``~`` expanded)."""
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(text)))


def check_keys(doc: Mapping[Any, Any], known: Iterable[str], ctx: YamlContext, prefix: str = "") -> None:
    """Warn about cloud-only keys and unknown keys (with a close match); raise on a non-string key."""
    known_list = list(known)
    for key in doc:
        if not isinstance(key, str):
            raise fail(ctx.where(prefix.rstrip(".") or "top level"), "string keys", key)
        if key in known_list:
            continue
        if key in CLOUD_KEYS:
            ctx.warn(prefix + key, f"ignored: {CLOUD_KEYS[key]}")
            continue
        close = difflib.get_close_matches(key, known_list, n=1, cutoff=0.6)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        ctx.warn(prefix + key, f"unknown key; ignored{hint}")


def expect_mapping(value: object, ctx: YamlContext, key: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise fail(ctx.where(key), "a mapping of NAME: VALUE", value)
    return value


def scalar_text(value: object, ctx: YamlContext, key: str) -> str:
    """A string from a YAML scalar (numbers and booleans as written, ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise fail(ctx.where(key), "a string", value)


def parse_env_mapping(value: object, ctx: YamlContext, key: str) -> dict[str, str]:
    """``{NAME: value}``; a null value copies the caller's variable (SkyPilot's required env),
    or warns when the caller has none."""
    env: dict[str, str] = {}
    for name, raw in expect_mapping(value, ctx, key).items():
        check_env_name(str(name), ctx.where(f"{key}"))
        if raw is None:
            if str(name) in ctx.environ:
                env[str(name)] = ctx.environ[str(name)]
            else:
                ctx.warn(f"{key}.{name}", "no value here and not set in your environment; not passed")
            continue
        env[str(name)] = scalar_text(raw, ctx, f"{key}.{name}")
    return env


def parse_bool(value: object, ctx: YamlContext, key: str) -> bool:
    if not isinstance(value, bool):
        raise fail(ctx.where(key), "true or false", value)
    return value


def parse_command(value: object, ctx: YamlContext, key: str) -> str | tuple[str, ...]:
    """A shell string, or a list of strings (an argv)."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(a, str | int | float) for a in value):
        return tuple(str(a) for a in value)
    raise fail(ctx.where(key), "a command string or a non-empty list of strings", value)


def bind(source: str, target: str, read_only: bool, ctx: YamlContext, key: str) -> Volume | None:
    """A bind of an existing host path, or a warning and ``None``."""
    if "://" in source:
        ctx.warn(key, f"ignored: {source!r} is remote storage; Flame jobs bind host directories only")
        return None
    path = ctx.path(source)
    if not os.path.exists(path):
        ctx.warn(key, f"ignored: host path {path!r} does not exist")
        return None
    return Volume(source=path, target=target, read_only=read_only)


def _volume_string(entry: str, ctx: YamlContext, key: str) -> Volume | None:
    """``"HOST_PATH:MOUNT_PATH[:ro|:rw]"`` (a ``scheme://`` host part is remote and warns)."""
    body, mode = entry, ""
    if entry.endswith((":ro", ":rw")):
        body, mode = entry[:-3], entry[-2:]
    source, _, target = body.rpartition(":")
    if not source or not target or (":" in source and "://" not in source):
        raise fail(ctx.where(key), "'HOST_PATH:MOUNT_PATH[:ro]'", entry)
    return bind(source, target, mode == "ro", ctx, key)


def _volume_entry(entry: object, ctx: YamlContext, key: str) -> Volume | None:
    if isinstance(entry, str):
        return _volume_string(entry, ctx, key)
    if not isinstance(entry, Mapping):
        raise fail(ctx.where(key), "'HOST_PATH:MOUNT_PATH' or a mapping with host_path and mount_path", entry)
    source = next((entry[k] for k in ("host_path", "source", "local_path") if k in entry), None)
    target = entry.get("mount_path", entry.get("target"))
    if source is None:
        label = entry.get("name", entry.get("volume_id", "?"))
        ctx.warn(key, f"ignored: cloud volume {label!r} is not available; give host_path to bind a directory")
        return None
    if not isinstance(source, str) or not isinstance(target, str) or not target:
        raise fail(ctx.where(key), "string host_path and mount_path", dict(entry))
    read_only = entry.get("read_only", False)
    return bind(source, target, parse_bool(read_only, ctx, f"{key}.read_only"), ctx, key)


def parse_volumes(value: object, ctx: YamlContext, key: str = "volumes") -> list[Volume]:
    """Flow's ``volumes`` list: host binds kept, cloud volumes warned about."""
    if not isinstance(value, list):
        raise fail(ctx.where(key), "a list of volumes", value)
    out = [_volume_entry(entry, ctx, f"{key}[{i}]") for i, entry in enumerate(value)]
    return [v for v in out if v is not None]


def parse_extras(doc: Mapping[str, Any], ctx: YamlContext) -> dict[str, Any]:
    """Flame's extra keys (``timeout``, ``retries``, ``labels``, ``spread``, ``excludes``,
    ``upload``) as JobSpec fields."""
    out: dict[str, Any] = {}
    if "timeout" in doc:
        out["timeout"] = parse_duration(doc["timeout"], ctx.where("timeout"))
    if "retries" in doc:
        out["retries"] = parse_count(doc["retries"], ctx.where("retries"), minimum=0)
    if "spread" in doc:
        out["spread"] = parse_bool(doc["spread"], ctx, "spread")
    if "upload" in doc:
        out["upload"] = parse_bool(doc["upload"], ctx, "upload")
    if "labels" in doc:
        labels = {
            str(k): scalar_text(v, ctx, f"labels.{k}")
            for k, v in expect_mapping(doc["labels"], ctx, "labels").items()
        }
        for k, v in labels.items():
            check_label(k, v, ctx.where(f"labels.{k}"))
        out["labels"] = labels
    if "excludes" in doc:
        value = doc["excludes"]
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise fail(ctx.where("excludes"), "a list of glob patterns", value)
        out["excludes"] = tuple(value)
    return out


def reraise_with_source(exc: JobSpecError, source: str) -> JobSpecError:
    """``exc`` with ``source`` in front of its message when it is not there yet."""
    if exc.message.startswith(f"{source}:"):
        return exc
    return JobSpecError(f"{source}: {exc.message}")
