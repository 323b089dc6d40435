"""The job-spec error and the parsers for the scalar values every job layout shares.

Durations (``2h``, ``1h30m``, ``HH:MM:SS`` and SLURM's ``D-H:M:S`` family), memory sizes with a
per-layout default unit, GPU requests (``4xa100``, ``H100:8``, ``a100``, ``2``), counts, names,
environment variable names and SLURM array specs (``1-10:2,15%4``). Every parser raises
:class:`JobSpecError` with a message of the form ``WHERE: expected WHAT, got VALUE``; the caller
passes ``where`` (``"job.yaml: resources.cpus"``, ``"--timeout"``, ``"script.sbatch:3: --time"``).

Pure functions, no I/O.
"""

from __future__ import annotations

import math
import re

from flamepy.errors import InvalidArgumentError

MAX_ARRAY_TASKS = 10_000
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)
_MEM = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$", re.IGNORECASE)
_MEM_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_GPU_TYPE = r"[A-Za-z][A-Za-z0-9_.\-]*"
_INSTANCE_TYPE = re.compile(rf"^(?:(\d+)\s*[xX]\s*)?({_GPU_TYPE})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")
_ARRAY_PART = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")


class JobSpecError(InvalidArgumentError):
    """A job description that cannot run as written: the message names the file or option, the key
    and what was expected. Also a ``ValueError`` (through :class:`InvalidArgumentError`)."""


def fail(where: str, expected: str, got: object) -> JobSpecError:
    """The error ``WHERE: expected EXPECTED, got GOT`` (``got`` shown with ``repr``)."""
    return JobSpecError(f"{where}: expected {expected}, got {got!r}")


