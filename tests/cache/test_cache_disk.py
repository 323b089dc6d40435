"""Disk storage: restarts keep everything, eviction loses nothing, crashed writes stay invisible."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cache_testkit import CacheServerThread

from flamepy.cache import CacheClient, ObjectRef
from flamepy.common.cache_types import Encoding
from object_cache.storage import CachedStorage, DiskStorage, MemoryStorage
from object_cache.store import ObjectStore


def concat(base: list[int], deltas: list[list[int]]) -> list[int]:
    return base + [x for d in deltas for x in d]


def fresh(ref: ObjectRef) -> ObjectRef:
    return ObjectRef(ref.endpoint, ref.key, 0)


def test_restart_with_disk_storage_keeps_objects_deltas_and_versions(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with CacheServerThread(store) as srv, CacheClient(srv.endpoint) as c:
        port = srv.port
        obj = c.put_object("app/ssn", {"nested": [1, 2, {"x": b"\x00"}]})
        grow = c.put_object("app/ssn/grow", [0])
        for i in range(1, 4):
            grow = c.patch_object(grow, [i])
        raw = c.put_object("app/other", b"raw bytes")
        gone = c.put_object("app/ssn", "deleted")
        assert c.delete_objects(gone.key) == 1
    with CacheServerThread(store, port=port) as srv, CacheClient(srv.endpoint) as c:
        assert c.get_object(fresh(obj)) == {"nested": [1, 2, {"x": b"\x00"}]}
        assert c.get_object(fresh(grow), concat) == [0, 1, 2, 3]
        assert c.stat(grow.key).version == 4
        assert c.get_object(fresh(raw)) == b"raw bytes"
        assert c.stat(raw.key).encoding == Encoding.RAW
        assert c.patch_object(grow, [4]).version == 5  # versions continue after a restart
        with pytest.raises(Exception, match="not found"):
            c.get_object(fresh(gone))


def test_eviction_under_a_small_memory_budget_loses_nothing(tmp_path: Path) -> None:
    budget = 256 * 1024
    with (
        CacheServerThread(tmp_path / "store", memory_budget=budget) as srv,
        CacheClient(srv.endpoint, max_entries=0) as c,
    ):
        payloads = {c.put_object("app/ssn", bytes([i]) * 50_000).key: bytes([i]) * 50_000 for i in range(40)}
        big = c.put_object("app/ssn", bytes(range(256)) * 4096)  # 1 MiB: larger than the budget
        assert srv.server is not None
        storage = srv.server.storage
        assert isinstance(storage, CachedStorage) and storage.cached_bytes <= budget
        for _ in range(2):
            for key, data in payloads.items():
                assert c.get_object(ObjectRef(srv.endpoint, key, 0)) == data
        assert c.get_object(fresh(big)) == bytes(range(256)) * 4096
        assert storage.cached_bytes <= budget and storage.loads >= 40  # evicted ones came back from disk


def test_crashed_writes_never_become_visible_and_leftovers_are_swept(tmp_path: Path) -> None:
    root = tmp_path / "store"

    async def scenario() -> None:
        disk = DiskStorage(root)
        store = ObjectStore(disk)
        await store.start()

        async def chunks(*parts: bytes):
            for p in parts:
                yield p

        info = await store.put("app/ssn/obj", Encoding.RAW, None, chunks(b"v1"))
        # a crash mid-write: a blob in tmp/ and a base file no metadata names
        blob = disk.new_blob()
        blob.write(b"half")
        obj_dir = root / "objects" / "app" / "ssn" / "obj"
        (obj_dir / "base-deadbeef").write_bytes(b"orphan")
        (obj_dir / ".meta.json.1234").write_text("{")  # an interrupted metadata write

        recovered = DiskStorage(root)
        infos = recovered.load()
        assert infos == [info]
        assert list((root / "tmp").iterdir()) == []
        assert sorted(p.name for p in obj_dir.iterdir()) == ["base-" + info.base_tag, "meta.json"]
        assert b"".join(recovered.read_base(info, 1024)) == b"v1"
        assert json.loads((obj_dir / "meta.json").read_text())["version"] == 1

    asyncio.run(scenario())


def test_a_reader_keeps_the_generation_it_streams_while_a_writer_replaces_it() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        store = ObjectStore(storage)
        await store.start()

        async def chunks(data: bytes):
            yield data

        await store.put("app/ssn/obj", Encoding.RAW, None, chunks(b"a" * 10))
        plan = store.plan_get("app/ssn/obj", "", 0, False)
        reader = store.read(plan, chunk_bytes=4)
        first = await anext(reader)
        await store.put("app/ssn/obj", Encoding.RAW, None, chunks(b"b" * 10))  # old base retired
        rest = [c async for c in reader]
        assert first + b"".join(rest) == b"a" * 10
        assert storage.stored_bytes == 10  # the old generation went once its reader finished

    asyncio.run(scenario())
