"""#SBATCH scripts: directives, resources per rank, SLURM time/array/export forms, warnings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamepy.jobs import ArraySpec, GpuRequest, JobSpec, JobSpecError, SlurmLayout, expand
from flamepy.jobs.parse_sbatch import (
    directive_lines,
    has_sbatch_directives,
    inherit,
    interpreter_of,
    load_sbatch_text,
)
from flamepy.jobs.sbatch_options import read_options

G = 1024**3
M = 1024**2
CALLER = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "PWD": "/x",
    "SHLVL": "2",
    "SLURM_JOB_ID": "old",
    "CONDA_PREFIX": "/c",
}


def _load(
    body: str, cwd: str = "/submit", environ: dict[str, str] | None = None, name: str = "job.sbatch"
) -> JobSpec:
    return load_sbatch_text(
        "#!/bin/bash\n" + body, name, environ=CALLER if environ is None else environ, cwd=cwd
    )


def _error(body: str) -> str:
    with pytest.raises(JobSpecError) as info:
        _load(body)
    return info.value.message


def test_a_typical_script(tmp_path: Path) -> None:
    script = """\
#SBATCH --job-name=train
#SBATCH -N 2
#SBATCH --ntasks-per-node=4
#SBATCH -c 8
#SBATCH --mem=64G
#SBATCH --gres=gpu:a100:4
#SBATCH -t 02:00:00
#SBATCH -o logs/%x-%j.out
#SBATCH -e logs/%x-%j.err
#SBATCH -p gpu
#SBATCH -A proj --qos=high
#SBATCH --mail-type=END --mail-user me@example.com