def parse_duration(text: object, where: str) -> float | None:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``, ``1.5h`` or ``[H:]MM:SS``.

    A bare number is seconds. ``None``, ``""``, ``0``, ``none`` and ``unlimited`` mean no limit
    (``None``)."""
    if text is None or isinstance(text, bool):
        if text is None:
            return None
        raise fail(where, "a duration such as 90s, 15m, 2h or 01:30:00", text)
    if isinstance(text, int | float):
        return _positive_seconds(float(text), where, text)
    raw = str(text).strip()
    if raw.lower() in ("", "none", "unlimited", "infinite"):
        return None
    if ":" in raw:
        parts = raw.split(":")
        if len(parts) > 3 or not all(p.isdigit() for p in parts):
            raise fail(where, "a duration such as 90s, 15m, 2h or 01:30:00", text)
        seconds = 0
        for part in parts:
            seconds = seconds * 60 + int(part)
        return _positive_seconds(float(seconds), where, text)
    try:
        return _positive_seconds(float(raw), where, text)
    except ValueError:
        pass
    if not re.fullmatch(rf"(?:{_DURATION_PART.pattern}\s*)+", raw, re.IGNORECASE):
        raise fail(where, "a duration such as 90s, 15m, 2h or 01:30:00", text)
    total = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _DURATION_PART.findall(raw))
    return _positive_seconds(total, where, text)


def _positive_seconds(value: float, where: str, original: object) -> float | None:
    if value == 0:
        return None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise fail(where, "a positive duration", original)
    return value


def parse_slurm_time(text: str, where: str) -> float | None:
    """Seconds from SLURM's ``-t``: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``.

    ``0``, ``UNLIMITED`` and ``INFINITE`` mean no limit (``None``)."""
    raw = text.strip()
    expected = "a SLURM time: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S"
    if raw.upper() in ("UNLIMITED", "INFINITE"):
        return None
    days = 0
    rest = raw
    if "-" in raw:
        day_text, _, rest = raw.partition("-")
        if not day_text.isdigit() or not rest:
            raise fail(where, expected, text)
        days = int(day_text)
    parts = rest.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise fail(where, expected, text)
    nums = [int(p) for p in parts]
    if "-" in raw:  # D-H, D-H:M, D-H:M:S
        nums += [0] * (3 - len(nums))
        hours, minutes, seconds = nums
    elif len(nums) == 1:  # M
        hours, minutes, seconds = 0, nums[0], 0
    elif len(nums) == 2:  # M:S
        hours, minutes, seconds = 0, nums[0], nums[1]
    else:  # H:M:S
        hours, minutes, seconds = nums
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    return float(total) if total else None


def parse_memory(value: object, where: str, default_unit: str = "g") -> int:
    """Bytes from ``16g``, ``512Mi``, ``2GB``, ``1.5t`` or a bare number in ``default_unit``
    (``"g"`` for the CLI and YAML, ``"m"`` for SLURM's ``--mem``; ``""`` for bytes)."""
    expected = "a memory size such as 512m, 16g or 2Ti"
    if isinstance(value, bool) or value is None:
        raise fail(where, expected, value)
    text = str(value).strip()
    m = _MEM.match(text)
    if not m:
        raise fail(where, expected, value)
    unit = m.group(2).lower() if m.group(2) else default_unit.lower()
    size = float(m.group(1)) * _MEM_UNITS[unit]
    return int(size)


def parse_count(value: object, where: str, minimum: int = 1) -> int:
    """A whole number ``>= minimum`` from an int or its decimal text."""
    what = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
    if isinstance(value, bool):
        raise fail(where, what, value)
    if isinstance(value, int):
        num = value
    elif isinstance(value, str) and value.strip().isdigit():
        num = int(value.strip())
    else:
        raise fail(where, what, value)
    if num < minimum:
        raise fail(where, what, value)
    return num


def parse_cpus(value: object, where: str) -> tuple[int, str | None]:
    """Whole CPUs from ``4``, ``"4"``, ``"4+"`` (SkyPilot's at-least) or ``0.5``; a fraction is
    rounded up and the second item says so."""
    text = str(value).strip() if not isinstance(value, bool) else ""
    text = text[:-1] if text.endswith("+") else text
    try:
        num = float(text)
    except ValueError:
        raise fail(where, "a positive number", value) from None
    if not num > 0 or math.isinf(num):
        raise fail(where, "a positive number", value)
    whole = math.ceil(num)
    note = f"{where}: {value!r} CPUs rounded up to {whole}" if whole != num else None
    return whole, note


def parse_gpus(value: object, where: str) -> tuple[int, str | None]:
    """``(count, type)`` from ``2``, ``"a100"``, ``"4xa100"``, ``"A100:8"``, ``"a100-80gb:2"`` or
    ``"gpu:a100:2"``; the type is lower-cased, ``None`` when not named. ``0`` means no GPU."""
    expected = "a GPU count or TYPE, TYPE:N, NxTYPE (e.g. 2, a100, H100:8, 4xa100)"
    if isinstance(value, bool) or value is None:
        raise fail(where, expected, value)
    if isinstance(value, int):
        if value < 0:
            raise fail(where, expected, value)
        return value, None
    text = str(value).strip()
    if text.lower() == "gpu":
        return 1, None
    if text.lower().startswith("gpu:"):
        text = text[4:]
    if text.isdigit():
        return int(text), None
    if ":" in text:
        kind, _, num = text.rpartition(":")
        if not re.fullmatch(_GPU_TYPE, kind) or not num.isdigit():
            raise fail(where, expected, value)
        return int(num), kind.lower()
    m = _INSTANCE_TYPE.match(text)
    if not m:
        raise fail(where, expected, value)
    return int(m.group(1) or 1), m.group(2).lower()


def check_env_name(name: str, where: str) -> str:
    """``name`` when it is a valid environment variable name."""
    if not _ENV_NAME.match(name):
        raise fail(
            where, "an environment variable name (letters, digits, _; not starting with a digit)", name
        )
    return name


def check_label(key: str, value: str, where: str) -> None:
    """Raise unless ``key`` is a label key (letters, digits, ``_.-/``) and ``value`` one line."""
    if not _LABEL_KEY.match(key):
        raise fail(where, "a label key of letters, digits, '_', '.', '-' or '/'", key)
    if "\n" in value or len(value) > 256:
        raise fail(where, "a one-line label value of at most 256 characters", value)


def check_name(name: object, where: str) -> str:
    """A job name: 1-128 printable characters on one line."""
    if not isinstance(name, str) or not name.strip() or len(name) > 128 or not name.isprintable():
        raise fail(where, "a job name of 1-128 printable characters", name)
    return name.strip()


def parse_array(text: str, where: str) -> tuple[tuple[int, ...], int | None]:
    """SLURM's ``--array``: ``(sorted unique indices, concurrency cap or None)`` from ``1-10``,
    ``1,3,5``, ``1-10:2``, ``0-99%8`` and comma-separated combinations of them."""
    expected = "an array spec such as 1-10, 1,3,5, 1-10:2 or 0-99%8"
    raw = text.strip()
    spec, pct, cap_text = raw.partition("%")
    cap: int | None = None
    if pct:
        if not cap_text.isdigit() or int(cap_text) < 1:
            raise fail(where, "a concurrency cap %N with N >= 1 (e.g. 0-99%8)", text)
        cap = int(cap_text)
    indices: set[int] = set()
    for part in spec.split(","):
        m = _ARRAY_PART.match(part.strip())
        if not m:
            raise fail(where, expected, text)
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        step = int(m.group(3)) if m.group(3) is not None else 1
        if last < first or step < 1:
            raise fail(where, f"{expected} (ranges go up, steps are >= 1)", text)
        if (last - first) // step + len(indices) >= MAX_ARRAY_TASKS:
            raise fail(where, f"at most {MAX_ARRAY_TASKS} array tasks", text)
        indices.update(range(first, last + 1, step))
    return tuple(sorted(indices)), cap


def format_duration(seconds: float | None) -> str:
    """``2h``, ``1h30m``, ``45s``; ``none`` for no limit."""
    if seconds is None:
        return "none"
    rest = round(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out + (f"{rest}s" if rest or not out else "")


def format_bytes(num: int) -> str:
    """``16g``, ``512m``, ``1536k``, or plain bytes."""
    for unit, size in (("t", 1024**4), ("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if num and num % size == 0:
            return f"{num // size}{unit}"
    return str(num)
