"""The floor: a bare Python gRPC unary echo (bytes in, the same bytes out, no protobuf) between two
processes on 127.0.0.1. Sequential round trips, pipelined calls with futures (at most ``INFLIGHT``
outstanding: more on one channel has been seen to come back CANCELLED), 1 MiB echoes, and a fresh
server process → first answer (the cold-start floor: spawn Python, import grpc, serve).

Run by :mod:`bench.peers.main` as ``python -m bench.peers.sys_grpc PARAMS_JSON OUT_JSON``; the server
is ``python -m bench.peers.sys_grpc --serve PORT_FILE``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from bench.peers.common import MIB, latencies_ms, log, parse_argv, percentile

SYSTEM = "grpc"
METHOD = "/bench.Echo/Echo"
INFLIGHT = 512
LIMIT = 8 * MIB
OPTIONS = [("grpc.max_receive_message_length", LIMIT), ("grpc.max_send_message_length", LIMIT)]
ROOT = Path(__file__).resolve().parents[2]


def serve(port_file: str) -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=4), options=OPTIONS)
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    Path(port_file).write_text(str(port))
    # Serve until the parent closes our stdin (or kills us).
    sys.stdin.read()
    server.stop(0)


class Server:
    def __init__(self, tmp: Path) -> None:
        self.port_file = tmp / f"grpc-{time.monotonic_ns()}.port"
        args = [sys.executable, "-m", "bench.peers.sys_grpc", "--serve", str(self.port_file)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, cwd=ROOT)

    def port(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"echo server exited with {self.proc.returncode}")
            text = self.port_file.read_text().strip() if self.port_file.exists() else ""
            if text:
                return int(text)
            time.sleep(0.002)
        raise TimeoutError("echo server did not start")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def pipelined(call, payload: bytes, n: int) -> None:
    pending: deque = deque()
    for _ in range(n):
        if len(pending) >= INFLIGHT:
            pending.popleft().result(timeout=60)
        pending.append(call.future(payload, timeout=60))
    for f in pending:
        f.result(timeout=60)


def main() -> int:
    p, rec = parse_argv(SYSTEM)
    rec.meta["grpcio"] = grpc.__version__
    with tempfile.TemporaryDirectory(prefix="grpc-floor-") as tmpdir:
        tmp = Path(tmpdir)
        for _ in range(p.cold_n):  # a fresh server process → its first answer
            t0 = time.perf_counter()
            server = Server(tmp)
            with grpc.insecure_channel(f"127.0.0.1:{server.port()}") as ch:
                ch.unary_unary(METHOD)(b"", timeout=30, wait_for_ready=True)
                rec.add("cold", SYSTEM, time.perf_counter() - t0)
            server.stop()
        log(SYSTEM, f"cold {rec.values['cold'][SYSTEM]}")
        server = Server(tmp)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{server.port()}", options=OPTIONS) as ch:
                call = ch.unary_unary(METHOD)
                call(b"", timeout=30, wait_for_ready=True)
                pipelined(call, b"", 500)
                for _ in p.rounds():
                    t0 = time.perf_counter()
                    pipelined(call, b"", p.tput_n)
                    rec.add("tput", SYSTEM, p.tput_n / (time.perf_counter() - t0))
                log(SYSTEM, f"pipelined {rec.values['tput'][SYSTEM]}")
                for _ in p.rounds():
                    lat = latencies_ms(lambda: call(b"", timeout=30), p.lat_n)
                    rec.add("lat_p50", SYSTEM, percentile(lat, 50))
                    rec.add("lat_p99", SYSTEM, percentile(lat, 99))
                log(SYSTEM, f"latency p50 {rec.values['lat_p50'][SYSTEM]}")
                payload = bytes(p.payload_bytes)
                for _ in p.rounds():
                    t0 = time.perf_counter()
                    pipelined(call, payload, p.payload_n)
                    rec.add("payload", SYSTEM, p.payload_n / (time.perf_counter() - t0))
                log(SYSTEM, f"payload {rec.values['payload'][SYSTEM]}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
