"""The session manager's bounds on what one request may ask for (documented in ``docs/limits.md``).

Every request is checked against these by ``session_manager.validate`` right after it is decoded,
before it reaches the broker. Operators change them with ``--limit NAME=VALUE`` (see
:func:`parse_limit`). Fixed syntax rules that are part of the protocol (application names, session
ids, task ids, the size of one task's data) are in ``validate`` and are not configurable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from flamepy.common.bounds import DEFAULT_MAX_TASKS_PER_REQUEST
from flamepy.tasklog import MAX_LOG_CHUNK_BYTES


@dataclass(frozen=True)
class Limits:
    # tasks one CreateTasks call may carry; more answers RESOURCE_EXHAUSTED (the SDK splits)
    max_tasks_per_request: int = DEFAULT_MAX_TASKS_PER_REQUEST
    # executors a session or application may ask for: min_instances and max_instances
    max_instances: int = 10_000
    max_priority: int = 1_000_000  # a session's priority
    max_batch_size: int = 10_000  # a session's batch_size
    max_cpu: int = 65_536  # cores: a resource request, or a node's advertised capacity
    max_memory: int = 1 << 50  # bytes (1 PiB): a resource request, or a node's capacity
    max_gpu: int = 1_024  # GPUs: a resource request, or a node's capacity (never negative)
    max_delay_release: int = 7 * 86_400  # seconds an application keeps idle executors bound
    max_name_bytes: int = 255  # node names, hostnames, executor ids, environment names, labels
    max_text_bytes: int = 64 * 1024  # one free-text field: command, an argument, an environment value
    max_list_items: int = 1_024  # arguments, labels or environment entries of one application
    max_spec_bytes: int = 1024 * 1024  # every string of one application spec together
    # characters of a node's error text (bind failure, task failure) kept; longer is cut in the middle
    max_message_chars: int = 16 * 1024
    max_log_chunk_bytes: int = MAX_LOG_CHUNK_BYTES  # bytes one ReadTaskLog may ask for


LIMIT_NAMES = tuple(f.name for f in fields(Limits))


def parse_limit(limits: Limits, text: str) -> Limits:
    """``limits`` with one ``NAME=VALUE`` setting applied (``VALUE`` a positive integer)."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in LIMIT_NAMES:
        raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(LIMIT_NAMES)}; got {text!r}")
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not an integer") from None
    if number < 1:
        raise ValueError(f"{name}: must be at least 1, got {number}")
    return replace(limits, **{name: number})


def limits_from(settings: Iterable[str]) -> Limits:
    """The default limits with each ``NAME=VALUE`` of ``settings`` applied in order."""
    limits = Limits()
    for text in settings:
        limits = parse_limit(limits, text)
    return limits
