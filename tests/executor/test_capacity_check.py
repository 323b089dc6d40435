"""The executor manager does not advertise more than its machine has, unless told to overcommit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from executor import resources
from flamepy.errors import InvalidConfigError
from flamepy.types import ResourceRequirement

ROOT = Path(__file__).resolve().parents[2]
HOST = ResourceRequirement(cpu=4, memory=8 << 30, gpu=1)


def test_capacity_within_the_machine_is_fine() -> None:
    resources.check_capacity(ResourceRequirement(4, 8 << 30, 1), HOST, overcommit=False)


@pytest.mark.parametrize(
    ("advertised", "named"),
    [
        (ResourceRequirement(5, 1 << 30, 0), "FLAME_NODE_CPUS"),
        (ResourceRequirement(1, 9 << 30, 0), "FLAME_NODE_MEMORY"),
        (ResourceRequirement(1, 1 << 30, 2), "FLAME_FAKE_GPUS"),
    ],
)
def test_more_than_the_machine_is_a_start_error(advertised: ResourceRequirement, named: str) -> None:
    with pytest.raises(InvalidConfigError, match=f"{named}.*--overcommit"):
        resources.check_capacity(advertised, HOST, overcommit=False)
    resources.check_capacity(advertised, HOST, overcommit=True)  # asked for: allowed


def test_overcommit_from_the_environment() -> None:
    assert resources.overcommit_from_env({"FLAME_OVERCOMMIT": "1"})
    assert not resources.overcommit_from_env({"FLAME_OVERCOMMIT": "0"})
    assert not resources.overcommit_from_env({})


def test_the_process_refuses_to_start_advertising_too_many_cpus(tmp_path: Path) -> None:
    too_many = (psutil.cpu_count(logical=True) or 1) + 1000
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLAME_NODE_CPUS": str(too_many)}
    env.pop("FLAME_OVERCOMMIT", None)
    args = [sys.executable, "-m", "executor", "--endpoint", "http://127.0.0.1:1", "--work-dir", str(tmp_path)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{too_many} CPUs (FLAME_NODE_CPUS)" in done.stderr and "--overcommit" in done.stderr


def test_a_fake_gpu_inventory_is_the_machines_gpus() -> None:
    host = resources.host_capacity({"FLAME_FAKE_GPUS": "2"})
    assert host.gpu == 2
    resources.check_capacity(resources.detect_capacity({"FLAME_FAKE_GPUS": "2", "FLAME_NODE_CPUS": "1"}), host, False)
