"""Expansion into tasks, the environment each kind of job gets, the flame.job/v1 task input."""

from __future__ import annotations

import json

import pytest

from flamepy.apps.flmexec import parse_request
from flamepy.jobs import (
    JOB_ID_PLACEHOLDER,
    KIND,
    MASTER_ADDR_PLACEHOLDER,
    ArraySpec,
    GpuRequest,
    JobSpec,
    JobSpecError,
    SlurmLayout,
    TaskLaunch,
    Volume,
    expand,
    expand_pattern,
    is_job_input,
)
from flamepy.jobs.jobenv import BASE_MASTER_PORT, master_port


def _spec(**kw: object) -> JobSpec:
    fields: dict[str, object] = {"command": "python train.py", "workdir": "/src", "name": "train", **kw}
    return JobSpec(**fields)  # type: ignore[arg-type]


def test_single_task_job() -> None:
    [task] = expand(_spec(), "j1")
    assert (task.job_id, task.job_name, task.index, task.rank, task.ranks, task.array_index) == (
        "j1",
        "train",
        0,
        0,
        1,
        None,
    )
    assert task.shell == "python train.py" and task.argv is None
    assert task.process_argv == ["bash", "-c", "python train.py"]
    assert task.cwd == "." and task.upload
    env = task.env
    assert env["FLAME_JOB_ID"] == "j1" and env["FLAME_JOB_NAME"] == "train"
    assert env["FLAME_NODE_RANK"] == "0" and env["FLAME_NUM_NODES"] == "1"
    assert env["MASTER_ADDR"] == "127.0.0.1" and env["WORLD_SIZE"] == "1" and env["NODE_RANK"] == "0"
    assert "PET_NNODES" not in env and "SLURM_JOB_ID" not in env and "FLOW_NODE_RANK" not in env
    assert not task.needs_fill


def test_no_upload_runs_in_the_workdir() -> None:
    [task] = expand(_spec(upload=False), "j1")
    assert task.cwd == "/src" and not task.upload


def test_ranks_get_torchrun_variables_and_a_placeholder_address() -> None:
    tasks = expand(_spec(instances=3), "job-7")
    assert [t.rank for t in tasks] == [0, 1, 2]
    assert [t.index for t in tasks] == [0, 1, 2]
    port = str(master_port(_spec(), "job-7"))
    for t in tasks:
        assert (
            t.env["FLAME_NODE_RANK"]
            == t.env["NODE_RANK"]
            == t.env["RANK"]
            == t.env["PET_NODE_RANK"]
            == str(t.rank)
        )
        assert t.env["FLAME_NUM_NODES"] == t.env["WORLD_SIZE"] == t.env["PET_NNODES"] == "3"
        assert t.env["MASTER_ADDR"] == t.env["PET_MASTER_ADDR"] == MASTER_ADDR_PLACEHOLDER
        assert t.env["MASTER_PORT"] == t.env["PET_MASTER_PORT"] == port
        assert t.needs_fill
    filled = tasks[1].fill("10.1.2.3")
    assert filled.env["MASTER_ADDR"] == "10.1.2.3" and filled.env["PET_MASTER_ADDR"] == "10.1.2.3"
    assert not filled.needs_fill and tasks[1].needs_fill  # fill returns a copy


def test_master_port_is_stable_per_job_and_in_range() -> None:
    spec = _spec()
    ports = {master_port(spec, f"job-{i}") for i in range(200)}
    assert all(BASE_MASTER_PORT <= p < BASE_MASTER_PORT + 1000 for p in ports)
    assert len(ports) > 100
    assert master_port(spec, "abc") == master_port(spec, "abc")
    assert master_port(_spec(master_port=1234), "abc") == 1234
    assert master_port(spec, JOB_ID_PLACEHOLDER) == BASE_MASTER_PORT


def test_user_env_wins_over_generated_which_wins_over_inherited() -> None:
    spec = _spec(
        env={"MASTER_PORT": "4000", "A": "user"}, inherited_env={"A": "caller", "B": "caller", "RANK": "9"}
    )
    [task] = expand(spec, "j")
    assert task.env["MASTER_PORT"] == "4000" and task.env["A"] == "user"
    assert task.env["B"] == "caller" and task.env["RANK"] == "0"


def test_argv_substitutes_job_variables_only() -> None:
    spec = _spec(
        command=(
            "torchrun",
            "--node_rank=$FLAME_NODE_RANK",
            "--master_addr=${MASTER_ADDR}",
            "$HOME",
            "--x=$NOPE",
            "${A}b",
        ),
        instances=2,
        env={"A": "a"},
    )
    tasks = expand(spec, "j")
    assert tasks[1].argv == (
        "torchrun",
        "--node_rank=1",
        f"--master_addr={MASTER_ADDR_PLACEHOLDER}",
        "$HOME",
        "--x=$NOPE",
        "ab",
    )
    assert tasks[1].fill("h0").process_argv[2] == "--master_addr=h0"
    assert tasks[1].process_argv[0] == "torchrun"


