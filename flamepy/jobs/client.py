"""The jobs API: :func:`run` a command as a job, :func:`get` one back, :func:`list` them.

    import flamepy.jobs as jobs

    job = jobs.run("python train.py", gpus=1, timeout="2h", name="train")
    print(job.id, job.status)          # job-1a2b3c4d Running
    for line in job.logs(follow=True):
        print(line)
    code = job.wait()                  # the command's exit code

A job is a session of the built-in ``flmexec`` application (id ``job-<8 hex>``) whose tasks are
the job's :class:`~flamepy.jobs.launch.TaskLaunch` inputs; its metadata is the session's common
data (:mod:`flamepy.jobs.info`). The job's resources per task become the session's resource
requirement (cpu, memory, gpu), ``retries`` its ``max_retries`` (failed commands re-run too), and
``timeout`` travels in each task (the command application stops the command: exit code 124).

With ``upload`` (the spec's default; :func:`run` uploads when no ``workdir`` is given) the
working directory goes to the object cache as one archive (:mod:`flamepy.jobs.upload`) and each
task carries its key; the node unpacks it once per job and runs the command in the copy. Without,
tasks run in the job's ``workdir`` on the node (a local cluster or nodes sharing the filesystem).

Without ``conn`` these use flamepy's default connection (``FLAME_ENDPOINT`` /
``~/.flame/flame.yaml``).
"""

from __future__ import annotations

import builtins
import dataclasses
import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flamepy.errors import InvalidArgumentError, NotFoundError, UnavailableError
from flamepy.jobs.build import make_spec
from flamepy.jobs.handle import Job
from flamepy.jobs.info import JOB_APPLICATION, JOB_ID_PREFIX, JobInfo, new_job_id
from flamepy.jobs.launch import TaskLaunch, expand
from flamepy.jobs.spec import JobSpec
from flamepy.jobs.state import JobState
from flamepy.types import ResourceRequirement, SessionAttributes

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.jobs.upload import UploadReporter
    from flamepy.session import Session

__all__ = ["get", "list", "run", "submit"]

MAX_CANDIDATES_SHOWN = 8


def _connection(conn: Connection | None) -> Connection:
    if conn is not None:
        return conn
    from flamepy.client import default_connection

    return default_connection()


def _resreq(spec: JobSpec) -> ResourceRequirement:
    return ResourceRequirement(cpu=spec.cpus, memory=spec.memory, gpu=spec.gpus.count)


def _cap(spec: JobSpec) -> int | None:
    """Executors the job may hold at once: an array's ``%N`` cap times its ranks, else no cap."""
    if spec.array and spec.array.max_concurrent:
        return spec.array.max_concurrent * spec.instances
    return None


def _with_upload(
    spec: JobSpec, launches: builtins.list[TaskLaunch], cwd: str | None, reporter: UploadReporter | None
) -> builtins.list[TaskLaunch]:
    """Upload the job's directory (see :func:`~flamepy.jobs.upload.upload_root`) and point the
    launches at the archive; their ``cwd`` becomes relative to the unpacked copy."""
    from flamepy.config import load_context
    from flamepy.jobs.upload import upload_directory, upload_root

    root, rel = upload_root(spec, cwd)
    excludes = (*spec.excludes, *load_context().package_excludes)
    try:
        up = upload_directory(root, excludes, reporter=reporter)
    except UnavailableError as exc:
        raise UnavailableError(
            f"cannot upload {root} to the object cache ({load_context().cache_endpoint}): {exc.message}; "
            "upload=False (flmctl run --no-upload) runs the job in the directory on the node instead"
        ) from exc
    return [dataclasses.replace(launch, archive=up.key, cwd=rel) for launch in launches]


def submit(
    spec: JobSpec,
    conn: Connection | None = None,
    job_id: str | None = None,
    *,
    cwd: str | None = None,
    reporter: UploadReporter | None = None,
) -> Job:
    """Submit a ready :class:`JobSpec` as a job, uploading its directory first when ``spec.upload``
    (see the module docstring); ``cwd`` (default: the current directory) is where it was asked
    from, ``reporter`` shows the upload's progress."""
    connection = _connection(conn)
    jid = job_id or new_job_id()
    launches = expand(spec, job_id=jid)
    for launch in launches:
        launch.to_task_input()  # size errors before anything is uploaded
    if spec.upload:
        launches = _with_upload(spec, launches, cwd, reporter)
    inputs = [launch.to_task_input() for launch in launches]
    info = JobInfo.of(spec, jid)
    attrs = SessionAttributes(
        application=JOB_APPLICATION,
        id=jid,
        common_data=info.to_common_data(),
        resreq=_resreq(spec),
        max_instances=_cap(spec),
    )
    spread = spec.spread and spec.instances > 1  # every rank on its own node
    if spec.retries:  # a failed command re-runs too, not only a lost node or service
        ssn = connection.create_session(attrs, max_retries=spec.retries, retry_on_error=True, spread=spread)
    else:
        ssn = connection.create_session(attrs, spread=spread)
    try:
        for raw in inputs:
            ssn.create_task(raw)
    except BaseException:
        ssn.close(cancel_running=True)
        raise
    return Job(connection, info)


