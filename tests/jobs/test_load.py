"""load_job's choice of layout, default names, and the --dry-run text."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamepy.jobs import ArraySpec, GpuRequest, JobSpec, JobSpecError, Volume, load_job, render_dry_run
from flamepy.jobs.load import job_kind, name_for


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "job.yaml").write_text("command: python train.py\n")
    (tmp_path / "job.yml").write_text("run: echo hi\n")
    (tmp_path / "plain.sbatch").write_text("echo no directives\n")
    (tmp_path / "run.slurm").write_text("#!/bin/bash\n#SBATCH -c 2\necho\n")
    (tmp_path / "script.sh").write_text("#!/bin/bash\n#SBATCH -N 2\necho\n")
    (tmp_path / "other.sh").write_text("#!/bin/bash\necho hi\n")
    (tmp_path / "late.sh").write_text("#!/bin/bash\necho hi\n#SBATCH -N 2\n")
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe#SBATCH")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("job.yaml", "yaml"),
        ("job.yml", "yaml"),
        ("JOB.YAML", "yaml"),
        ("missing.yaml", "yaml"),
        ("plain.sbatch", "sbatch"),
        ("run.slurm", "sbatch"),
        ("missing.slurm", "sbatch"),
        ("script.sh", "sbatch"),
        ("other.sh", "command"),
        ("late.sh", "command"),
        ("bin.dat", "command"),
        ("python train.py", "command"),
        ("nvidia-smi", "command"),
        ("echo a.yaml\necho b", "command"),
    ],
)
def test_job_kind(files: Path, text: str, kind: str) -> None:
    assert job_kind(text, str(files)) == kind


def test_load_job_dispatches(files: Path) -> None:
    cwd = str(files)
    assert load_job("job.yaml", environ={}, cwd=cwd).dialect == "flow"
    assert load_job("job.yml", environ={}, cwd=cwd).dialect == "skypilot"
    assert load_job("plain.sbatch", environ={}, cwd=cwd).dialect == "sbatch"
    assert load_job("script.sh", environ={}, cwd=cwd).instances == 2
    other = load_job("other.sh", environ={}, cwd=cwd)
    assert other.dialect == "command" and other.command == "other.sh"
    cmd = load_job("python train.py --lr 1", environ={}, cwd=cwd)
    assert cmd.command == "python train.py --lr 1" and cmd.name == "train" and cmd.workdir == cwd


def test_load_job_accepts_paths_and_defaults(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files)
    assert load_job(files / "job.yaml").dialect == "flow"
    assert load_job("echo hi").workdir == str(files)


@pytest.mark.parametrize("name", ["missing.yaml", "missing.yml", "missing.sbatch", "missing.slurm"])
def test_missing_job_files_are_errors_not_commands(files: Path, name: str) -> None:
    with pytest.raises(JobSpecError, match=f"{name}: no such job file"):
        load_job(name, environ={}, cwd=str(files))


def test_unreadable_script(files: Path) -> None:
    (files / "bad.slurm").write_bytes(b"\xff\xfe")
    with pytest.raises(JobSpecError, match="bad.slurm: cannot read the script"):
        load_job("bad.slurm", environ={}, cwd=str(files))


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("python train.py --lr 1", "train"),
        ("python3 -u scripts/train.py", "train"),
        ("torchrun --nproc_per_node=8 train.py", "train"),
        ("CUDA_VISIBLE_DEVICES=0 python eval.py", "eval"),
        ("nvidia-smi", "nvidia-smi"),
        ("./run.sh", "run"),
        ("bash", "job"),
        ("", "job"),
        ("echo 'unbalanced", "echo"),
        (("uv", "run", "python", "serve.py"), "serve"),
        (("/usr/bin/python3.11", "x.py"), "x"),
    ],
)
def test_name_for(command: str | tuple[str, ...], name: str) -> None:
    assert name_for(command) == name


def _full_spec() -> JobSpec:
    return JobSpec(
        command="python train.py",
        name="train",
        workdir="/src",
        env={"WANDB_API_KEY": "abc", "LR": "0.1", "PATH": "/opt/bin"},
        inherited_env={"HOME": "/home/u", "EXTRA": "1"},
        cpus=4,
        memory=16 * 1024**3,
        gpus=GpuRequest(2, "a100"),
        timeout=7200,
        retries=1,
        instances=2,
        spread=True,
        labels={"team": "ml"},
        excludes=("*.ckpt",),
        setup="pip install -e .",
        array=ArraySpec((1, 2), 1),
        stdout="o-%A_%a",
        volumes=(Volume("/data", "/data", True),),
        warnings=("job.yaml: x: ignored",),
    )


def test_dry_run_shows_job_tasks_and_env_diff() -> None:
    caller = {"HOME": "/home/u", "PATH": "/usr/bin"}
    text = render_dry_run(_full_spec(), environ=caller)
    assert text.startswith("job 'train' (command: command line), 4 task(s)\n")
    for needle in (
        "resources per task: 4 CPUs, 16g memory, 2 a100 GPUs",
        "ranks: 2 on distinct nodes; array 1-2%1 (at most 1 at once)",
        "timeout: 2h; retries: 1",
        "code: uploads /src (excluding *.ckpt); tasks run in the uploaded copy",
        "    pip install -e .",
        "labels: team=ml",
        "stdout: o-%A_%a; stderr: (with stdout)",
        "volume: /data -> /data (read-only)",
        "environment: 2 variable(s) copied from yours",
        "  ! job.yaml: x: ignored",
        "task 0 (rank 0/2, array index 1)",
        "task 3 (rank 1/2, array index 2)",
        "  command: bash -c 'python train.py'",
        "  cwd: . (the uploaded copy)",
        "    + WANDB_API_KEY=****",
        "    + LR=0.1",
        "    ~ PATH=/opt/bin",
        "    + EXTRA=1",
        "    + MASTER_ADDR={{flame.master_addr}}",
        "    + SLURM_ARRAY_TASK_ID=1",
        "  env: as task 0, except:",
        "    ~ SLURM_ARRAY_TASK_ID=2",
        "note: {{flame.job_id}} is the job id",
        "note: {{flame.master_addr}} is filled",
    ):
        assert needle in text, needle
    assert "abc" not in text and "HOME=" not in text  # secrets masked; unchanged inherited vars hidden
    task1 = text.split("task 1 (")[1].split("task 2 (")[0]
    assert "FLAME_NODE_RANK=1" in task1 and "LR=" not in task1  # later tasks show only what differs


def test_dry_run_simple_and_capped() -> None:
    spec = JobSpec(
        command=("echo", "hi"), name="e", workdir="/w", upload=False, array=ArraySpec(tuple(range(30)))
    )
    text = render_dry_run(spec, environ={}, job_id="J", max_tasks=3)
    assert "code: not uploaded; tasks run in /w" in text and "  cwd: /w" in text
    assert "  command: echo hi" in text and "task 3 (" not in text
    assert "... and 27 more task(s) like these" in text
    assert "resources per task: 1 CPU, any memory, no GPU" in text
    assert "note:" not in text and "FLAME_JOB_ID=J" in text


def test_dry_run_of_a_script_shows_it_once(tmp_path: Path) -> None:
    (tmp_path / "a.sbatch").write_text("#!/bin/bash\n#SBATCH -a 0-1\necho $SLURM_ARRAY_TASK_ID\n")
    text = render_dry_run(load_job("a.sbatch", environ={}, cwd=str(tmp_path)), environ={})
    assert text.count("echo $SLURM_ARRAY_TASK_ID") == 1
    assert "script (/bin/bash):" in text and "command: /bin/bash <the script above, 3 lines>" in text


def test_dry_run_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LR", "0.1")
    spec = JobSpec(command="x", workdir="/", env={"LR": "0.1"})
    assert "LR=" not in render_dry_run(spec)
