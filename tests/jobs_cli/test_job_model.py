"""The pure parts of the job client: metadata round trip, state from tasks, id resolution."""

from __future__ import annotations

import pytest

from flamepy.apps.jobresult import JobFailed, JobResult
from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.jobs import JobInfo, JobSpec, JobState
from flamepy.jobs.client import resolve
from flamepy.jobs.state import job_state, task_view
from flamepy.types import Task, TaskState


def _task(tid: str, state: TaskState, output: bytes | None = None, message: str | None = None) -> Task:
    from flamepy.types import Event, EventCode

    events = (Event(EventCode.FAILED, message, 0),) if message else ()
    return Task(tid, "job-1", state, input=b'{"index": %d}' % int(tid), output=output, events=events)


def test_info_round_trips_and_masks_secrets() -> None:
    spec = JobSpec(command="python t.py", name="t", workdir="/w", env={"HF_TOKEN": "x", "A": "1"}, gpus=2)
    info = JobInfo.of(spec, "job-1a2b3c4d")
    back = JobInfo.from_common_data(info.to_common_data())
    assert back == info and back.resources_text == "1 cpu, 2 gpu"
    assert back.spec["env"] == {"HF_TOKEN": "****", "A": "1"}
    assert JobInfo.from_common_data(b"not a job") is None
    assert JobInfo.from_common_data(b'{"kind": "something-else"}') is None


def test_state_follows_the_tasks() -> None:
    ok = JobResult(0, "Completed", "/l").to_json()
    failed = "JobFailed: " + str(JobFailed(JobResult(3, "Failed", "/l", "boom")))
    timeout = str(JobFailed(JobResult(124, "Timeout", "/l")))
    assert job_state([]) == (JobState.PENDING, None)
    assert job_state([task_view(_task("1", TaskState.PENDING))]) == (JobState.PENDING, None)
    mixed = [task_view(_task("1", TaskState.SUCCEED, ok)), task_view(_task("2", TaskState.PENDING))]
    assert job_state(mixed) == (JobState.RUNNING, None)
    ended = [
        task_view(_task("1", TaskState.SUCCEED, ok)),
        task_view(_task("2", TaskState.FAILED, message=failed)),
    ]
    assert job_state(ended) == (JobState.FAILED, 3)
    assert task_view(_task("2", TaskState.FAILED, message=failed)).reason == "Failed"
    with_timeout = [*ended, task_view(_task("3", TaskState.FAILED, message=timeout))]
    assert job_state(with_timeout) == (JobState.TIMEOUT, 124)
    with_cancel = [*with_timeout, task_view(_task("4", TaskState.CANCELLED, message="session closed"))]
    assert job_state(with_cancel) == (JobState.CANCELLED, None)
    assert job_state([task_view(_task("1", TaskState.SUCCEED, ok))]) == (JobState.SUCCEEDED, 0)


def _info(jid: str, name: str, at: int) -> JobInfo:
    return JobInfo(id=jid, name=name, command="x", submitted_ms=at)


def test_resolve_by_id_prefix_and_name() -> None:
    infos = [_info("job-aa11", "train", 1), _info("job-aa22", "train", 2), _info("job-bb33", "job", 3)]
    assert resolve(infos, "job-aa11").id == "job-aa11"
    assert resolve(infos, "bb").id == "job-bb33" and resolve(infos, "job-aa2").id == "job-aa22"
    assert resolve(infos, "train").id == "job-aa22"  # the newest of that name
    assert resolve(infos, "job").id == "job-bb33"  # a name, not a prefix of every id
    with pytest.raises(
        InvalidArgumentError, match=r"'aa' is ambiguous: it matches job-aa11 \(train\), job-aa22"
    ):
        resolve(infos, "aa")
    with pytest.raises(NotFoundError, match="'cc'"):
        resolve(infos, "cc")
