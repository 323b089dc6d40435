"""The MASTER_ADDR rendezvous through a real object cache server."""

from __future__ import annotations

from pathlib import Path

from cache_testkit import CacheServerThread

from flamepy.apps.rendezvous import CacheStore, fill_master_addr, rendezvous_key
from flamepy.jobs import JobSpec, expand


def test_rank0_publishes_through_the_cache_and_rank1_reads_it(
    server: CacheServerThread, tmp_path: Path
) -> None:
    rank0, rank1 = expand(
        JobSpec(command="true", workdir=str(tmp_path), upload=False, instances=2), job_id="job-1"
    )
    store = CacheStore(server.endpoint)
    try:
        assert store.read(rendezvous_key("job-1", None)) is None
        env0 = {"FLAME_NODE_ADDRESS": "127.0.0.2", "FLAME_CACHE_ENDPOINT": server.endpoint}
        assert fill_master_addr(rank0, env0).launch.env["MASTER_ADDR"] == "127.0.0.2"
        env1 = {"FLAME_NODE_ADDRESS": "127.0.0.3", "FLAME_CACHE_ENDPOINT": server.endpoint}
        assert fill_master_addr(rank1, env1).launch.env["MASTER_ADDR"] == "127.0.0.2"
        fill_master_addr(rank0, {**env0, "FLAME_NODE_ADDRESS": "127.0.0.4"})  # a re-run elsewhere
        record = store.read(rendezvous_key("job-1", None))
        assert record is not None and record.addr == "127.0.0.4"
    finally:
        store.close()
