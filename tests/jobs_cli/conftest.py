"""A real local cluster for the job workflow tests, and flmctl run as a subprocess against it.

The node says it has 4 CPUs and 2 (fake) GPUs, so jobs asking for GPUs get a real
``CUDA_VISIBLE_DEVICES`` from the executor without GPU hardware.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import flamepy
from flamepy.cache import reset_default_clients
from flamepy.cluster import LocalCluster

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Flmctl:
    """Runs the real ``flmctl`` (``python -m flamepy.cli.main``) in a subprocess against the cluster."""

    endpoint: str
    cache_endpoint: str = ""
    dev_state_dir: str = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env.update(FLAME_ENDPOINT=self.endpoint, PYTHONPATH=str(REPO), FLAME_CONFIG="/nonexistent/flame.yaml")
        if self.cache_endpoint:
            env["FLAME_CACHE_ENDPOINT"] = self.cache_endpoint
        if self.dev_state_dir:
            env["FLAME_DEV_STATE_DIR"] = self.dev_state_dir
        return env

    def __call__(
        self, *args: str, cwd: Path | None = None, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flamepy.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd,
            env=self.env(),
        )

    def popen(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "flamepy.cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=self.env(),
        )


@pytest.fixture(scope="session")
def job_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with (
        LocalCluster(
            tmp_path_factory.mktemp("jobs-cluster"),
            port=0,
            node_name="job-node",
            executors_env={"FLAME_NODE_CPUS": "4", "FLAME_FAKE_GPUS": "2", "FLAME_OVERCOMMIT": "1"},
        ) as cluster,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("FLAME_CACHE_ENDPOINT", cluster.cache_endpoint)  # jobs.run uploads through it
        try:
            yield cluster
        finally:
            reset_default_clients()


@pytest.fixture(scope="session")
def flmctl(job_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Flmctl:
    dev_state = tmp_path_factory.mktemp("dev-state")
    return Flmctl(job_cluster.endpoint, job_cluster.cache_endpoint, str(dev_state))


@pytest.fixture(scope="session")
def conn(job_cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(job_cluster.endpoint) as c:
        yield c
