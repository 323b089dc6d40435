"""Task outcomes on the client: input checks and turning a terminal task into a result or an error."""

from __future__ import annotations

import concurrent.futures
import contextlib
from concurrent.futures import Future

from flamepy.errors import (
    FlameError,
    InternalError,
    InvalidArgumentError,
    InvalidStateError,
    UnavailableError,
)
from flamepy.types import MAX_TASK_DATA_BYTES, Task, TaskCompletion, TaskState


def check_input(input_data: object) -> bytes | None:
    """Task input as bytes (or None); anything else is an InvalidArgumentError naming its type."""
    if input_data is None:
        return None
    if isinstance(input_data, bytearray | memoryview):
        input_data = bytes(input_data)
    if not isinstance(input_data, bytes):
        raise InvalidArgumentError(
            f"task input must be bytes, bytearray, memoryview or None, got {type(input_data).__name__}"
        )
    check_size(len(input_data))
    return input_data


def check_size(size: int) -> None:
    if size > MAX_TASK_DATA_BYTES:
        raise InvalidArgumentError(
            f"task input of {size} bytes exceeds the {MAX_TASK_DATA_BYTES} byte limit of one task; "
            "put large data in the object cache (flamepy.put_object) and pass its reference"
        )


def outcome_of_task(task: Task) -> TaskCompletion:
    return TaskCompletion(task.id, task.state, task.output, task.message)


def where(session_id: str, application: str = "") -> str:
    """``session S of application A``: how errors name a session."""
    return f"session {session_id} of application {application}" if application else f"session {session_id}"


def outcome_error(
    session_id: str, task_id: str, outcome: TaskCompletion, application: str = ""
) -> FlameError | None:
    """None for a Succeed task, else the error its caller sees; the server's message (e.g. why the
    application's service could not start) is carried unchanged after ``failed: ``."""
    reason = outcome.message or "no message"
    if outcome.state == TaskState.SUCCEED:
        return None
    task = f"task {task_id} of {where(session_id, application)}"
    if outcome.state == TaskState.FAILED:
        return InternalError(f"{task} failed: {reason}")
    if outcome.state == TaskState.CANCELLED:
        return InvalidStateError(f"{task} was cancelled: {reason}")
    return UnavailableError(f"{task} is still {outcome.state.name} but its watch ended")


def resolve(
    fut: Future, session_id: str, task_id: str, outcome: TaskCompletion, application: str = ""
) -> None:
    err = outcome_error(session_id, task_id, outcome, application)
    try:
        if err is None:
            fut.set_result(outcome.output)
        else:
            fut.set_exception(err)
    except concurrent.futures.InvalidStateError:
        pass  # already resolved (e.g. failed by close())


def fail(fut: Future, err: BaseException) -> None:
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        fut.set_exception(err)