def test_flow_and_skypilot_dialects_get_their_variables() -> None:
    flow = expand(_spec(dialect="flow", instances=2), "j")
    assert flow[1].env["FLOW_NODE_RANK"] == "1" and flow[1].env["FLOW_NUM_NODES"] == "2"
    assert flow[1].env["FLOW_MAIN_IP"] == MASTER_ADDR_PLACEHOLDER
    assert flow[1].fill("h").env["FLOW_MAIN_IP"] == "h"
    sky = expand(_spec(dialect="skypilot", instances=2, gpus=GpuRequest(8, "h100")), "j")
    assert sky[0].env["SKYPILOT_NODE_RANK"] == "0" and sky[1].env["SKYPILOT_NUM_NODES"] == "2"
    assert sky[0].env["SKYPILOT_NUM_GPUS_PER_NODE"] == "8" and sky[0].env["SKYPILOT_TASK_ID"] == "j"
    assert "FLOW_NODE_RANK" not in sky[0].env


def test_array_tasks_get_slurm_array_variables() -> None:
    spec = _spec(array=ArraySpec((1, 3, 5), 2), cpus=4)
    tasks = expand(spec, "77")
    assert [t.array_index for t in tasks] == [1, 3, 5]
    env = tasks[1].env
    assert env["SLURM_ARRAY_TASK_ID"] == "3" and env["FLAME_ARRAY_INDEX"] == "3"
    assert env["SLURM_ARRAY_JOB_ID"] == "77" and env["SLURM_JOB_ID"] == "77_3" == env["SLURM_JOBID"]
    assert (env["SLURM_ARRAY_TASK_COUNT"], env["SLURM_ARRAY_TASK_MIN"], env["SLURM_ARRAY_TASK_MAX"]) == (
        "3",
        "1",
        "5",
    )
    assert env["SLURM_ARRAY_TASK_STEP"] == "2"
    assert (
        env["SLURM_JOB_NAME"] == "train" and env["SLURM_NTASKS"] == "1" and env["SLURM_CPUS_PER_TASK"] == "4"
    )
    assert env["FLAME_NUM_TASKS"] == "3"


def test_uneven_array_has_no_step() -> None:
    env = expand(_spec(array=ArraySpec((1, 2, 7))), "j")[0].env
    assert "SLURM_ARRAY_TASK_STEP" not in env
    assert expand(_spec(array=ArraySpec((4,))), "j")[0].env["SLURM_ARRAY_TASK_STEP"] == "1"


def test_array_times_ranks() -> None:
    tasks = expand(_spec(array=ArraySpec((0, 1)), instances=2), "j")
    assert [(t.array_index, t.rank, t.index) for t in tasks] == [(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)]


def test_sbatch_layout_variables() -> None:
    layout = SlurmLayout(
        ntasks=8, ntasks_per_node=4, cpus_per_task=2, mem_per_cpu=1024**3, total_gpus=4, submit_dir="/home/u"
    )
    spec = _spec(dialect="sbatch", instances=2, cpus=8, memory=8 * 1024**3, gpus=GpuRequest(2), slurm=layout)
    tasks = expand(spec, "42")
    env = tasks[1].env
    assert env["SLURM_JOB_ID"] == "42" and env["SLURM_NTASKS"] == "8" and env["SLURM_NNODES"] == "2"
    assert env["SLURM_NODEID"] == "1" and env["SLURM_PROCID"] == "4" and env["SLURM_NTASKS_PER_NODE"] == "4"
    assert env["SLURM_CPUS_PER_TASK"] == "2" and env["SLURM_CPUS_ON_NODE"] == "8"
    assert env["SLURM_MEM_PER_CPU"] == "1024" and "SLURM_MEM_PER_NODE" not in env
    assert env["SLURM_GPUS_ON_NODE"] == "2" and env["SLURM_GPUS"] == "4"
    assert env["SLURM_SUBMIT_DIR"] == "/home/u" and "SLURM_ARRAY_TASK_ID" not in env


def test_sbatch_defaults_without_layout() -> None:
    env = expand(_spec(dialect="sbatch", memory=2 * 1024**3, cpus=3), "9")[0].env
    assert env["SLURM_NTASKS"] == "1" and env["SLURM_CPUS_PER_TASK"] == "3"
    assert env["SLURM_MEM_PER_NODE"] == "2048" and env["SLURM_SUBMIT_DIR"] == "/src"


def test_output_patterns_are_expanded_per_task() -> None:
    spec = _spec(array=ArraySpec((2, 3)), stdout="logs/%x-%A_%a.out", stderr="%j.err")
    tasks = expand(spec, "100")
    assert tasks[0].stdout == "logs/train-100_2.out" and tasks[1].stderr == "100_3.err"
    [plain] = expand(_spec(stdout="slurm-%j.out"), "5")
    assert plain.stdout == "slurm-5.out" and plain.stderr is None