def run(
    command: str | os.PathLike[str] | Sequence[str] | JobSpec,
    *,
    gpus: int | str | None = None,
    cpus: int | str | None = None,
    memory: int | str | None = None,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: float | str | None = None,
    retries: int | None = None,
    instances: int | None = None,
    workdir: str | os.PathLike[str] | None = None,
    wait: bool = False,
    conn: Connection | None = None,
    **options: Any,
) -> Job:
    """Run ``command`` (shell text, an argv list, a job file path or a :class:`JobSpec`) as a job
    with these options on top (``gpus="a100:2"``, ``memory="16g"``, ``timeout="2h"``...; any other
    :func:`~flamepy.jobs.build.apply_options` option by keyword). With ``wait``, returns once it
    has finished (``job.exit_code`` then has its exit code). ``upload`` (an option) defaults to
    True when no ``workdir`` is given: the current directory is uploaded and the job runs in the
    copy; with a ``workdir`` the job runs there on the node unless ``upload=True``."""
    options.setdefault("upload", workdir is None)
    spec = make_spec(
        command,
        gpus=gpus,
        cpus=cpus,
        memory=memory,
        env=env,
        name=name,
        labels=labels,
        timeout=timeout,
        retries=retries,
        instances=instances,
        workdir=os.fspath(workdir) if workdir is not None else None,
        **options,
    )
    job = submit(spec, conn)
    if wait:
        job.wait()
    return job


def _jobs(conn: Connection) -> builtins.list[tuple[Session, JobInfo]]:
    found = []
    for ssn in conn.list_sessions():
        if ssn.application != JOB_APPLICATION:
            continue
        info = JobInfo.from_common_data(ssn.common_data())
        if info is not None and info.id == ssn.id:
            found.append((ssn, info))
    return sorted(found, key=lambda pair: (pair[1].submitted_ms, pair[1].id))


def _matches(info: JobInfo, name: str | None, labels: Mapping[str, str] | None) -> bool:
    if name is not None and not fnmatch.fnmatchcase(info.name, name):
        return False
    return all(info.labels.get(k) == v for k, v in (labels or {}).items())


def list(
    state: JobState | str | Sequence[JobState | str] | None = None,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    conn: Connection | None = None,
) -> builtins.list[Job]:
    """The jobs, oldest first: those in ``state`` (one or several) whose name matches the glob
    ``name`` and that carry every label in ``labels``."""
    connection = _connection(conn)
    wanted = parse_states(state)
    out = []
    for _ssn, info in _jobs(connection):
        if not _matches(info, name, labels):
            continue
        job = Job(connection, info)
        if wanted is None or job.status in wanted:
            out.append(job)
    return out


def parse_states(state: JobState | str | Sequence[JobState | str] | None) -> set[JobState] | None:
    """The states ``state`` names (case-insensitive), None for any; a wrong name raises."""
    if state is None:
        return None
    items = [state] if isinstance(state, str | JobState) else builtins.list(state)
    out = set()
    by_name = {s.value.lower(): s for s in JobState}
    for item in items:
        key = item.value if isinstance(item, JobState) else str(item)
        if key.lower() not in by_name:
            raise InvalidArgumentError(
                f"job state: expected one of {', '.join(s.value for s in JobState)}, got {item!r}"
            )
        out.add(by_name[key.lower()])
    return out


def _by_prefix(jobs: Sequence[JobInfo], key: str) -> builtins.list[JobInfo]:
    """Jobs whose id's hex part starts with ``key``'s (``1a2b`` or ``job-1a2b``)."""
    digits = key.removeprefix(JOB_ID_PREFIX).lower()
    if not digits or any(c not in "0123456789abcdef" for c in digits):
        return []
    return [i for i in jobs if i.id.removeprefix(JOB_ID_PREFIX).startswith(digits)]


def resolve(jobs: Sequence[JobInfo], key: str) -> JobInfo:
    """The one job ``key`` names: a full id, else a unique id prefix, else a name (the newest job
    of that name when several have it). An ambiguous prefix raises, listing the candidates."""
    for info in jobs:
        if info.id == key:
            return info
    by_prefix = _by_prefix(jobs, key)
    if len(by_prefix) == 1:
        return by_prefix[0]
    by_name = [i for i in jobs if i.name == key]
    if by_name:
        return max(by_name, key=lambda i: (i.submitted_ms, i.id))
    if len(by_prefix) > 1:
        shown = ", ".join(f"{i.id} ({i.name})" for i in by_prefix[:MAX_CANDIDATES_SHOWN])
        extra = len(by_prefix) - MAX_CANDIDATES_SHOWN
        more = f" and {extra} more" if extra > 0 else ""
        raise InvalidArgumentError(f"job {key!r} is ambiguous: it matches {shown}{more}; give more of the id")
    raise NotFoundError(f"no job with id, id prefix or name {key!r} (flmctl ps -a lists jobs)")


def get(id_or_name: str, *, conn: Connection | None = None) -> Job:
    """The job with this id, unique id prefix, or name (the newest of that name)."""
    if not isinstance(id_or_name, str) or not id_or_name:
        raise InvalidArgumentError(f"job: expected an id, id prefix or name, got {id_or_name!r}")
    connection = _connection(conn)
    infos = [info for _ssn, info in _jobs(connection)]
    return Job(connection, resolve(infos, id_or_name))
