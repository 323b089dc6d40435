"""Same-host file hand-over (GetHandover / PutFile / GetFile in cache.proto): a client on the
server's host puts and gets big objects through files, reads the same objects as a streaming
client, leaves nothing behind, and the server refuses any file it should not take."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from cache_testkit import CacheServerThread

from flamepy.cache import CacheClient, ObjectRef
from flamepy.cache.client import HANDOVER_MIN_BYTES
from flamepy.proto import cache_pb2, cache_pb2_grpc
from tests.support import channel as auth_channel

BIG = os.urandom(HANDOVER_MIN_BYTES) + b"tail"


def _handover_dir(srv: CacheServerThread) -> Path:
    found = srv.server.storage.handover()  # type: ignore[union-attr]
    assert found is not None
    return found[0]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != ".token")


def test_big_objects_go_through_files_and_read_the_same_as_streamed(disk_server) -> None:
    directory = _handover_dir(disk_server)
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    with CacheClient(disk_server.endpoint) as fast, CacheClient(disk_server.endpoint, handover=False) as slow:
        ref = fast.put_object("app/s1", BIG)
        assert fast._handover == directory and fast.stats.bytes_sent == len(BIG)
        assert slow.get_object(ObjectRef(ref.endpoint, ref.key, 0)) == BIG  # streamed from what was handed over
        assert fast.get_object(ObjectRef(ref.endpoint, ref.key, 0)) == BIG  # read from a linked file
        assert fast.stats.bytes_received == len(BIG)
        streamed = slow.put_object("app/s1", BIG[::-1])
        assert slow._handover is False and slow.stats.bytes_sent == len(BIG)
        assert fast.get_object(ObjectRef(streamed.endpoint, streamed.key, 0)) == BIG[::-1]
        # patches with big deltas; a reader holding the base then gets only the deltas, as files
        base = fast.put_object("app/s1", [1])
        with CacheClient(disk_server.endpoint) as reader:
            assert reader.get_object(base, lambda b, ds: (b, ds)) == ([1], [])
            v2 = fast.patch_object(base, BIG)
            v3 = fast.patch_object(v2, BIG[:-1])
            before = reader.stats.bytes_received
            assert reader.get_object(v3, lambda b, ds: (b, ds)) == ([1], [BIG, BIG[:-1]])
            assert reader.stats.bytes_received - before == 2 * len(BIG) - 1
            assert reader.stats.delta_gets == 1
    assert _leftovers(directory) == []  # every put and get file is gone


def test_small_objects_and_memory_storage_keep_streaming(disk_server, server) -> None:
    with CacheClient(disk_server.endpoint) as c:
        ref = c.put_object("app/s1", b"tiny")  # under HANDOVER_MIN_BYTES: one Put message
        assert c._handover is None  # not even looked for
        assert c.get_object(ref) == b"tiny"  # gets look: a small one comes inline, no file
        assert c._handover == _handover_dir(disk_server)
    assert _leftovers(_handover_dir(disk_server)) == []
    with CacheClient(server.endpoint) as c:  # memory storage offers no hand-over
        ref = c.put_object("app/s1", BIG)
        assert c.get_object(ref) == BIG and c._handover is False


def test_a_directory_with_another_token_is_not_used(disk_server) -> None:
    directory = _handover_dir(disk_server)
    (directory / ".token").write_text("someone else's")  # as if this were another host's directory
    with CacheClient(disk_server.endpoint) as c:
        ref = c.put_object("app/s1", BIG)
        assert c._handover is False and c.get_object(ObjectRef(ref.endpoint, ref.key, 0)) == BIG


def test_put_file_refuses_files_it_should_not_take(disk_server, tmp_path) -> None:
    directory = _handover_dir(disk_server)
    outside = tmp_path / "secret"
    outside.write_bytes(b"x" * 10)
    (directory / "link").symlink_to(outside)
    (directory / "short").write_bytes(b"x" * 5)

    def put_file(name: str, size: int = 10) -> tuple[grpc.StatusCode, str]:
        header = cache_pb2.WriteHeader(key="app/s1", encoding=cache_pb2.ENCODING_RAW, size=size)
        request = cache_pb2.PutFileRequest(header=header, file_name=name)
        with auth_channel(f"127.0.0.1:{disk_server.port}") as ch, pytest.raises(grpc.RpcError) as info:
            cache_pb2_grpc.ObjectCacheStub(ch).PutFile(request)
        return info.value.code(), info.value.details()

    assert put_file("../secret")[1] == "invalid hand-over file name '../secret'"
    assert put_file(".token")[1] == "invalid hand-over file name '.token'"
    assert put_file("missing")[1] == "no hand-over file 'missing'"
    assert put_file("link")[1] == "hand-over file 'link' is not a regular file"
    code, details = put_file("short")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details == "announced 10 bytes but the file has 5"
    assert outside.read_bytes() == b"x" * 10
    assert len(disk_server.server.store) == 0  # type: ignore[union-attr]  nothing was committed


def test_restart_clears_leftover_hand_over_files(tmp_path) -> None:
    with CacheServerThread(tmp_path / "store") as srv:
        directory = _handover_dir(srv)
        (directory / "put-leftover").write_bytes(b"a crashed client's file")
    with CacheServerThread(tmp_path / "store") as srv:
        assert _handover_dir(srv) == directory and _leftovers(directory) == []
