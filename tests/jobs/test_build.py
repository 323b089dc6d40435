"""make_spec / apply_options: the friendly options the CLI and flamepy.jobs.run(...) share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flamepy.jobs import ArraySpec, GpuRequest, JobSpec, JobSpecError, apply_options, make_spec

G = 1024**3


def test_shell_text_with_friendly_options(tmp_path: Path) -> None:
    spec = make_spec(
        "python train.py", cwd=str(tmp_path), gpus="a100:2", cpus=4, memory="16g", timeout="2h", retries=1,
        instances=2, array="0-3%2", env={"A": "1"}, labels={"team": "ml"}, spread=True, upload=False,
        setup="pip install -e .", excludes=["*.pt"], name="exp",
    )  # fmt: skip
    assert spec.command == "python train.py" and spec.dialect == "python" and spec.source == "Python call"
    assert (spec.gpus, spec.cpus, spec.memory, spec.timeout) == (GpuRequest(2, "a100"), 4, 16 * G, 7200)
    assert (spec.retries, spec.instances, spec.array) == (1, 2, ArraySpec((0, 1, 2, 3), 2))
    assert spec.env == {"A": "1"} and spec.labels == {"team": "ml"} and spec.spread and not spec.upload
    assert spec.setup == "pip install -e ." and spec.excludes == ("*.pt",) and spec.name == "exp"


def test_argv_typed_values_and_spec_input(tmp_path: Path) -> None:
    spec = make_spec(
        ["python", "x.py"], cwd=str(tmp_path), gpus=GpuRequest(1), array=ArraySpec((3,)), memory=8, timeout=90
    )
    assert spec.command == ("python", "x.py") and spec.gpus == GpuRequest(1) and spec.array == ArraySpec((3,))
    assert spec.memory == 8 * G and spec.timeout == 90  # a bare memory number is GiB, as on the CLI
    again = make_spec(spec, cwd=str(tmp_path), gpus=4)
    assert again.gpus == GpuRequest(4) and again.command == spec.command


def test_job_file_keeps_its_source_and_merges(tmp_path: Path) -> None:
    (tmp_path / "j.yaml").write_text(
        "command: x\nenv: {A: file, B: file}\nlabels: {k: file}\nexcludes: [a]\n"
    )
    spec = make_spec(
        "j.yaml", cwd=str(tmp_path), environ={}, env={"A": "py"}, labels={"k2": "py"}, excludes=["b"]
    )
    assert spec.dialect == "flow" and spec.source == "j.yaml"
    assert spec.env == {"A": "py", "B": "file"} and spec.labels == {"k": "file", "k2": "py"}
    assert spec.excludes == ("a", "b")


def test_none_leaves_fields_alone() -> None:
    base = JobSpec(command="x", workdir="/", cpus=3, timeout=5)
    assert apply_options(base, cwd="/", cpus=None, timeout=None) == base


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gpus": "-1"}, "gpus=: expected a GPU count"),
        ({"memory": "lots"}, "memory=: expected a memory size"),
        ({"timeout": "soon"}, "timeout=: expected a duration"),
        ({"cpus": 0}, "cpus=: expected a positive number"),
        ({"retries": -1}, "retries=: expected a whole number >= 0"),
        ({"instances": "x"}, "instances=: expected a positive whole number"),
        ({"array": "9-1"}, "array=: expected an array spec"),
        ({"spread": "yes"}, "spread=: expected True or False"),
        ({"upload": 1}, "upload=: expected True or False"),
        ({"setup": ["a"]}, "setup=: expected shell commands"),
        ({"workdir": "/no/such"}, "workdir=: expected an existing directory"),
        ({"labels": {"bad key": "v"}}, "labels= bad key: expected a label key"),
        ({"name": ""}, "name=: expected a job name"),
        ({"env": {"1X": "v"}}, "env: expected an environment variable name"),
        ({"gpu": 1}, "job options: expected some of name, gpus"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(JobSpecError) as info:
        make_spec("x", cwd="/", **options)
    assert info.value.message.startswith(message)


def test_cpu_rounding_is_a_warning() -> None:
    spec = make_spec("x", cwd="/", cpus=0.5, warnings=["earlier"])
    assert spec.cpus == 1 and spec.warnings == ("earlier", "cpus=: 0.5 CPUs rounded up to 1")


def test_defaults_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert make_spec("x").workdir == str(tmp_path)
