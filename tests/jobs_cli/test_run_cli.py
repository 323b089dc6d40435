"""``flmctl run`` for real: exit codes, output, timeout, job files, arrays, ranks, GPUs, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.jobs_cli.conftest import Flmctl

pytestmark = pytest.mark.e2e


def test_attached_run_shows_output_and_passes_the_exit_code_through(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl("run", "echo to-out; echo to-err >&2; exit 3", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["to-out"]
    assert "to-err" in done.stderr.splitlines()
    assert re.search(r"job job-[0-9a-f]{8} \(.*\) Failed: exit code 3", done.stderr)

    ok = flmctl("run", "--", "bash", "-c", "echo argv-form $0", cwd=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, "argv-form bash\n")


def test_timeout_exits_124(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl("run", "--timeout", "1s", "--", "sleep", "30", cwd=tmp_path)
    assert done.returncode == 124, done.stderr
    assert "Timeout: exit code 124" in done.stderr


def test_flow_and_skypilot_yaml_jobs(flmctl: Flmctl, tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        "name: flow-job\ncommand: echo flow $GREETING rank $FLOW_NODE_RANK\nenv:\n  GREETING: hi\n"
        "max_price_per_hour: 20.0\n"
    )
    flow = flmctl("run", "flow.yaml", cwd=tmp_path)
    assert flow.returncode == 0, flow.stderr
    assert flow.stdout == "flow hi rank 0\n"
    assert "max_price_per_hour: ignored" in flow.stderr  # cloud-only keys warn

    (tmp_path / "sky.yaml").write_text(
        "name: sky-job\nsetup: echo set-up > setup.txt\nrun: |\n  cat setup.txt\n  echo sky $MODEL of $SKYPILOT_NUM_NODES\n"
        "envs:\n  MODEL: llama\nresources:\n  cpus: 1\n"
    )
    sky = flmctl("run", "sky.yaml", cwd=tmp_path)
    assert sky.returncode == 0, sky.stderr
    assert sky.stdout == "set-up\nsky llama of 1\n"


def test_sbatch_array_tasks_each_see_their_index(flmctl: Flmctl, tmp_path: Path) -> None:
    (tmp_path / "array.sbatch").write_text(
        "#!/bin/bash\n#SBATCH --job-name=arr\n#SBATCH --array=1-3\n"
        'echo "index $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"\n'
        'echo "$SLURM_ARRAY_TASK_ID" > "seen-$SLURM_ARRAY_TASK_ID"\n'
    )
    done = flmctl("run", "--no-upload", "array.sbatch", cwd=tmp_path)  # files land in tmp_path
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["[0] index 1 of 3", "[1] index 2 of 3", "[2] index 3 of 3"]
    assert sorted(p.read_text() for p in tmp_path.glob("seen-*")) == ["1\n", "2\n", "3\n"]


def test_instances_get_ranks_and_world_size(flmctl: Flmctl, tmp_path: Path) -> None:
    script = "echo rank=$FLAME_NODE_RANK of=$FLAME_NUM_NODES world=$WORLD_SIZE master=$MASTER_PORT"
    done = flmctl("run", "--instances", "2", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines())
    assert [line.split(" master=")[0] for line in lines] == [
        "[0] rank=0 of=2 world=2",
        "[1] rank=1 of=2 world=2",
    ]
    ports = {line.split(" master=")[1] for line in lines}
    assert len(ports) == 1 and ports.pop().isdigit()  # both ranks agree on the rendezvous port


def test_a_gpu_job_sees_exactly_its_gpu(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl("run", "--gpus", "1", "echo gpus=$CUDA_VISIBLE_DEVICES", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"gpus=[01]\n", done.stdout), done.stdout
    two = flmctl("run", "--gpus", "2", "echo gpus=$CUDA_VISIBLE_DEVICES", cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    assert sorted(two.stdout.strip().removeprefix("gpus=").split(",")) == ["0", "1"]


def test_dry_run_prints_the_plan_and_submits_nothing(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl("run", "--dry-run", "--gpus", "1", "--name", "plan-only", "echo hi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "job 'plan-only'" in done.stdout and "1 GPU" in done.stdout
    listed = flmctl("ps", "-a", "--name", "plan-only", "-o", "json")
    assert listed.stdout == ""


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (["run", "bad.yaml"], {"bad.yaml": "command: [unclosed\n"}, "bad.yaml"),
        (["run", "--bogus", "echo x"], {}, "unrecognized arguments: --bogus"),
        (["run", "--mem", "lots", "echo x"], {}, "--mem"),
        (["status", "job-00000000"], {}, "no job with id, id prefix or name 'job-00000000'"),
        (["logs", "no-such-job"], {}, "no job with id, id prefix or name 'no-such-job'"),
        (["cancel", "no-such-job"], {}, "no job with id, id prefix or name 'no-such-job'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    flmctl: Flmctl, tmp_path: Path, args: list[str], files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = flmctl(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in done.stderr
