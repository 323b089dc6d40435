"""A 256 MiB object through a real cache process: streamed in chunks, bounded memory on both sides."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamepy.cache import CacheClient, ObjectRef
from tests.support import drop_tokens, serve_tokens

MiB = 1024 * 1024
SIZE = 256 * MiB


def peak_rss(pid: int) -> int:
    """The process's peak resident set (Linux VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def cache_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port_file = tmp_path / "port"
    args = [sys.executable, "-m", "object_cache", "--port", "0", "--storage", str(tmp_path / "store"),
            "--memory-budget", "16m", "--port-file", str(port_file), "--log-level", "WARNING",
            "--auth-dir", str(tmp_path / "auth")]  # fmt: skip
    proc = subprocess.Popen(args)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None, "object cache exited"
            assert time.monotonic() < deadline, "object cache did not start"
            time.sleep(0.05)
        target = f"127.0.0.1:{port_file.read_text().strip()}"
        serve_tokens(target, tmp_path / "auth")  # the client finds the token as users' do
        yield proc, f"grpc://{target}"
    finally:
        drop_tokens(f"127.0.0.1:{port_file.read_text().strip()}" if port_file.exists() else "")
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_256_mib_round_trips_streamed_with_bounded_memory(cache_process, tmp_path: Path) -> None:
    proc, endpoint = cache_process
    src = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with src.open("wb") as f:
        for i in range(SIZE // MiB):
            f.write(block[i:] + block[:i])
    with CacheClient(endpoint, max_bytes=64 * MiB) as c:
        tracemalloc.start()
        try:
            ref = c.upload_object("app/ssn", src)
            c.download_object(ObjectRef(ref.endpoint, ref.key, 0), tmp_path / "back.bin")
            _, client_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert ref.version == 1 and c.stat(ref.key).base_size == SIZE
        assert client_peak < 16 * MiB, f"client held {client_peak / MiB:.0f} MiB"
        server_rss = peak_rss(proc.pid)
        assert server_rss < 160 * MiB, f"server peak RSS {server_rss / MiB:.0f} MiB"
        with src.open("rb") as a, (tmp_path / "back.bin").open("rb") as b:
            while chunk := a.read(16 * MiB):
                assert chunk == b.read(16 * MiB)
        # the same size as a Python object: put_object / get_object of bytes
        data = src.read_bytes()
        src.unlink()
        (tmp_path / "back.bin").unlink()
        oref = c.put_object("app/ssn", data)
        assert c.get_object(ObjectRef(oref.endpoint, oref.key, 0)) == data
        assert c.stats.bytes_received == 2 * SIZE
