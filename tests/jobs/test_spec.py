"""JobSpec and its parts validate on construction, so every producer (CLI, files, Python) is checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flamepy.jobs import ArraySpec, GpuRequest, JobSpec, JobSpecError, Volume


def test_defaults() -> None:
    spec = JobSpec(command="python train.py", workdir="/tmp")
    assert spec.is_shell
    assert (spec.cpus, spec.memory, spec.gpus, spec.instances, spec.retries) == (1, 0, GpuRequest(), 1, 0)
    assert spec.timeout is None and spec.upload and spec.dialect == "command"
    assert spec.num_tasks == 1


def test_argv_lists_become_tuples_and_mappings_are_read_only() -> None:
    spec = JobSpec(command=["python", "x.py"], workdir="/tmp", env={"A": "1"}, labels={"k": "v"})  # type: ignore[arg-type]
    assert spec.command == ("python", "x.py") and not spec.is_shell
    with pytest.raises(TypeError):
        spec.env["B"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.labels["x"] = "y"  # type: ignore[index]


def test_int_gpus_become_a_request() -> None:
    assert JobSpec(command="x", workdir="/", gpus=2).gpus == GpuRequest(2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"command": ""}, "command: expected a command"),
        ({"command": "   "}, "command: expected a command"),
        ({"command": ()}, "non-empty list"),
        ({"command": ("",)}, "non-empty list"),
        ({"command": ("a", 1)}, "non-empty list"),
        ({"command": 5}, "shell string or an argv"),
        ({"workdir": "relative"}, "workdir: expected an absolute"),
        ({"cpus": 0}, "cpus: expected a whole number >= 1"),
        ({"cpus": 1.5}, "cpus"),
        ({"cpus": True}, "cpus"),
        ({"memory": -1}, "memory"),
        ({"retries": -1}, "retries"),
        ({"instances": 0}, "instances"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -3}, "timeout"),
        ({"timeout": "2h"}, "timeout"),
        ({"master_port": 70000}, "master_port"),
        ({"env": {"1BAD": "x"}}, "environment variable name"),
        ({"env": {"A": 1}}, r"env\.A: expected a string"),
        ({"labels": {"bad key": "v"}}, "label key"),
        ({"name": ""}, "job name"),
        ({"interpreter": ()}, "interpreter"),
        ({"dialect": "pbs"}, "dialect"),
        ({"gpus": "2"}, "gpus: expected a GpuRequest"),
        ({"gpus": True}, "gpus: expected a GpuRequest"),
        ({"array": (1, 2)}, "array: expected an ArraySpec"),
        ({"volumes": ("/data:/data",)}, "volumes: expected Volume entries"),
    ],
)
def test_invalid_specs(changes: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {"command": "true", "workdir": "/tmp", **changes}
    with pytest.raises(JobSpecError, match=match):
        JobSpec(**fields)  # type: ignore[arg-type]


def test_replace_revalidates() -> None:
    spec = JobSpec(command="true", workdir="/tmp")
    with pytest.raises(JobSpecError, match="instances"):
        dataclasses.replace(spec, instances=0)


def test_gpu_request() -> None:
    assert str(GpuRequest(4, "a100")) == "4xa100"
    assert str(GpuRequest(2)) == "2"
    assert str(GpuRequest()) == "0"
    with pytest.raises(JobSpecError, match="gpus"):
        GpuRequest(-1)


def test_array_spec() -> None:
    arr = ArraySpec((1, 2, 3, 7, 9, 10), 2)
    assert str(arr) == "1-3,7,9-10%2"
    assert str(ArraySpec((5,))) == "5"
    for bad, match in (((), "indices"), ((-1,), "indices"), ((1, 1), "unique"), ((1,), "cap")):
        with pytest.raises(JobSpecError, match=match):
            ArraySpec(bad, 0 if match == "cap" else None)


def test_num_tasks_is_ranks_times_indices() -> None:
    spec = JobSpec(command="x", workdir="/", instances=3, array=ArraySpec((0, 1)))
    assert spec.num_tasks == 6


def test_volume() -> None:
    assert Volume("/data", "/mnt").read_only is False
    with pytest.raises(JobSpecError, match="absolute host path"):
        Volume("data", "/mnt")
    with pytest.raises(JobSpecError, match="mount path"):
        Volume("/data", "")


def test_workdir_defaults_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert JobSpec(command="x").workdir == str(tmp_path)
