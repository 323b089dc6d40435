"""The client API against a real cache server (in-process, port 0, memory storage)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cache_testkit import CacheServerThread

import flamepy
import flamepy.core
from flamepy.cache import (
    CacheClient,
    ObjectRef,
    client_for,
    delete_objects,
    download_object,
    get_object,
    patch_object,
    put_object,
    update_object,
    upload_object,
)
from flamepy.errors import InvalidArgumentError, NotFoundError, UnavailableError
from flamepy.proto import cache_pb2, cache_pb2_grpc
from tests.support import channel as auth_channel


@dataclass
class Point:
    x: int
    y: list[float]


def concat(base: list[int], deltas: list[list[int]]) -> list[int]:
    return base + [x for d in deltas for x in d]


def test_put_get_round_trips_nested_objects_and_raw_bytes(client: CacheClient) -> None:
    nested = {"a": [1, (2, 3), {"b": Point(4, [5.0])}], "f": lambda v: v + 1}
    ref = client.put_object("app/ssn", nested)
    assert ref.version == 1 and ref.key.startswith("app/ssn/") and ref.endpoint == client.endpoint
    got = client.get_object(ObjectRef(ref.endpoint, ref.key, 0))
    assert got["a"][:2] == [1, (2, 3)] and got["a"][2]["b"] == Point(4, [5.0]) and got["f"](1) == 2
    raw = bytes(range(256)) * 100
    rref = client.put_object("app/ssn", raw)
    assert client.get_object(ObjectRef(rref.endpoint, rref.key, 0)) == raw
    assert client.stat(rref.key).encoding == flamepy.cache.Encoding.RAW
    assert client.stat(ref.key).encoding == flamepy.cache.Encoding.PICKLE
    assert client.get_object(client.put_object("app/ssn", bytearray(b"xy"))) == b"xy"


def test_update_bumps_the_version_and_drops_deltas(client: CacheClient) -> None:
    ref = client.put_object("app/ssn/model", [1])
    ref2 = client.patch_object(ref, [2])
    ref3 = client.update_object(ref2, [10])
    assert (ref.version, ref2.version, ref3.version) == (1, 2, 3)
    assert client.get_object(ref3, concat) == [10]
    ref4 = client.put_object("app/ssn/model", [20])  # a full key overwrites too
    assert ref4.version == 4 and client.get_object(ref) == [20]


def test_patches_apply_in_order_and_get_without_deserializer_is_the_base(client: CacheClient) -> None:
    ref = client.put_object("app/ssn", [0])
    for i in range(1, 6):
        ref = client.patch_object(ref, [i])
    assert ref.version == 6
    assert client.get_object(ref, concat) == [0, 1, 2, 3, 4, 5]
    assert client.get_object(ref) == [0]
    info = client.stat(ref.key)
    assert (info.version, info.base_version, len(info.deltas)) == (6, 1, 5)


def test_incremental_get_transfers_only_new_deltas(server: CacheServerThread) -> None:
    with CacheClient(server.endpoint) as writer, CacheClient(server.endpoint) as reader:
        base = list(range(100_000))
        ref = writer.put_object("app/ssn", base)
        full = len(writer.local.get(ref.key).base)  # type: ignore[union-attr]
        assert reader.get_object(ref, concat) == base
        assert reader.stats.bytes_received == full and reader.stats.full_gets == 1
        for i in range(3):
            ref = writer.patch_object(ref, [i])
        delta_bytes = sum(d.size for d in writer.stat(ref.key).deltas)
        before = reader.stats.bytes_received
        assert reader.get_object(ref, concat) == [*base, 0, 1, 2]
        assert reader.stats.bytes_received - before == delta_bytes < full / 100
        assert reader.stats.delta_gets == 1
        before = reader.stats.bytes_received
        assert reader.get_object(ref, concat) == [*base, 0, 1, 2]
        assert reader.stats.bytes_received == before and reader.stats.not_modified_gets == 1
        # version 0 forces a full transfer although everything is cached locally
        assert reader.get_object(ObjectRef(ref.endpoint, ref.key, 0), concat) == [*base, 0, 1, 2]
        assert reader.stats.bytes_received - before == full + delta_bytes
        # a replaced base is fetched whole again
        ref = writer.update_object(ref, [7])
        assert reader.get_object(ref, concat) == [7] and reader.stats.full_gets == 3


def test_writer_reuses_its_own_writes(client: CacheClient) -> None:
    ref = client.patch_object(client.put_object("app/ssn", {"k": 1}), {"k": 2})
    assert client.get_object(ref, lambda b, d: [b, *d]) == [{"k": 1}, {"k": 2}]
    assert client.stats.bytes_received == 0 and client.stats.not_modified_gets == 1


def test_local_cache_is_bounded_by_entries_and_bytes(server: CacheServerThread) -> None:
    with CacheClient(server.endpoint, max_entries=3, max_bytes=10_000) as c:
        refs = [c.put_object("app/ssn", bytes(1000)) for _ in range(5)]
        assert len(c.local) == 3
        c.put_object("app/ssn", bytes(20_000))  # larger than the budget: not kept
        assert len(c.local) == 3 and c.local.bytes <= 10_000
        assert all(c.get_object(r) == bytes(1000) for r in refs)


def test_delete_by_key_prefix_and_wildcard(client: CacheClient) -> None:
    a1 = [client.put_object("app/s1", i) for i in range(3)]
    a2 = [client.put_object("app/s2", i) for i in range(2)]
    other = client.put_object("other/s1", "keep")
    assert client.delete_objects(a1[0].key) == 1
    with pytest.raises(NotFoundError, match="not found"):
        client.get_object(a1[0])
    assert client.delete_objects("app/s1") == 2
    assert client.get_object(a2[0]) == 0
    assert client.delete_objects("app/*") == 2
    assert client.delete_objects("app/*") == 0
    with pytest.raises(NotFoundError):
        client.get_object(ObjectRef(a2[1].endpoint, a2[1].key, 0))
    assert client.get_object(other) == "keep"


def test_unknown_keys_and_patching_a_missing_object_are_not_found(client: CacheClient) -> None:
    missing = ObjectRef(client.endpoint, "app/ssn/nope", 1)
    with pytest.raises(NotFoundError, match="app/ssn/nope"):
        client.get_object(missing)
    with pytest.raises(NotFoundError):
        client.patch_object(missing, 1)
    with pytest.raises(NotFoundError):
        client.stat("app/ssn/nope")


@pytest.mark.parametrize("key", ["app/../x", "a\\b/ssn", "app//x", "/ssn/x", "app/ssn/x/y", "app/ssn/.."])
def test_invalid_keys_are_rejected_by_client_and_server(
    server: CacheServerThread, client: CacheClient, key: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid object key"):
        client.put_object(key, 1)
    with pytest.raises(InvalidArgumentError):
        client.delete_objects(key)
    # the server checks on its own: a raw stub bypasses the client's validation
    with auth_channel(f"127.0.0.1:{server.port}") as ch:
        stub = cache_pb2_grpc.ObjectCacheStub(ch)
        header = cache_pb2.WriteHeader(key=key, encoding=cache_pb2.ENCODING_PICKLE)
        with pytest.raises(grpc.RpcError) as err:
            stub.Put(iter([cache_pb2.WriteRequest(header=header)]))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            list(stub.Get(cache_pb2.GetRequest(key=key)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_server_rejects_malformed_write_streams(server: CacheServerThread) -> None:
    with auth_channel(f"127.0.0.1:{server.port}") as ch:
        stub = cache_pb2_grpc.ObjectCacheStub(ch)
        cases = [
            [cache_pb2.WriteRequest(data=b"x")],  # no header
            [cache_pb2.WriteRequest(header=cache_pb2.WriteHeader(key="a/s/o"))],  # no encoding
            [  # announced size does not match
                cache_pb2.WriteRequest(header=cache_pb2.WriteHeader(key="a/s/o", encoding=2, size=5)),
                cache_pb2.WriteRequest(data=b"abc"),
            ],
        ]
        for reqs in cases:
            with pytest.raises(grpc.RpcError) as err:
                stub.Put(iter(reqs))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, reqs
        with pytest.raises(grpc.RpcError) as err:
            stub.Stat(cache_pb2.StatRequest(key="a/s/o"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND  # nothing half-written became visible


def test_concurrent_writers_never_move_versions_backwards(client: CacheClient) -> None:
    ref = client.put_object("app/ssn/shared", 0)
    seen: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        with CacheClient(client.endpoint) as c:
            for i in range(10):
                r = c.update_object(ref, (n, i)) if i % 2 else c.patch_object(ref, (n, i))
                with lock:
                    seen.append(r.version)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(2, 42))  # every write got its own version
    assert client.stat(ref.key).version == 41


def test_upload_and_download_files_as_raw_bytes(client: CacheClient, tmp_path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(bytes(range(256)) * 10_000)
    ref = client.upload_object("app/ssn", src)
    assert client.get_object(ref) == src.read_bytes()
    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    client.download_object(ref, dest)
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temp file left
    with pytest.raises(InvalidArgumentError, match="missing"):
        client.upload_object("app/ssn", tmp_path / "missing")


def test_helpers_use_the_configured_endpoint(server: CacheServerThread, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("FLAME_CACHE_ENDPOINT", server.endpoint)
    monkeypatch.setenv("FLAME_CONFIG", str(tmp_path / "none.yaml"))
    ref = flamepy.put_object("app/ssn", {"w": [1, 2]})
    assert isinstance(ref, flamepy.ObjectRef) and ref.endpoint == server.endpoint
    assert flamepy.get_object(ref) == {"w": [1, 2]}
    ref = flamepy.core.patch_object(ref, {"w": [3]})
    assert get_object(ref, lambda b, d: b["w"] + [x for dd in d for x in dd["w"]]) == [1, 2, 3]
    ref = flamepy.update_object(ref, "new")
    assert ref.version == 3 and get_object(ref) == "new"
    fref = upload_object("app/ssn/file", __file__)
    download_object(fref, tmp_path / "copy.py")
    assert (tmp_path / "copy.py").read_text() == Path(__file__).read_text()
    assert client_for() is client_for(server.endpoint)
    assert patch_object is flamepy.core.patch_object and update_object is flamepy.update_object
    assert put_object is flamepy.put_object
    assert delete_objects("app/*") == 2


def test_server_down_is_unavailable() -> None:
    with CacheServerThread() as srv:
        endpoint = srv.endpoint
    with CacheClient(endpoint) as c:
        with pytest.raises(UnavailableError):
            c.put_object("app/ssn", 1)
        with pytest.raises(UnavailableError):
            c.get_object(ObjectRef(endpoint, "app/ssn/x", 1))


def test_refs_of_another_endpoint_and_closed_clients_are_refused(client: CacheClient) -> None:
    with pytest.raises(InvalidArgumentError, match="lives at"):
        client.get_object(ObjectRef("grpc://127.0.0.1:1", "app/ssn/x", 1))
    client.close()
    with pytest.raises(flamepy.InvalidStateError, match="closed"):
        client.put_object("app/ssn", 1)
