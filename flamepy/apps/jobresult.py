"""The outcome of one job task: :class:`JobResult`, its JSON form and the failure message.

A job task that ends with exit code 0 **succeeds**; its task output is the UTF-8 JSON

.. code-block:: json

    {"kind": "flame.job-result/v1", "exit_code": 0, "reason": "Completed",
     "log": "/work/.flame-logs/j-1/0.log", "tail": "last ~4 KiB of combined output"}

Any other end (non-zero exit, ``Timeout`` → 124, ``Cancelled`` → 128+signal, ``SetupFailed``)
**fails** the task: the service raises :class:`JobFailed`, so the broker records the task Failed
(``flmctl status`` shows Failed, retries apply) with the message

``exit code N (REASON); log PATH`` + newline + the output tail.

The service runtime prefixes the exception's type (``JobFailed: exit code 3 (Failed); ...``), so
:func:`parse_failure` searches rather than matches at the start: it gives ``(N, REASON)`` back from
any task message, which is how ``flmctl run`` exits with the command's own exit code and the SDK
caller learns it from the error text.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Literal, cast

RESULT_KIND = "flame.job-result/v1"
Reason = Literal["Completed", "Failed", "Timeout", "Cancelled", "SetupFailed"]
REASONS: tuple[Reason, ...] = ("Completed", "Failed", "Timeout", "Cancelled", "SetupFailed")
TIMEOUT_EXIT_CODE = 124
_FAILURE = re.compile(r"exit code (-?\d+) \((" + "|".join(REASONS) + r")\)")

__all__ = [
    "REASONS",
    "RESULT_KIND",
    "TIMEOUT_EXIT_CODE",
    "JobFailed",
    "JobResult",
    "Reason",
    "failure_message",
    "parse_failure",
]


@dataclass(frozen=True)
class JobResult:
    """How one job task ended (see the module docstring)."""

    exit_code: int
    reason: Reason
    log: str
    tail: str = ""

    @property
    def ok(self) -> bool:
        """True for exit code 0 after the command ran (the task succeeds)."""
        return self.exit_code == 0 and self.reason == "Completed"

    def to_json(self) -> bytes:
        """The task output: compact UTF-8 JSON with ``"kind": "flame.job-result/v1"``."""
        return json.dumps({"kind": RESULT_KIND, **asdict(self)}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobResult:
        """Decode :meth:`to_json`; ValueError when it is not a job result."""
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("kind") != RESULT_KIND:
            raise ValueError(f"not a {RESULT_KIND} document")
        code, reason = doc.get("exit_code"), doc.get("reason")
        if not isinstance(code, int) or reason not in REASONS:
            raise ValueError(f"{RESULT_KIND}: bad exit_code {code!r} or reason {reason!r}")
        return cls(
            exit_code=code,
            reason=cast(Reason, reason),
            log=str(doc.get("log", "")),
            tail=str(doc.get("tail", "")),
        )


def failure_message(result: JobResult) -> str:
    """``exit code N (REASON); log PATH`` then, on the next lines, the output tail."""
    head = f"exit code {result.exit_code} ({result.reason}); log {result.log}"
    tail = result.tail.rstrip("\n")
    return f"{head}\n{tail}" if tail else head


def parse_failure(message: str) -> tuple[int, Reason] | None:
    """``(exit_code, reason)`` from a failed task's message, or None when it has none."""
    m = _FAILURE.search(message or "")
    if m is None:
        return None
    return int(m.group(1)), cast(Reason, m.group(2))


class JobFailed(RuntimeError):
    """A job task that did not complete with exit code 0; ``result`` says how it ended."""

    def __init__(self, result: JobResult) -> None:
        super().__init__(failure_message(result))
        self.result = result
