"""What a submitted job remembers about itself: :class:`JobInfo`, kept in its session's common data.

A job is a session of the built-in ``flmexec`` application; the session id is the job id
(``job-<8 hex>``). Its common data is UTF-8 JSON marked ``"kind": "flame.job-info/v1"``:

.. code-block:: json

    {"kind": "flame.job-info/v1", "id": "job-1a2b3c4d", "name": "train", "command": "python t.py",
     "labels": {"team": "nlp"}, "resources": {"cpus": 1, "memory": 0, "gpus": 1, "gpu_type": null},
     "tasks": 1, "submitted_ms": 1764489600000, "workdir": "/home/me/proj",
     "spec": {"...": "the submitted JobSpec, its secret-looking env values masked"}}

so listing and resolving jobs needs no server field beyond what every session has. A session whose
common data is not such a document is not a job (:meth:`JobInfo.from_common_data` gives None).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flamepy.jobs.spec import JobSpec

INFO_KIND = "flame.job-info/v1"
JOB_APPLICATION = "flmexec"
JOB_ID_PREFIX = "job-"
_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")

__all__ = ["INFO_KIND", "JOB_APPLICATION", "JobInfo", "new_job_id"]


def new_job_id() -> str:
    """A fresh, short, unique-enough job id: ``job-`` and 8 hex digits."""
    return f"{JOB_ID_PREFIX}{secrets.token_hex(4)}"


def command_text(command: str | tuple[str, ...]) -> str:
    """The command as one line a user would type."""
    if isinstance(command, str):
        return " ".join(command.split())
    return shlex.join(command)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def spec_document(spec: JobSpec) -> dict[str, Any]:
    """The spec as JSON values, without the inherited environment, secret-looking values masked."""
    doc = _plain(spec)
    doc.pop("inherited_env", None)
    doc["env"] = {
        k: ("****" if v and any(w in k.upper() for w in _SECRET_WORDS) else v) for k, v in spec.env.items()
    }
    return dict(doc)


@dataclass(frozen=True)
class JobInfo:
    """A job's metadata (see the module docstring)."""

    id: str
    name: str
    command: str
    labels: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    tasks: int = 1
    submitted_ms: int = 0
    workdir: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: JobSpec, job_id: str) -> JobInfo:
        """The metadata of ``spec`` submitted now as ``job_id``."""
        return cls(
            id=job_id,
            name=spec.name,
            command=command_text(spec.command),
            labels=dict(spec.labels),
            resources={
                "cpus": spec.cpus,
                "memory": spec.memory,
                "gpus": spec.gpus.count,
                "gpu_type": spec.gpus.type,
            },
            tasks=spec.num_tasks,
            submitted_ms=int(time.time() * 1000),
            workdir=spec.workdir,
            spec=spec_document(spec),
        )

    def to_common_data(self) -> bytes:
        doc = {"kind": INFO_KIND, **_plain(self)}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_common_data(cls, raw: bytes | None) -> JobInfo | None:
        """The metadata in a session's common data, or None when the session is not a job."""
        if not raw or raw.lstrip()[:1] != b"{" or INFO_KIND.encode() not in raw:
            return None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("kind") != INFO_KIND:
            return None
        try:
            return cls(
                id=str(doc["id"]),
                name=str(doc["name"]),
                command=str(doc.get("command", "")),
                labels={str(k): str(v) for k, v in dict(doc.get("labels") or {}).items()},
                resources=dict(doc.get("resources") or {}),
                tasks=int(doc.get("tasks", 1)),
                submitted_ms=int(doc.get("submitted_ms", 0)),
                workdir=str(doc.get("workdir", "")),
                spec=dict(doc.get("spec") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def resources_text(self) -> str:
        """``1 cpu, 16g, 2 gpu`` as ``ps`` shows it."""
        res = self.resources
        parts = [f"{res.get('cpus', 1)} cpu"]
        mem = int(res.get("memory") or 0)
        if mem:
            parts.append(_size(mem))
        gpus = int(res.get("gpus") or 0)
        if gpus:
            kind = res.get("gpu_type")
            parts.append(f"{gpus}x{kind} gpu" if kind else f"{gpus} gpu")
        return ", ".join(parts)


def _size(num: int) -> str:
    for unit, scale in (("t", 1 << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if num >= scale and num % scale == 0:
            return f"{num // scale}{unit}"
    return f"{num}b" if num < 1024 else f"{num / (1 << 30):.1f}g"