@pytest.mark.parametrize(
    ("pattern", "out"),
    [
        ("slurm-%j.out", "slurm-12.out"),
        ("%A_%a", "10_3"),
        ("%x.log", "train.log"),
        ("%%j", "%j"),
        ("%4a", "0003"),
        ("%n-%t", "1-1"),
        ("%u", "me"),
        ("%N.out", "%N.out"),
        ("plain", "plain"),
    ],
)
def test_expand_pattern(pattern: str, out: str) -> None:
    assert expand_pattern(pattern, "12", "10", 3, "train", rank=1, user="me") == out


def test_expand_pattern_outside_an_array_uses_slurms_value() -> None:
    assert expand_pattern("%a", "1", "1", None, "x") == "4294967294"


def test_dry_run_ids_are_placeholders() -> None:
    [task] = expand(_spec(array=ArraySpec((1,))))
    assert task.job_id == JOB_ID_PLACEHOLDER
    assert task.env["SLURM_JOB_ID"] == f"{JOB_ID_PLACEHOLDER}_1"


def test_task_input_round_trip() -> None:
    spec = _spec(
        command=("python", "x.py"),
        instances=2,
        timeout=60.0,
        setup="pip install -e .",
        volumes=(Volume("/data", "/mnt", True),),
        gpus=GpuRequest(2, "a100"),
        memory=1024,
        stdout="o-%j",
    )
    for task in expand(spec, "j"):
        raw = task.to_task_input()
        doc = json.loads(raw)
        assert doc["kind"] == KIND == "flame.job/v1"
        assert doc["argv"] == ["python", "x.py"] and doc["shell"] is None
        assert doc["resources"] == {"cpus": 1, "memory": 1024, "gpus": 2, "gpu_type": "a100"}
        assert doc["volumes"] == [{"source": "/data", "target": "/mnt", "read_only": True}]
        assert doc["timeout_s"] == 60.0 and doc["setup"] == "pip install -e ." and doc["stdout"] == "o-j"
        assert TaskLaunch.from_task_input(raw) == task
        assert is_job_input(raw)


def test_task_input_is_not_a_sandbox_request() -> None:
    raw = expand(_spec(), "j")[0].to_task_input()
    assert "code" not in json.loads(raw) and "language" not in json.loads(raw)
    assert parse_request(raw) is None  # flmexec does not mistake it for Flame's {"language","code"} request
    sandbox = json.dumps({"language": "python", "code": "print(1)", "input": None}).encode()
    assert not is_job_input(sandbox)
    assert not is_job_input(b"echo hi") and not is_job_input(None) and not is_job_input(b"{nope")


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"not json", "expected JSON"),
        (b"\xff\xfe", "expected JSON"),
        (b"[1]", "expected kind"),
        (b'{"language": "python", "code": "x"}', "expected kind 'flame.job/v1', got None"),
        (b'{"kind": "flame.job/v2"}', "got 'flame.job/v2'"),
        (b'{"kind": "flame.job/v1"}', "missing field"),
    ],
)
def test_bad_task_inputs(raw: bytes, match: str) -> None:
    with pytest.raises(JobSpecError, match=match):
        TaskLaunch.from_task_input(raw)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"argv": "python"}, "argv: expected a list"),
        ({"argv": [1]}, "argv: expected a list of strings"),
        ({"argv": None}, "exactly one of"),
        ({"shell": "x"}, "exactly one of"),
        ({"env": {"A": 1}}, "env"),
        ({"rank": "0"}, "rank: expected an integer"),
        ({"job_id": 5}, "job_id: expected a string"),
        ({"unexpected": 1}, None),
    ],
)
def test_malformed_task_input_fields(change: dict[str, object], match: str | None) -> None:
    doc = json.loads(expand(_spec(command=("a",)), "j")[0].to_task_input())
    doc.update(change)
    raw = json.dumps(doc).encode()
    if match is None:  # unknown fields are ignored (forward compatible within v1)
        assert TaskLaunch.from_task_input(raw).argv == ("a",)
        return
    with pytest.raises(JobSpecError, match=match):
        TaskLaunch.from_task_input(raw)


def test_oversized_task_input_is_refused() -> None:
    spec = _spec(env={"BIG": "x" * (5 * 1024 * 1024)})
    with pytest.raises(JobSpecError, match="over the"):
        expand(spec, "j")[0].to_task_input()


def test_array_elements_get_distinct_master_ports() -> None:
    tasks = expand(_spec(instances=2, array=ArraySpec(tuple(range(20)))), "job-x")
    by_element = {t.array_index: t.env["MASTER_PORT"] for t in tasks}
    assert len(set(by_element.values())) > 15  # crc32-spread, rarely equal
    assert all(t.env["MASTER_PORT"] == by_element[t.array_index] for t in tasks)  # ranks of one element agree
