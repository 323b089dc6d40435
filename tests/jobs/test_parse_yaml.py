"""YAML job files: Flow layout, SkyPilot-style layout, warnings and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamepy.jobs import GpuRequest, JobSpec, JobSpecError, Volume, load_job
from flamepy.jobs.parse_yaml import load_yaml_text

G = 1024**3
CALLER = {"HF_TOKEN": "hf-123", "PATH": "/bin"}

FLOW_EXAMPLE = """\
# config.yaml
name: model-training
instance_type: 4xa100
command: python train.py --epochs 100
env:
  BATCH_SIZE: "256"
  LEARNING_RATE: "0.001"
volumes:
  - size_gb: 500
    mount_path: /data
    name: training-data
max_price_per_hour: 20.0
max_run_time_hours: 72.0
ssh_keys:
  - my-ssh-key
"""

SKY_EXAMPLE = """\
name: train-llm
workdir: .
setup: |
  pip install -r requirements.txt
run: |
  torchrun --nnodes=$SKYPILOT_NUM_NODES train.py
envs:
  MODEL: llama
  HF_TOKEN:
num_nodes: 2
resources:
  cpus: 8+
  memory: 32+
  accelerators: H100:8
  cloud: aws
  use_spot: true
  disk_size: 256
"""


def _load(
    tmp_path: Path, text: str, name: str = "job.yaml", environ: dict[str, str] | None = None
) -> JobSpec:
    (tmp_path / name).write_text(text)
    return load_job(name, environ=CALLER if environ is None else environ, cwd=str(tmp_path))


def _error(tmp_path: Path, text: str, name: str = "job.yaml") -> str:
    with pytest.raises(JobSpecError) as info:
        _load(tmp_path, text, name)
    return info.value.message


def test_flow_example_loads_unchanged(tmp_path: Path) -> None:
    spec = _load(tmp_path, FLOW_EXAMPLE)
    assert spec.dialect == "flow" and spec.source == "job.yaml" and spec.name == "model-training"
    assert spec.command == "python train.py --epochs 100"
    assert spec.gpus == GpuRequest(4, "a100")
    assert spec.env == {"BATCH_SIZE": "256", "LEARNING_RATE": "0.001"}
    assert spec.timeout == 72 * 3600 and spec.volumes == ()
    assert spec.workdir == str(tmp_path) and spec.upload
    text = "\n".join(spec.warnings)
    assert "job.yaml: max_price_per_hour: ignored: price caps" in text
    assert "job.yaml: ssh_keys: ignored" in text
    assert "job.yaml: volumes[0]: ignored: cloud volume 'training-data'" in text
    assert len(spec.warnings) == 3


@pytest.mark.parametrize(
    ("instance_type", "gpus"),
    [
        ("a100", GpuRequest(1, "a100")),
        ("1xh100", GpuRequest(1, "h100")),
        ("8xh100", GpuRequest(8, "h100")),
        ("4xA100", GpuRequest(4, "a100")),
    ],
)
def test_instance_types(tmp_path: Path, instance_type: str, gpus: GpuRequest) -> None:
    assert _load(tmp_path, f"command: x\ninstance_type: {instance_type}\n").gpus == gpus


def test_flow_list_command_numbers_and_instances(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        "command: [torchrun, --nproc_per_node=8, --node_rank=$FLOW_NODE_RANK, train.py]\n"
        "num_instances: 4\nenv: {N: 3, F: 0.5, B: true}\ngpu: a100:2\n",
    )
    assert spec.command == ("torchrun", "--nproc_per_node=8", "--node_rank=$FLOW_NODE_RANK", "train.py")
    assert spec.instances == 4 and spec.env == {"N": "3", "F": "0.5", "B": "true"}
    assert spec.gpus == GpuRequest(2, "a100") and spec.name == "job"


def test_flow_working_dir(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    spec = _load(tmp_path, "command: x\nupload_code: false\nworking_dir: work\n")
    assert not spec.upload and spec.workdir == str(tmp_path / "work")
    spec = _load(tmp_path, "command: x\nworking_dir: /workspace\n")
    assert spec.workdir == str(tmp_path) and "working_dir: ignored" in spec.warnings[0]
    spec = _load(tmp_path, "command: x\nupload_code: false\nworking_dir: /no/such/dir\n")
    assert spec.workdir == str(tmp_path) and "not a directory" in spec.warnings[0]


def test_volumes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    spec = _load(
        tmp_path,
        "command: x\nvolumes:\n"
        "  - host_path: data\n    mount_path: /data\n    read_only: true\n"
        "  - ./data:/mnt/d\n"
        "  - data:/ro:ro\n"
        "  - /no/such:/x\n"
        "  - s3://bucket/path:/s3\n"
        "  - {volume_id: vol_1, mount_path: /v}\n",
    )
    data = str(tmp_path / "data")
    assert spec.volumes == (Volume(data, "/data", True), Volume(data, "/mnt/d"), Volume(data, "/ro", True))
    text = "\n".join(spec.warnings)
    assert "volumes[3]: ignored: host path '/no/such' does not exist" in text
    assert "volumes[4]: ignored: 's3://bucket/path' is remote storage" in text
    assert "volumes[5]: ignored: cloud volume 'vol_1'" in text


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "data").mkdir()
    (tmp_path / "jobs" / "j.yaml").write_text("command: x\nvolumes: [data:/data]\n")
    spec = load_job("jobs/j.yaml", environ={}, cwd=str(tmp_path))
    assert spec.volumes == (Volume(str(tmp_path / "jobs" / "data"), "/data"),)
    assert spec.name == "j" and spec.source == "jobs/j.yaml"


def test_skypilot_example(tmp_path: Path) -> None:
    spec = _load(tmp_path, SKY_EXAMPLE, "sky.yml")
    assert spec.dialect == "skypilot" and spec.name == "train-llm"
    assert isinstance(spec.command, str) and spec.command.startswith("torchrun")
    assert spec.setup == "pip install -r requirements.txt\n"
    assert spec.env == {"MODEL": "llama", "HF_TOKEN": "hf-123"}
    assert spec.instances == 2 and spec.cpus == 8 and spec.memory == 32 * G
    assert spec.gpus == GpuRequest(8, "h100") and spec.workdir == str(tmp_path)
    text = "\n".join(spec.warnings)
    for key in ("resources.cloud", "resources.use_spot", "resources.disk_size"):
        assert f"sky.yml: {key}: ignored" in text


@pytest.mark.parametrize(
    ("accelerators", "gpus", "warns"),
    [
        ("H100:8", GpuRequest(8, "h100"), False),
        ("A100", GpuRequest(1, "a100"), False),
        ("{H100: 8}", GpuRequest(8, "h100"), False),
        ("{A100-80GB: 2}", GpuRequest(2, "a100-80gb"), False),
        ("[A100:8, H100:8]", GpuRequest(8, "a100"), True),
        ("{A100: 4, H100: 2}", GpuRequest(4, "a100"), True),
    ],
)
def test_accelerators(tmp_path: Path, accelerators: str, gpus: GpuRequest, warns: bool) -> None:
    spec = _load(tmp_path, f"run: x\nresources:\n  accelerators: {accelerators}\n")
    assert spec.gpus == gpus
    assert any("several candidates" in w for w in spec.warnings) == warns


@pytest.mark.parametrize(
    ("memory", "size"),
    [("32", 32 * G), ("32+", 32 * G), ("64g", 64 * G), ("512Mi", 512 * 1024**2), ("1.5", int(1.5 * G))],
)
def test_skypilot_memory(tmp_path: Path, memory: str, size: int) -> None:
    assert _load(tmp_path, f"run: x\nresources:\n  memory: '{memory}'\n").memory == size


def test_skypilot_envs_without_value_copy_or_warn(tmp_path: Path) -> None:
    spec = _load(tmp_path, "run: x\nenvs:\n  HF_TOKEN:\n  MISSING:\nsecrets:\n  S: v\n")
    assert spec.env == {"HF_TOKEN": "hf-123", "S": "v"}
    assert spec.warnings == (
        "job.yaml: envs.MISSING: no value here and not set in your environment; not passed",
    )


def test_skypilot_file_mounts_and_workdir(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "ckpt").mkdir()
    spec = _load(
        tmp_path,
        "run: x\nworkdir: code\nfile_mounts:\n  /ckpt: ./ckpt\n  /remote: s3://b/p\n  /m: {source: ckpt, mode: MOUNT}\n",
    )
    assert spec.workdir == str(tmp_path / "code")
    assert spec.volumes == (Volume(str(tmp_path / "ckpt"), "/ckpt"), Volume(str(tmp_path / "ckpt"), "/m"))
    assert "file_mounts./remote: ignored" in spec.warnings[0]


def test_flame_extras_in_both_layouts(tmp_path: Path) -> None:
    extras = "timeout: 2h\nretries: 2\nlabels: {team: ml, n: 1}\nspread: true\nexcludes: ['*.ckpt']\nupload: false\n"
    for head in ("command: x\n", "run: x\n"):
        spec = _load(tmp_path, head + extras)
        assert (spec.timeout, spec.retries, spec.spread, spec.upload) == (7200, 2, True, False)
        assert spec.labels == {"team": "ml", "n": "1"} and spec.excludes == ("*.ckpt",)
        assert spec.warnings == ()


def test_unknown_keys_warn_with_did_you_mean(tmp_path: Path) -> None:
    spec = _load(tmp_path, "command: x\nnum_instance: 2\ncomand: y\nzzz: 1\n")
    assert spec.warnings == (
        "job.yaml: num_instance: unknown key; ignored (did you mean 'num_instances'?)",
        "job.yaml: comand: unknown key; ignored (did you mean 'command'?)",
        "job.yaml: zzz: unknown key; ignored",
    )
    spec = _load(tmp_path, "run: x\nresources:\n  cpu: 4\n  acelerators: A100\n")
    assert "job.yaml: resources.cpu: unknown key; ignored (did you mean 'resources.cpus'?)" in spec.warnings
    assert any("resources.acelerators" in w and "accelerators" in w for w in spec.warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "run: x\nresources:\n  cpus: lots\n",
            "job.yaml: resources.cpus: expected a positive number, got 'lots'",
        ),
        (
            "command: 5\n",
            "job.yaml: command: expected a command string or a non-empty list of strings, got 5",
        ),
        (
            "command: []\n",
            "job.yaml: command: expected a command string or a non-empty list of strings, got []",
        ),
        ("command: x\nenv: [A]\n", "job.yaml: env: expected a mapping of NAME: VALUE, got ['A']"),
        ("command: x\nenv: {1A: x}\n", "job.yaml: env: expected an environment variable name"),
        ("command: x\nenv: {A: [1]}\n", "job.yaml: env.A: expected a string, got [1]"),
        (
            "command: x\nmax_run_time_hours: -1\n",
            "job.yaml: max_run_time_hours: expected a positive number of hours, got -1",
        ),
        (
            "command: x\nmax_run_time_hours: two\n",
            "job.yaml: max_run_time_hours: expected a positive number of hours",
        ),
        (
            "command: x\nnum_instances: 0\n",
            "job.yaml: num_instances: expected a positive whole number, got 0",
        ),
        ("command: x\ninstance_type: 4x\n", "job.yaml: instance_type: expected a GPU count"),
        ("command: x\nupload_code: 'no'\n", "job.yaml: upload_code: expected true or false, got 'no'"),
        ("command: x\nvolumes: /data\n", "job.yaml: volumes: expected a list of volumes"),
        ("command: x\nvolumes: ['a:b:c:d']\n", "job.yaml: volumes[0]: expected 'HOST_PATH:MOUNT_PATH[:ro]'"),
        ("command: x\nvolumes: ['/data']\n", "job.yaml: volumes[0]: expected 'HOST_PATH:MOUNT_PATH[:ro]'"),
        ("command: x\nvolumes: [':/data']\n", "job.yaml: volumes[0]: expected 'HOST_PATH:MOUNT_PATH[:ro]'"),
        ("command: x\nvolumes: [5]\n", "job.yaml: volumes[0]: expected 'HOST_PATH:MOUNT_PATH' or a mapping"),
        (
            "command: x\nvolumes: [{host_path: /tmp}]\n",
            "job.yaml: volumes[0]: expected string host_path and mount_path",
        ),
        ("command: x\ntimeout: soon\n", "job.yaml: timeout: expected a duration"),
        ("command: x\nretries: -2\n", "job.yaml: retries: expected a whole number >= 0"),
        ("command: x\nspread: 1\n", "job.yaml: spread: expected true or false"),
        ("command: x\nexcludes: '*.pt'\n", "job.yaml: excludes: expected a list of glob patterns"),
        ("command: x\nlabels: {'bad key': v}\n", "job.yaml: labels.bad key: expected a label key"),
        ("command: x\nname: ''\n", "job.yaml: name: expected a job name"),
        ("command: x\n1: y\n", "job.yaml: top level: expected string keys, got 1"),
        ("run: 5\n", "job.yaml: run: expected the commands to run (a string), got 5"),
        ("setup: x\n", "job.yaml: run: expected the commands to run"),
        ("run: x\nsetup: [a]\n", "job.yaml: setup: expected shell commands (a string)"),
        ("run: x\nworkdir: nowhere\n", "job.yaml: workdir: expected an existing local directory"),
        ("run: x\nnum_nodes: many\n", "job.yaml: num_nodes: expected a positive whole number, got 'many'"),
        ("run: x\nresources: 4\n", "job.yaml: resources: expected a mapping"),
        ("run: x\nresources: {memory: lots}\n", "job.yaml: resources.memory: expected a memory size"),
        (
            "run: x\nresources: {accelerators: 'H100:x'}\n",
            "job.yaml: resources.accelerators: expected a GPU count",
        ),
        (
            "run: x\nresources: {accelerators: []}\n",
            "job.yaml: resources.accelerators: expected an accelerator",
        ),
        ("run: x\nfile_mounts: {/a: 5}\n", "job.yaml: file_mounts./a: expected a host path"),
        ("run: x\nenvs: {A: {b: c}}\n", "job.yaml: envs.A: expected a string"),
    ],
)
def test_validation_errors_name_file_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    assert _error(tmp_path, text).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("command: [unclosed\n", "job.yaml: line 2, column 1: invalid YAML"),
        ("a: b: c\n", "job.yaml: line 1, column 5: invalid YAML"),
        ("command: x\n\tenv: 1\n", "job.yaml: line 2, column 1: invalid YAML"),
        ("", "job.yaml: expected a job description, got an empty file"),
        ("# only a comment\n", "job.yaml: expected a job description, got an empty file"),
        ("- a\n- b\n", "job.yaml: expected a mapping of keys at the top level"),
        ("just text\n", "job.yaml: expected a mapping of keys at the top level"),
        ("name: x\n", "job.yaml: expected a 'command' (Flow layout) or 'run' (SkyPilot layout) key"),
        (
            "name: x\ncmd: y\n",
            "job.yaml: expected a 'command' (Flow layout) or 'run' (SkyPilot layout) key (unknown keys: cmd)",
        ),
        (
            "command: x\nrun: y\n",
            "job.yaml: mixes Flow keys (command) and SkyPilot keys (run); use one layout",
        ),
        ("instance_type: a100\nresources: {cpus: 1}\nrun: x\n", "job.yaml: mixes Flow keys (instance_type)"),
    ],
)
def test_document_errors(tmp_path: Path, text: str, message: str) -> None:
    assert _error(tmp_path, text).startswith(message)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(JobSpecError, match="bin.yaml: cannot read the job file"):
        load_job("bin.yaml", environ={}, cwd=str(tmp_path))


def test_load_yaml_text_directly() -> None:
    spec = load_yaml_text("command: echo hi\n", "inline.yaml", base_dir="/", environ={}, cwd="/tmp")
    assert spec.name == "inline" and spec.workdir == "/tmp"
