"""Scalar parsers shared by every job layout: durations, SLURM times, memory, GPUs, CPUs, arrays."""

from __future__ import annotations

import pytest

from flamepy.errors import FlameErrorCode, InvalidArgumentError
from flamepy.jobs.values import (
    MAX_ARRAY_TASKS,
    JobSpecError,
    check_env_name,
    check_label,
    check_name,
    format_bytes,
    format_duration,
    parse_array,
    parse_count,
    parse_cpus,
    parse_duration,
    parse_gpus,
    parse_memory,
    parse_slurm_time,
)

G = 1024**3


def test_job_spec_error_is_an_invalid_argument_and_a_value_error() -> None:
    err = JobSpecError("x: expected y, got 'z'")
    assert isinstance(err, InvalidArgumentError)
    assert isinstance(err, ValueError)
    assert err.code == FlameErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m 15s", 5415),
        ("1.5h", 5400),
        ("2H", 7200),
        ("01:30:00", 5400),
        ("30:00", 1800),
        ("0:0:5", 5),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "--timeout") == seconds


@pytest.mark.parametrize("text", [None, "", "0", 0, "none", "unlimited", "00:00:00"])
def test_no_duration_means_no_limit(text: object) -> None:
    assert parse_duration(text, "--timeout") is None


@pytest.mark.parametrize("text", ["2x", "h", "1:2:3:4", "1:xx", "-5", -5, "two hours", "5m2", True, [1]])
def test_bad_durations_name_the_option(text: object) -> None:
    with pytest.raises(JobSpecError, match=r"^INVALID_ARGUMENT: --timeout: expected"):
        parse_duration(text, "--timeout")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 600),  # M
        ("10:30", 630),  # M:S
        ("1:02:03", 3723),  # H:M:S
        ("2-0", 172800),  # D-H
        ("1-2", 93600),  # D-H
        ("1-2:30", 95400),  # D-H:M
        ("1-02:30:15", 95415),  # D-H:M:S
        ("120", 7200),
    ],
)
def test_slurm_times(text: str, seconds: int) -> None:
    assert parse_slurm_time(text, "s.sbatch:3: --time") == seconds


@pytest.mark.parametrize("text", ["UNLIMITED", "infinite", "0", "0:0"])
def test_slurm_unlimited(text: str) -> None:
    assert parse_slurm_time(text, "t") is None


@pytest.mark.parametrize("text", ["1h", "1-", "-1", "a-1", "1:2:3:4", "1-1:2:3:4", "", "1.5"])
def test_bad_slurm_times(text: str) -> None:
    with pytest.raises(JobSpecError, match="expected a SLURM time"):
        parse_slurm_time(text, "s.sbatch:3: --time")


@pytest.mark.parametrize(
    ("text", "unit", "size"),
    [
        ("16g", "g", 16 * G),
        ("16G", "g", 16 * G),
        ("16GB", "g", 16 * G),
        ("2Gi", "g", 2 * G),
        ("512m", "g", 512 * 1024**2),
        ("1.5g", "g", int(1.5 * G)),
        ("16", "g", 16 * G),
        (16, "g", 16 * G),
        ("4000", "m", 4000 * 1024**2),
        ("1t", "m", 1024**4),
        ("10", "", 10),
    ],
)
def test_memory(text: object, unit: str, size: int) -> None:
    assert parse_memory(text, "--mem", default_unit=unit) == size


@pytest.mark.parametrize("text", ["lots", "16q", "g", "-1g", "", None, True, "1 2g"])
def test_bad_memory(text: object) -> None:
    with pytest.raises(JobSpecError, match="--mem: expected a memory size"):
        parse_memory(text, "--mem")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (2, (2, None)),
        ("2", (2, None)),
        ("0", (0, None)),
        ("a100", (1, "a100")),
        ("1xh100", (1, "h100")),
        ("4xa100", (4, "a100")),
        ("8xH100", (8, "h100")),
        ("8 x a100", (8, "a100")),
        ("H100:8", (8, "h100")),
        ("a100-80gb:2", (2, "a100-80gb")),
        ("gpu:a100:2", (2, "a100")),
        ("gpu:3", (3, None)),
    ],
)
def test_gpus(text: object, want: tuple[int, str | None]) -> None:
    assert parse_gpus(text, "--gpus") == want


@pytest.mark.parametrize("text", ["", "4x", "a100:", ":4", "a100:two", "4xa100:2x", -1, None, True, "8-h100"])
def test_bad_gpus(text: object) -> None:
    with pytest.raises(JobSpecError, match="--gpus: expected a GPU count"):
        parse_gpus(text, "--gpus")