srun python train.py
"""
    spec = _load(script, cwd=str(tmp_path))
    assert spec.dialect == "sbatch" and spec.name == "train" and spec.source == "job.sbatch"
    assert spec.command == "#!/bin/bash\n" + script and spec.interpreter == ("/bin/bash",)
    assert (spec.instances, spec.cpus, spec.memory, spec.gpus) == (2, 32, 64 * G, GpuRequest(4, "a100"))
    assert spec.timeout == 7200 and spec.stdout == "logs/%x-%j.out" and spec.stderr == "logs/%x-%j.err"
    assert spec.workdir == str(tmp_path) and spec.array is None
    assert spec.slurm == SlurmLayout(
        ntasks=None, ntasks_per_node=4, cpus_per_task=8, submit_dir=str(tmp_path)
    )
    text = "\n".join(spec.warnings)
    for opt in ("partition", "account", "qos", "mail-type", "mail-user"):
        assert f"--{opt} ignored: a SLURM queue option" in text
    assert spec.warnings[0].startswith("job.sbatch:11: --partition ignored")
    env = expand(spec, "5")[1].env
    assert env["SLURM_NTASKS"] == "8" and env["SLURM_PROCID"] == "4" and env["SLURM_CPUS_PER_TASK"] == "8"


def test_directives_stop_at_the_first_command() -> None:
    text = "#!/bin/bash\n\n# comment\n#SBATCH -J a\n  #SBATCH -c 2\necho hi\n#SBATCH -J b\n"
    assert directive_lines(text) == [(4, "-J a"), (5, "-c 2")]
    spec = load_sbatch_text(text, "s.sh", environ={}, cwd="/")
    assert spec.name == "a" and spec.cpus == 2


@pytest.mark.parametrize("line", ["# SBATCH -J x", "##SBATCH -J x", "#SBATCHX -J x", "#sbatch -J x"])
def test_lookalikes_are_comments(line: str) -> None:
    assert not has_sbatch_directives(f"#!/bin/sh\n{line}\necho\n")


def test_bare_sbatch_line_is_harmless() -> None:
    assert _load("#SBATCH\necho\n").name == "job.sbatch"


@pytest.mark.parametrize(
    ("first", "interp"),
    [
        ("#!/bin/bash", ("/bin/bash",)),
        ("#!/usr/bin/env bash", ("/usr/bin/env", "bash")),
        ("#!/bin/bash -l", ("/bin/bash", "-l")),
        ("#!/usr/bin/env python3", ("/usr/bin/env", "python3")),
        ("echo", ("bash",)),
        ("#!", ("bash",)),
    ],
)
def test_interpreter(first: str, interp: tuple[str, ...]) -> None:
    assert interpreter_of(first + "\necho\n") == interp


def test_defaults_and_name_from_file() -> None:
    spec = _load("echo\n", name="dir/run.slurm")
    assert spec.name == "run.slurm" and spec.instances == 1 and spec.cpus == 1 and spec.memory == 0
    assert spec.gpus == GpuRequest() and spec.timeout is None and spec.warnings == ()


@pytest.mark.parametrize(
    ("directives", "want"),
    [
        ("--nodes=3", {"instances": 3}),
        ("-N3", {"instances": 3}),
        ("-N 3", {"instances": 3}),
        ("-n 8 -c 2", {"cpus": 16}),
        ("-N 2 -n 8 -c 2", {"instances": 2, "cpus": 8}),
        ("-N 2 -n 3", {"instances": 2, "cpus": 2}),
        ("--ntasks-per-node 4", {"cpus": 4}),
        ("--tasks-per-node=2 --cpus-per-task=3", {"cpus": 6}),
        ("--gres=gpu:2", {"gpus": GpuRequest(2)}),
        ("--gres=gpu", {"gpus": GpuRequest(1)}),
        ("--gres=gpu:v100:2(S:0-1)", {"gpus": GpuRequest(2, "v100")}),
        ("--gres=shard:1,gpu:a100:3", {"gpus": GpuRequest(3, "a100")}),
        ("-G 4", {"gpus": GpuRequest(4)}),
        ("-N 2 --gpus=a100:3", {"gpus": GpuRequest(2, "a100")}),
        ("--gpus-per-node=h100:8", {"gpus": GpuRequest(8, "h100")}),
        ("--ntasks-per-node=4 --gpus-per-task=1", {"gpus": GpuRequest(4)}),
        ("--gpus-per-node=2 --cpus-per-gpu=6", {"cpus": 12}),
        ("--mem=16G", {"memory": 16 * G}),
        ("--mem 4000", {"memory": 4000 * M}),
        ("--mem=1.5g", {"memory": int(1.5 * G)}),
        ("-c 4 --mem-per-cpu=2G", {"memory": 8 * G}),
        ("--gpus-per-node=2 --mem-per-gpu=10G", {"memory": 20 * G}),
        ("-t 30", {"timeout": 1800}),
        ("--time=1-00:00:00", {"timeout": 86400}),
        ("--time UNLIMITED", {"timeout": None}),
        ("--spread-job", {"spread": True}),
        ("-J first\n#SBATCH -J second", {"name": "second"}),
        ("-t 10 # ten minutes", {"timeout": 600}),
        ("--job-name 'my job'", {"name": "my job"}),
    ],
)
def test_resource_options(directives: str, want: dict[str, object]) -> None:
    spec = _load(f"#SBATCH {directives}\necho\n")
    for key, value in want.items():
        assert getattr(spec, key) == value, key


def test_gpu_totals_and_mem_per_cpu_reach_slurm_variables() -> None:
    spec = _load("#SBATCH -N 2 -G 3 -c 2 --mem-per-cpu=1G\necho\n")
    assert spec.slurm is not None and spec.slurm.total_gpus == 3 and spec.slurm.mem_per_cpu == G
    env = expand(spec, "1")[0].env
    assert (
        env["SLURM_GPUS"] == "3" and env["SLURM_GPUS_ON_NODE"] == "2" and env["SLURM_MEM_PER_CPU"] == "1024"
    )


def test_node_range_uses_the_minimum() -> None:
    spec = _load("#SBATCH -N 2-4\necho\n")
    assert spec.instances == 2 and spec.warnings == (
        "job.sbatch:2: --nodes: a node range; running on 2 (the minimum)",
    )


def test_mem_zero_warns() -> None:
    spec = _load("#SBATCH --mem=0\necho\n")
    assert spec.memory == 0 and "whole node's memory" in spec.warnings[0]


@pytest.mark.parametrize(
    ("spec_text", "indices", "cap"),
    [
        ("1-10", tuple(range(1, 11)), None),
        ("1,3,5", (1, 3, 5), None),
        ("1-10:2", (1, 3, 5, 7, 9), None),
        ("0-15%4", tuple(range(16)), 4),
        ("1-3,8,10-14:2%2", (1, 2, 3, 8, 10, 12, 14), 2),
    ],
)
def test_arrays(spec_text: str, indices: tuple[int, ...], cap: int | None) -> None:
    for form in (f"--array={spec_text}", f"-a {spec_text}", f"--array {spec_text}", f"-a{spec_text}"):
        assert _load(f"#SBATCH {form}\necho\n").array == ArraySpec(indices, cap)


def test_array_job_tasks_each_see_their_index() -> None:
    spec = _load("#SBATCH --array=2-4 -o out-%A_%a.txt\necho $SLURM_ARRAY_TASK_ID\n")
    tasks = expand(spec, "99")
    assert [t.env["SLURM_ARRAY_TASK_ID"] for t in tasks] == ["2", "3", "4"]
    assert [t.stdout for t in tasks] == ["out-99_2.txt", "out-99_3.txt", "out-99_4.txt"]


def test_chdir(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    spec = _load("#SBATCH -D run\necho\n", cwd=str(tmp_path))
    assert spec.workdir == str(tmp_path / "run")
    assert spec.slurm is not None and spec.slurm.submit_dir == str(tmp_path)
    assert _load(f"#SBATCH --chdir={tmp_path}\necho\n", cwd="/").workdir == str(tmp_path)


def test_export_default_all_copies_the_callers_environment() -> None:
    spec = _load("echo\n")
    assert spec.inherited_env == {"PATH": "/usr/bin", "HOME": "/home/u", "CONDA_PREFIX": "/c"}
    assert spec.env == {}
    env = expand(spec, "7")[0].env
    assert env["PATH"] == "/usr/bin" and env["SLURM_JOB_ID"] == "7" and "PWD" not in env


@pytest.mark.parametrize(
    ("export", "inherited", "explicit"),
    [
        ("NONE", {}, {}),
        ("ALL", {"PATH": "/usr/bin", "HOME": "/home/u", "CONDA_PREFIX": "/c"}, {}),
        ("ALL,FOO=bar", {"PATH": "/usr/bin", "HOME": "/home/u", "CONDA_PREFIX": "/c"}, {"FOO": "bar"}),
        ("HOME,FOO=bar", {}, {"HOME": "/home/u", "FOO": "bar"}),
        ("NONE,FOO=1", {}, {"FOO": "1"}),
    ],
)
def test_export_forms(export: str, inherited: dict[str, str], explicit: dict[str, str]) -> None:
    spec = _load(f"#SBATCH --export={export}\necho\n")
    assert spec.inherited_env == inherited and spec.env == explicit


def test_export_missing_name_warns() -> None:
    spec = _load("#SBATCH --export=NOT_THERE\necho\n")
    assert spec.env == {} and "NOT_THERE: not set in your environment" in spec.warnings[0]


def test_inherit_drops_host_only_and_odd_names() -> None:
    env = {
        "PATH": "/b",
        "PWD": "/x",
        "SLURM_X": "1",
        "FLAME_Y": "2",
        "BASH_FUNC_f%%": "() {}",
        "_": "/bin/x",
        "OK_1": "v",
    }
    assert inherit(env) == {"PATH": "/b", "OK_1": "v"}


@pytest.mark.parametrize(
    ("directive", "needle"),
    [
        ("-p gpu", "--partition ignored: a SLURM queue option"),
        ("--partition=gpu", "--partition ignored"),
        ("-A acct", "--account ignored"),
        ("--qos=normal", "--qos ignored"),
        ("--mail-type=ALL", "--mail-type ignored"),
        ("--mail-user=a@b", "--mail-user ignored"),
        ("--reservation=r1", "--reservation ignored"),
        ("--exclusive", "--exclusive ignored"),
        ("--exclusive=user", "--exclusive ignored"),
        ("--constraint=a100", "--constraint ignored: a SLURM placement option"),
        ("-w node1", "--nodelist ignored"),
        ("--requeue", "--requeue ignored"),
        ("--signal=USR1@60", "--signal ignored: not supported"),
        ("--nodess=2", "unknown #SBATCH option --nodess; ignored (did you mean --nodes?)"),
        ("--frobnicate", "unknown #SBATCH option --frobnicate; ignored"),
        ("-Z 3", "unknown #SBATCH option -Z; ignored"),
    ],
)
def test_ignored_options_warn(directive: str, needle: str) -> None:
    spec = _load(f"#SBATCH {directive}\n#SBATCH -c 3\necho\n")
    assert any(needle in w for w in spec.warnings), spec.warnings
    assert spec.cpus == 3  # the next option is still read


def test_unknown_option_value_is_skipped() -> None:
    spec = _load("#SBATCH --frobnicate 7 -c 2\necho\n")
    assert spec.cpus == 2 and len(spec.warnings) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("#SBATCH --time\n", "job.sbatch:2: --time: expected a value, got nothing"),
        ("#SBATCH -t 1h\n", "job.sbatch:2: --time: expected a SLURM time"),
        ("#SBATCH -N zero\n", "job.sbatch:2: --nodes: expected a positive whole number, got 'zero'"),
        ("#SBATCH -N 0\n", "job.sbatch:2: --nodes: expected a positive whole number"),
        ("#SBATCH -c x\n", "job.sbatch:2: --cpus-per-task: expected a positive whole number"),
        ("#SBATCH -n -1\n", "job.sbatch:2: --ntasks: expected a positive whole number"),
        ("#SBATCH --mem=lots\n", "job.sbatch:2: --mem: expected a memory size"),
        (
            "#SBATCH --mem=1G --mem-per-cpu=1G\n",
            "job.sbatch:2: --mem and --mem-per-cpu are mutually exclusive",
        ),
        ("#SBATCH --gres=shard:2\n", "job.sbatch:2: --gres: expected gpu[:TYPE]:N"),
        ("#SBATCH --gres=gpu:a100:x\n", "job.sbatch:2: --gres: expected a GPU count"),
        ("#SBATCH --array=10-1\n", "job.sbatch:2: --array: expected an array spec"),
        ("#SBATCH --array=1-10%0\n", "job.sbatch:2: --array: expected a concurrency cap"),
        ("#SBATCH -a x\n", "job.sbatch:2: --array: expected an array spec"),
        ("#SBATCH -D /no/such/dir\n", "job.sbatch:2: --chdir: expected an existing directory"),
        ("#SBATCH --export=1BAD=x\n", "job.sbatch:2: --export: expected an environment variable name"),
        ("#SBATCH --export=\n", "job.sbatch:2: --export: expected ALL, NONE or NAME[=VALUE]"),
        ("#SBATCH -o ''\n", "job.sbatch:2: --output: expected a file name pattern"),
        ("#SBATCH train\n", "job.sbatch:2: expected an option such as --time=1:00:00, got 'train'"),
        ("#SBATCH -J 'unclosed\n", "job.sbatch:2: cannot split the #SBATCH line"),
        ("#SBATCH -J ''\n", "job.sbatch:2: --job-name: expected a job name"),
    ],
)
def test_errors_name_script_line_and_option(body: str, message: str) -> None:
    assert _error(body + "echo\n").startswith(message)


def test_read_options_forms() -> None:
    warnings: list[str] = []
    got = read_options(
        ["--time=10", "--mem", "4G", "-N2", "-c", "3", "-J=x", "--spread-job", "--exclusive"],
        "w",
        warnings.append,
    )
    assert got == [
        ("time", "10"),
        ("mem", "4G"),
        ("nodes", "2"),
        ("cpus-per-task", "3"),
        ("job-name", "x"),
        ("spread-job", None),
        ("exclusive", None),
    ]
    assert warnings == []
