"""``flmctl dev``: the inner loop — a warm session of the command application holding a synced copy
of a directory, each command a task in it.

The first sync of a directory opens a **dev session** (``flmexec``, id ``dev-<8 hex>``, one CPU)
and uploads the directory whole (:func:`flamepy.jobs.upload.upload_directory`: the base archive).
Later syncs compare the directory's **manifest** — ``{path: [size, mtime_ns, executable]}`` of the
files :func:`~flamepy.runner.package.collect_files` selects — with the one last sent, and upload
only a **delta**: a ``.tar.gz`` of the new and changed files plus
:data:`~flamepy.apps.jobfiles.DELETED_MEMBER` listing the deleted ones, stored as
``flmexec/uploads/<sha256 of the archive>``. Each command is a :class:`TaskLaunch` carrying the
base key and every delta in order; the node applies the ones it has not applied yet
(:class:`~flamepy.apps.jobfiles.JobFiles`), so a fresh executor rebuilds the same copy. Past
:data:`MAX_DELTAS` deltas the next sync uploads a new base instead.

The state of a directory is a small JSON file, owner-only, in ``~/.flame/dev/`` (or
``$FLAME_DEV_STATE_DIR``), named after a hash of the directory's absolute path (:class:`DevState`).

Synchronous; one flmctl process per directory at a time is assumed (the state file is replaced
atomically, a concurrent sync may redo work but not corrupt it).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flamepy.apps.jobfiles import DELETED_MEMBER
from flamepy.common.private_files import write_private
from flamepy.errors import InvalidStateError, NotFoundError
from flamepy.jobs.info import JOB_APPLICATION
from flamepy.jobs.launch import TaskLaunch
from flamepy.jobs.upload import UPLOAD_PREFIX, LogReporter, UploadReporter, upload_directory, upload_file
from flamepy.runner.package import collect_files
from flamepy.types import ResourceRequirement, SessionAttributes, SessionState

if TYPE_CHECKING:
    from flamepy.cache.client import CacheClient
    from flamepy.connection import Connection

MAX_DELTAS = 32
DEV_KIND = "flame.dev/v1"
STATE_DIR_ENV = "FLAME_DEV_STATE_DIR"
Manifest = dict[str, list[int]]

__all__ = [
    "DevState", "SyncResult", "close", "describe", "launch_for", "load_state", "manifest",
    "state_path", "sync",
]  # fmt: skip


@dataclass
class DevState:
    """What ``flmctl dev`` remembers about one directory."""

    directory: str
    session_id: str
    created_ms: int
    base: str
    deltas: list[str] = field(default_factory=list)
    manifest: Manifest = field(default_factory=dict)
    tasks: int = 0
    last_sent: int = 0  # files in the last upload (base or delta)
    last_deleted: int = 0

    def save(self) -> Path:
        path = state_path(self.directory)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, json.dumps(asdict(self)))
        return path


@dataclass(frozen=True)
class SyncResult:
    """One sync: whether it opened the session, the files sent and deleted, the bytes sent."""

    created: bool
    sent_files: int
    deleted_files: int
    sent_bytes: int


def state_path(directory: str | os.PathLike[str]) -> Path:
    base = os.environ.get(STATE_DIR_ENV) or os.path.expanduser("~/.flame/dev")
    digest = hashlib.sha256(os.path.abspath(os.fspath(directory)).encode()).hexdigest()[:16]
    return Path(base) / f"{digest}.json"


def load_state(directory: str | os.PathLike[str]) -> DevState | None:
    """The remembered state of ``directory``, or None."""
    try:
        doc = json.loads(state_path(directory).read_text())
        return DevState(**doc)
    except (OSError, ValueError, TypeError):
        return None


def forget(directory: str | os.PathLike[str]) -> None:
    state_path(directory).unlink(missing_ok=True)


def manifest(root: str | os.PathLike[str], excludes: Sequence[str] = ()) -> Manifest:
    """``{path: [size, mtime_ns, executable]}`` of the files that sync."""
    base = Path(root)
    out: Manifest = {}
    for f in collect_files(base, excludes):
        st = (base / f.path).stat()
        out[f.path] = [st.st_size, st.st_mtime_ns, int(f.executable)]
    return out


def _delta_archive(root: Path, changed: Sequence[str], deleted: Sequence[str], files: Manifest) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in changed:
            info = tarfile.TarInfo(rel)
            info.size = (root / rel).stat().st_size
            info.mode = 0o755 if files[rel][2] else 0o644
            info.mtime = files[rel][1] // 1_000_000_000
            with (root / rel).open("rb") as fh:
                tar.addfile(info, fh)
        listing = json.dumps(sorted(deleted)).encode()
        info = tarfile.TarInfo(DELETED_MEMBER)
        info.size = len(listing)
        tar.addfile(info, io.BytesIO(listing))
    return buf.getvalue()


def _send_delta(state: DevState, now: Manifest, client: CacheClient, reporter: UploadReporter) -> SyncResult:
    changed = sorted(p for p, entry in now.items() if state.manifest.get(p) != entry)
    deleted = sorted(set(state.manifest) - set(now))
    if not changed and not deleted:
        return SyncResult(False, 0, 0, 0)
    data = _delta_archive(Path(state.directory), changed, deleted, now)
    key = f"{UPLOAD_PREFIX}/{hashlib.sha256(data).hexdigest()}"
    with tempfile.TemporaryDirectory(prefix="flame-dev-") as tmp:
        path = Path(tmp) / "delta.tar.gz"
        path.write_bytes(data)
        sent = upload_file(client, key, path, reporter, f"{len(changed)} changed, {len(deleted)} deleted")
    state.deltas.append(key)
    state.manifest, state.last_sent, state.last_deleted = now, len(changed), len(deleted)
    return SyncResult(False, len(changed), len(deleted), sent)


def _session_open(conn: Connection, session_id: str) -> bool:
    try:
        return conn.get_session(session_id).state == SessionState.OPEN
    except NotFoundError:
        return False


def _open_session(conn: Connection, directory: str) -> str:
    sid = f"dev-{secrets.token_hex(4)}"
    data = json.dumps({"kind": DEV_KIND, "directory": directory}).encode()
    conn.create_session(
        SessionAttributes(
            application=JOB_APPLICATION, id=sid, common_data=data, resreq=ResourceRequirement(cpu=1)
        )
    )
    return sid


def sync(
    conn: Connection,
    directory: str | os.PathLike[str],
    excludes: Sequence[str] = (),
    *,
    client: CacheClient | None = None,
    reporter: UploadReporter | None = None,
) -> tuple[DevState, SyncResult]:
    """Bring the dev session of ``directory`` up to date (see the module docstring), opening it
    (and uploading everything) when there is none; the state is saved."""
    from flamepy.cache import client_for

    root = os.path.abspath(os.fspath(directory))
    cache = client or client_for()
    report = reporter or LogReporter()
    state = load_state(root)
    now = manifest(root, excludes)
    fresh = state is None or not _session_open(conn, state.session_id)
    if state is not None and not fresh and len(state.deltas) < MAX_DELTAS:
        result = _send_delta(state, now, cache, report)
        if result.sent_files or result.deleted_files:
            state.save()
        return state, result
    up = upload_directory(root, excludes, client=cache, reporter=report)
    if fresh or state is None:
        state = DevState(root, _open_session(conn, root), int(time.time() * 1000), up.key)
    state.base, state.deltas, state.manifest = up.key, [], now
    state.last_sent, state.last_deleted = up.files, 0
    state.save()
    return state, SyncResult(fresh, up.files, 0, up.sent)


def launch_for(state: DevState, command: str, env: dict[str, str] | None = None) -> TaskLaunch:
    """The task that runs ``command`` (shell text) in the session's synced copy."""
    return TaskLaunch(
        job_id=state.session_id,
        job_name="dev",
        index=state.tasks,
        rank=0,
        ranks=1,
        array_index=None,
        argv=None,
        shell=command,
        archive=state.base,
        deltas=tuple(state.deltas),
        env=dict(env or {}),
    )


def close(conn: Connection, directory: str | os.PathLike[str]) -> DevState | None:
    """Close the dev session of ``directory`` and forget it; its state, or None when there was none."""
    state = load_state(directory)
    if state is None:
        return None
    with contextlib.suppress(NotFoundError, InvalidStateError):  # gone already
        conn.close_session(state.session_id)
    forget(directory)
    return state


def describe(state: DevState) -> dict[str, Any]:
    """The state as ``flmctl dev --status`` shows it."""
    return {
        "directory": state.directory,
        "session": state.session_id,
        "age_s": max(0.0, time.time() - state.created_ms / 1000),
        "files": len(state.manifest),
        "deltas": len(state.deltas),
        "commands": state.tasks,
        "last_sent": state.last_sent,
        "last_deleted": state.last_deleted,
    }
