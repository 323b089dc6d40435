"""flamepy 0.6.0's ``flamepy.runner.helper``: error and inspection types of Runner data.

:func:`get_data` is ours (:func:`flamepy.runner.codec.get_data`): it decodes a Runner task's
input, output or common data to the Python value it carries. :class:`TaskInputData` and
:class:`TaskOutputData` give 0.6.0's dictionary view of a call or a result (``to_dict()``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from flamepy.runner.codec import get_data

__all__ = ["ErrorType", "RunnerError", "TaskInputData", "TaskOutputData", "get_data"]


class ErrorType(enum.Enum):
    DECODE_ERROR = "decode_error"
    CACHE_RETRIEVAL_ERROR = "cache_retrieval_error"
    DATA_FORMAT_ERROR = "data_format_error"


class RunnerError(Exception):
    """Runner data that cannot be read: what went wrong (``error_type``), where (``key``)."""

    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        cause: BaseException | None = None,
        key: str | None = None,
        data_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = ErrorType(error_type)
        self.message = message
        self.cause = cause
        self.key = key
        self.data_type = data_type

    def __str__(self) -> str:
        return f"[{self.error_type.value}] {self.message}"


@dataclass
class TaskInputData:
    """A call as a dictionary: its method (None: the object itself), arguments and metadata."""

    type: str = field(default="input", init=False)
    method: str | None = None
    args: tuple | None = None
    kwargs: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "method": self.method,
            "args": self.args,
            "kwargs": self.kwargs,
            "metadata": self.metadata,
        }


@dataclass
class TaskOutputData:
    """A result as a dictionary."""

    type: str = field(default="output", init=False)
    result: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "result": self.result, "metadata": self.metadata}
