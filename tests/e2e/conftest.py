"""A real local cluster (session manager + executor manager subprocesses) for end-to-end tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def app_attrs(script: Path, *args: str) -> flamepy.ApplicationAttributes:
    return flamepy.ApplicationAttributes(
        command=sys.executable, arguments=[str(script), *args], working_directory=str(ROOT)
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("cluster"), port=0, executors_env={"FLAME_NODE_CPUS": "2"}
    ) as c:
        yield c


@pytest.fixture(scope="session")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(cluster.endpoint) as c:
        c.register_application("echo", app_attrs(ROOT / "examples" / "echo" / "service.py"))
        c.register_application("faulty", app_attrs(HERE / "faulty_service.py"))
        c.register_application("raw", app_attrs(ROOT / "tests" / "executor" / "raw_service.py", "echo"))
        yield c