@pytest.mark.parametrize(("text", "want"), [(4, 4), ("4", 4), ("4+", 4), ("0.5", 1), (2.5, 3)])
def test_cpus(text: object, want: int) -> None:
    assert parse_cpus(text, "resources.cpus")[0] == want


def test_fractional_cpus_note_the_rounding() -> None:
    assert parse_cpus("0.5", "--cpus")[1] == "--cpus: '0.5' CPUs rounded up to 1"
    assert parse_cpus("2", "--cpus")[1] is None


@pytest.mark.parametrize("text", ["lots", "0", "-1", "", True, "inf"])
def test_bad_cpus(text: object) -> None:
    with pytest.raises(JobSpecError, match=r"job\.yaml: resources\.cpus: expected a positive number, got"):
        parse_cpus(text, "job.yaml: resources.cpus")


def test_cpus_error_message_is_exact() -> None:
    with pytest.raises(JobSpecError) as info:
        parse_cpus("lots", "job.yaml: resources.cpus")
    assert info.value.message == "job.yaml: resources.cpus: expected a positive number, got 'lots'"


@pytest.mark.parametrize(
    ("text", "indices", "cap"),
    [
        ("1-10", tuple(range(1, 11)), None),
        ("1,3,5", (1, 3, 5), None),
        ("1-10:2", (1, 3, 5, 7, 9), None),
        ("0-99%8", tuple(range(100)), 8),
        ("0-3,7,10-20:5%4", (0, 1, 2, 3, 7, 10, 15, 20), 4),
        ("5", (5,), None),
        ("3,1,3,2", (1, 2, 3), None),
        (" 1-3 ", (1, 2, 3), None),
        ("1-3%10", (1, 2, 3), 10),
    ],
)
def test_arrays(text: str, indices: tuple[int, ...], cap: int | None) -> None:
    assert parse_array(text, "--array") == (indices, cap)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "expected an array spec"),
        ("10-1", "ranges go up"),
        ("1-10:0", "ranges go up"),
        ("a-b", "expected an array spec"),
        ("1-", "expected an array spec"),
        ("-3", "expected an array spec"),
        ("1,,2", "expected an array spec"),
        ("1-10%", "concurrency cap"),
        ("1-10%0", "concurrency cap"),
        ("1-10%x", "concurrency cap"),
        ("1:2", "expected an array spec"),
        (f"0-{MAX_ARRAY_TASKS}", f"at most {MAX_ARRAY_TASKS}"),
    ],
)
def test_bad_arrays(text: str, match: str) -> None:
    with pytest.raises(JobSpecError, match=match):
        parse_array(text, "s.sbatch:2: --array")


def test_array_size_limit_is_inclusive() -> None:
    indices, _ = parse_array(f"0-{MAX_ARRAY_TASKS - 1}", "--array")
    assert len(indices) == MAX_ARRAY_TASKS


@pytest.mark.parametrize(
    ("value", "minimum", "ok"),
    [
        (1, 1, True),
        ("3", 1, True),
        (0, 0, True),
        (0, 1, False),
        ("x", 1, False),
        (True, 1, False),
        (1.5, 1, False),
        ("-1", 0, False),
    ],
)
def test_counts(value: object, minimum: int, ok: bool) -> None:
    if ok:
        assert parse_count(value, "n", minimum) == int(value)  # type: ignore[call-overload]
    else:
        with pytest.raises(JobSpecError, match="^INVALID_ARGUMENT: n: expected a"):
            parse_count(value, "n", minimum)


@pytest.mark.parametrize("name", ["1X", "A-B", "A B", "", "A=B"])
def test_bad_env_names(name: str) -> None:
    with pytest.raises(JobSpecError, match="environment variable name"):
        check_env_name(name, "-e")


@pytest.mark.parametrize("name", ["A", "_x", "PATH", "a1_B2"])
def test_env_names(name: str) -> None:
    assert check_env_name(name, "-e") == name


def test_labels_and_names() -> None:
    check_label("team", "ml", "--label")
    check_label("example.com/owner", "me", "--label")
    with pytest.raises(JobSpecError, match="label key"):
        check_label("bad key", "x", "--label")
    with pytest.raises(JobSpecError, match="one-line"):
        check_label("k", "a\nb", "--label")
    assert check_name(" train ", "--name") == "train"
    for bad in ("", "   ", "a\nb", "x" * 129, 3):
        with pytest.raises(JobSpecError, match="job name"):
            check_name(bad, "--name")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "none"), (0, "0s"), (45, "45s"), (5400, "1h30m"), (90061, "1d1h1m1s"), (7200, "2h")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_bytes() -> None:
    assert format_bytes(16 * G) == "16g"
    assert format_bytes(1536 * 1024) == "1536k"
    assert format_bytes(1000) == "1000"
