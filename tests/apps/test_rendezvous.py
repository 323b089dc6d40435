"""MASTER_ADDR rendezvous of multi-rank jobs (flamepy.apps.rendezvous), with an in-memory store and
through a real job runner."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from flamepy.apps.joblog import read_records
from flamepy.apps.jobrun import JobRunner
from flamepy.apps.rendezvous import (
    MemoryStore,
    Rendezvous,
    fill_master_addr,
    rendezvous_key,
    wait_for,
)
from flamepy.jobs import JobSpec, TaskLaunch, expand
from tests.support import wait_until


def launches(tmp_path: Path, command: str = "echo $MASTER_ADDR", **spec: Any) -> list[TaskLaunch]:
    spec.setdefault("instances", 2)
    return expand(JobSpec(command=command, workdir=str(tmp_path), upload=False, **spec), job_id="j-9")


def test_rank0_publishes_its_node_address_and_rank1_uses_it(tmp_path: Path) -> None:
    store = MemoryStore()
    rank0, rank1 = launches(tmp_path)
    env0 = {"FLAME_NODE_ADDRESS": "127.0.0.2", "FLAME_TASK_ID": "1"}
    first = fill_master_addr(rank0, env0, store)
    assert first.problem is None and first.launch.env["MASTER_ADDR"] == "127.0.0.2"
    record = store.read(rendezvous_key("j-9", None))
    assert record is not None and record.addr == "127.0.0.2" and record.task_id == "1"
    assert record.port == int(rank0.env["MASTER_PORT"])
    second = fill_master_addr(rank1, {"FLAME_NODE_ADDRESS": "127.0.0.3"}, store)
    assert second.problem is None
    assert second.launch.env["MASTER_ADDR"] == "127.0.0.2" == second.launch.env["PET_MASTER_ADDR"]


def test_a_rerun_of_rank0_republishes_and_ranks_read_the_newest(tmp_path: Path) -> None:
    store = MemoryStore()
    rank0, rank1 = launches(tmp_path)
    fill_master_addr(rank0, {"FLAME_NODE_ADDRESS": "127.0.0.2"}, store)
    fill_master_addr(rank0, {"FLAME_NODE_ADDRESS": "127.0.0.4"}, store)  # rank 0 ran again elsewhere
    assert fill_master_addr(rank1, {}, store).launch.env["MASTER_ADDR"] == "127.0.0.4"


def test_rank1_waits_for_rank0_published_later(tmp_path: Path) -> None:
    store = MemoryStore()
    rank0, rank1 = launches(tmp_path)
    got: list[str] = []
    waiter = threading.Thread(
        target=lambda: got.append(fill_master_addr(rank1, {}, store).launch.env["MASTER_ADDR"])
    )
    waiter.start()
    fill_master_addr(rank0, {"FLAME_NODE_ADDRESS": "10.1.2.3"}, store)
    waiter.join(20)
    assert got == ["10.1.2.3"]


def test_rank1_gives_up_after_the_deadline_with_a_clear_reason(tmp_path: Path) -> None:
    _, rank1 = launches(tmp_path)
    filled = fill_master_addr(rank1, {"FLAME_RENDEZVOUS_TIMEOUT": "0.3"}, MemoryStore())
    assert filled.problem == "rank 0 of job j-9 did not publish its address within 0.3 s"
    assert filled.launch.needs_fill


def test_wait_for_is_bounded_by_its_clock() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 0.5
        return now[0]

    assert wait_for(MemoryStore(), "k", 2.0, clock) is None
    store = MemoryStore()
    store.publish("k", Rendezvous("h", 1, "t", 0))
    assert wait_for(store, "k", 0.0, clock) == Rendezvous("h", 1, "t", 0)


def test_array_elements_meet_separately(tmp_path: Path) -> None:
    assert rendezvous_key("j", None) != rendezvous_key("j", 0) != rendezvous_key("j", 1)


def test_single_rank_and_given_addresses_skip_the_rendezvous(tmp_path: Path) -> None:
    (only,) = launches(tmp_path, instances=1)
    assert fill_master_addr(only, {}, MemoryStore()).launch is only
    _, rank1 = launches(tmp_path)
    assert (
        fill_master_addr(rank1, {}, MemoryStore(), given="10.0.0.5").launch.env["MASTER_ADDR"] == "10.0.0.5"
    )


def test_without_a_cache_loopback_nodes_fall_back_with_a_warning(tmp_path: Path) -> None:
    _, rank1 = launches(tmp_path)
    filled = fill_master_addr(rank1, {"FLAME_NODE_ADDRESS": "127.0.0.1"})
    assert filled.launch.env["MASTER_ADDR"] == "127.0.0.1" and filled.problem is None
    assert filled.warnings and "no object cache" in filled.warnings[0]
    remote = fill_master_addr(rank1, {"FLAME_NODE_ADDRESS": "10.0.0.7"})
    assert remote.problem is not None and "cannot meet rank 0" in remote.problem


def test_runner_fails_a_rank_whose_rank0_never_published_as_setup_failed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    env["FLAME_RENDEZVOUS_TIMEOUT"] = "0.2"
    runner = JobRunner(
        logs_dir=tmp_path / "logs", base_dir=tmp_path, service_env=env, rendezvous=MemoryStore()
    )
    result = runner.run(launches(tmp_path)[1])
    assert (result.exit_code, result.reason) == (1, "SetupFailed")
    err = [r["l"] for r in read_records(Path(result.log)) if r["s"] == "err"]
    assert err == ["flame: rank 0 of job j-9 did not publish its address within 0.2 s"]


@pytest.mark.parametrize("rank", [0, 1])
def test_runner_runs_both_ranks_with_rank0s_address(tmp_path: Path, rank: int) -> None:
    store = MemoryStore()
    store.publish(rendezvous_key("j-9", None), Rendezvous("127.0.0.5", 1, "t", 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    env["FLAME_NODE_ADDRESS"] = "127.0.0.5" if rank == 0 else "127.0.0.6"
    runner = JobRunner(logs_dir=tmp_path / "logs", base_dir=tmp_path, service_env=env, rendezvous=store)
    result = runner.run(launches(tmp_path)[rank])
    out = [r["l"] for r in read_records(Path(result.log)) if r["s"] == "out"]
    assert result.ok and out == ["127.0.0.5"]


def test_a_cancel_ends_a_wait_for_rank0_and_the_wait_is_in_the_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    env["FLAME_RENDEZVOUS_TIMEOUT"] = "120"
    runner = JobRunner(
        logs_dir=tmp_path / "logs", base_dir=tmp_path, service_env=env, rendezvous=MemoryStore()
    )
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(runner.run(launches(tmp_path)[1])))
    worker.start()
    wait_until(lambda: runner.busy, timeout=20)
    assert runner.cancel() == 1
    worker.join(20)
    assert not worker.is_alive()
    [result] = results
    assert result.reason == "SetupFailed"
    texts = [r["l"] for r in read_records(Path(result.log))]
    assert "waiting up to 120 s for rank 0 of job j-9 to publish its address" in texts
    assert "flame: cancelled while waiting for rank 0 of job j-9" in texts


def test_the_loopback_fallback_is_noted_in_the_task_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    runner = JobRunner(logs_dir=tmp_path / "logs", base_dir=tmp_path, service_env=env)
    result = runner.run(launches(tmp_path)[1])
    assert result.ok
    notes = [r["l"] for r in read_records(Path(result.log)) if r.get("e") == "rendezvous"]
    assert notes and notes[0].startswith("warning: no object cache is configured: MASTER_ADDR is 127.0.0.1")
