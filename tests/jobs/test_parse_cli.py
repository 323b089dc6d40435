"""flmctl run options → JobSpec."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from flamepy.jobs import ArraySpec, GpuRequest, JobSpec, JobSpecError, add_run_arguments, spec_from_args

G = 1024**3
CALLER = {"HOME": "/home/u", "WANDB_API_KEY": "k", "PATH": "/bin"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flmctl run")
    assert add_run_arguments(parser) is parser
    return parser


def _spec(args: list[str], cwd: Path, environ: dict[str, str] | None = None) -> JobSpec:
    ns = _parser().parse_args(args)
    return spec_from_args(ns, CALLER if environ is None else environ, str(cwd))


def test_quoted_command_is_shell_text(tmp_path: Path) -> None:
    spec = _spec(["python train.py | tee log"], tmp_path)
    assert spec.command == "python train.py | tee log" and spec.is_shell
    assert spec.name == "train" and spec.workdir == str(tmp_path) and spec.upload
    assert spec.dialect == "command" and spec.env == {}


def test_double_dash_gives_an_argv(tmp_path: Path) -> None:
    spec = _spec(["--gpus", "1", "--", "python", "train.py", "--lr", "0.1", "-e", "x"], tmp_path)
    assert spec.command == ("python", "train.py", "--lr", "0.1", "-e", "x")
    assert spec.gpus == GpuRequest(1) and spec.env == {}


def test_options_after_a_quoted_command(tmp_path: Path) -> None:
    spec = _spec(["python train.py", "--gpus", "a100:4", "--cpus", "8", "--mem", "16g"], tmp_path)
    assert spec.command == "python train.py"
    assert (spec.gpus, spec.cpus, spec.memory) == (GpuRequest(4, "a100"), 8, 16 * G)


def test_every_option(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "vars.env").write_text("A=from-file\nB=2\n")
    args = [
        "--name",
        "exp-1",
        "--gpus",
        "2",
        "--cpus",
        "4",
        "--mem",
        "512m",
        "-e",
        "A=from-flag",
        "-e",
        "HOME",
        "--env-file",
        "vars.env",
        "--workdir",
        "sub",
        "--timeout",
        "2h",
        "--retries",
        "3",
        "--instances",
        "2",
        "--spread",
        "--label",
        "team=ml",
        "--label",
        "prio=high",
        "--no-upload",
        "--exclude",
        "*.ckpt",
        "--array",
        "1-4%2",
        "-d",
        "--dry-run",
        "--",
        "bash",
        "run.sh",
    ]
    ns = _parser().parse_args(args)
    assert ns.detach and ns.dry_run
    spec = spec_from_args(ns, CALLER, str(tmp_path))
    assert spec.name == "exp-1" and spec.command == ("bash", "run.sh")
    assert (spec.gpus.count, spec.cpus, spec.memory) == (2, 4, 512 * 1024**2)
    assert spec.env == {"A": "from-flag", "B": "2", "HOME": "/home/u"}
    assert spec.workdir == str(tmp_path / "sub") and not spec.upload and spec.excludes == ("*.ckpt",)
    assert (spec.timeout, spec.retries, spec.instances, spec.spread) == (7200, 3, 2, True)
    assert spec.labels == {"team": "ml", "prio": "high"}
    assert spec.array == ArraySpec((1, 2, 3, 4), 2)


def test_defaults_leave_detach_and_dry_run_off(tmp_path: Path) -> None:
    ns = _parser().parse_args(["true"])
    assert not ns.detach and not ns.dry_run and ns.upload is None and ns.spread is None
    spec = spec_from_args(ns, {}, str(tmp_path))
    assert not spec.spread and spec.upload and spec.timeout is None


def test_bare_e_copies_and_warns_when_missing(tmp_path: Path) -> None:
    spec = _spec(["-e", "WANDB_API_KEY", "-e", "NOPE", "true"], tmp_path)
    assert spec.env == {"WANDB_API_KEY": "k"}
    assert spec.warnings == ("-e NOPE: NOPE is not set in your environment; not passed",)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ([], 'expected "CMD", a job file'),
        (["--"], 'expected "CMD", a job file'),
        (["--gpus", "-3", "x"], "--gpus: expected a GPU count"),
        (["--cpus", "0", "x"], "--cpus: expected a positive number"),
        (["--mem", "lots", "x"], "--mem: expected a memory size"),
        (["--timeout", "2 weeks", "x"], "--timeout: expected a duration"),
        (["--timeout", "-1", "x"], "--timeout"),
        (["--retries", "-1", "x"], "--retries: expected a whole number >= 0"),
        (["--instances", "0", "x"], "--instances: expected a positive whole number"),
        (["--label", "novalue", "x"], "--label: expected KEY=VALUE"),
        (["--label", "=v", "x"], "--label: expected KEY=VALUE"),
        (["--label", "bad key=v", "x"], "label key"),
        (["-e", "1BAD=x", "x"], "environment variable name"),
        (["--workdir", "missing", "x"], "--workdir: expected an existing directory"),
        (["--env-file", "missing.env", "x"], "--env-file missing.env: cannot read it"),
        (["--array", "5-1", "x"], "--array"),
        (["--name", "", "x"], "--name: expected a job name"),
        (["job.yaml"], "job.yaml: no such job file"),
    ],
)
def test_bad_options_are_clear_errors(args: list[str], match: str, tmp_path: Path) -> None:
    with pytest.raises(JobSpecError, match=match):
        _spec(args, tmp_path)


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["--gpu", "2", "x", "--bogus"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_unquoted_command_with_options_needs_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["python", "train.py", "--lr", "1"])
    assert "--lr" in capsys.readouterr().err


def test_env_file_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text("OK=1\nnot valid\n")
    with pytest.raises(JobSpecError, match=r"bad\.env:2"):
        _spec(["--env-file", "bad.env", "x"], tmp_path)


def test_cli_overrides_a_job_file(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(
        "name: from-file\ninstance_type: 4xa100\ncommand: python train.py\nenv:\n  A: file\n  B: file\nmax_run_time_hours: 1\n"
    )
    spec = _spec(["job.yaml", "--gpus", "2", "-e", "A=flag", "--timeout", "30m", "--name", "cli"], tmp_path)
    assert spec.dialect == "flow" and spec.source == "job.yaml"
    assert spec.gpus == GpuRequest(2) and spec.env == {"A": "flag", "B": "file"}
    assert spec.timeout == 1800 and spec.name == "cli"


def test_file_warnings_are_kept_and_cli_warnings_added(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text("command: x\nmax_price_per_hour: 3\n")
    spec = _spec(["job.yaml", "-e", "NOPE"], tmp_path)
    assert len(spec.warnings) == 2 and "max_price_per_hour" in spec.warnings[0]


def test_sbatch_script_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text(
        "#!/bin/bash\n#SBATCH --array=0-2\n#SBATCH -c 2\necho $SLURM_ARRAY_TASK_ID\n"
    )
    spec = _spec(["run.sh", "--instances", "2"], tmp_path, environ={})
    assert spec.dialect == "sbatch" and spec.array == ArraySpec((0, 1, 2)) and spec.instances == 2
    assert spec.cpus == 2


def test_fractional_cpus_warn(tmp_path: Path) -> None:
    spec = _spec(["--cpus", "1.5", "x"], tmp_path)
    assert spec.cpus == 2 and spec.warnings == ("--cpus: '1.5' CPUs rounded up to 2",)


def test_environ_and_cwd_default_to_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLAME_TEST_VAR", "yes")
    spec = spec_from_args(_parser().parse_args(["-e", "FLAME_TEST_VAR", "x"]))
    assert spec.env == {"FLAME_TEST_VAR": "yes"} and spec.workdir == str(tmp_path)


def test_help_renders() -> None:
    text = _parser().format_help()
    assert "--no-upload" in text and "%N caps concurrency" in text
