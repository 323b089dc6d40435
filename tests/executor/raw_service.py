"""A flame.v1 Instance service written directly against the generated gRPC stubs (not the SDK).

Usage: ``python raw_service.py [MODE] [ARGS...]`` with ``FLAME_INSTANCE_ENDPOINT`` set to a socket
path; like Flame's own runtimes (and flamepy 0.6.0 from PyPI) it binds ``unix://<that path>``.

MODE (default ``echo``):
  echo           serve; tasks echo their input
  fail_enter     OnSessionEnter returns code 1 with a message
  exit_at_start  write to stderr and exit with code 3 before serving
  no_socket      never serve (sleep until killed)
  ignore_term    serve, but ignore SIGTERM (only SIGKILL stops it)

Task inputs with a special meaning in every serving mode:
  b"fail"   return_code 1, message "task failed on purpose"
  b"crash"  write to stderr, then SIGKILL itself mid-task
  b"none"   return_code 0 with no output (unset)
  b"empty"  return_code 0 with output b""
  b"env"    JSON with the environment, cwd and argv
  b"hang"   start a ``sleep 3600`` child (same process group; its pid on stdout as ``child <pid>``),
            then never answer
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures

import grpc

from flamepy.proto import shim_pb2_grpc, types_pb2


def log(text: str, stream=sys.stderr) -> None:
    stream.write(text + "\n")
    stream.flush()


class RawInstance(shim_pb2_grpc.InstanceServicer):
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def OnSessionEnter(self, request, context):
        log(f"OnSessionEnter {request.session_id}", sys.stdout)
        if self.mode == "fail_enter":
            log("refusing the session on purpose")
            return types_pb2.Result(return_code=1, message="refusing session")
        return types_pb2.Result(return_code=0)

    def OnTaskInvoke(self, request, context):
        data = request.input if request.HasField("input") else None
        if data == b"fail":
            return types_pb2.TaskResult(return_code=1, message="task failed on purpose")
        if data == b"crash":
            log(f"raw service crashing on task {request.task_id}")
            os.kill(os.getpid(), signal.SIGKILL)
        if data == b"hang":
            child = subprocess.Popen(["sleep", "3600"])
            log(f"child {child.pid}", sys.stdout)
            threading.Event().wait()
        if data == b"none":
            return types_pb2.TaskResult(return_code=0)
        if data == b"empty":
            return types_pb2.TaskResult(return_code=0, output=b"")
        if data == b"env":
            info = {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv}
            return types_pb2.TaskResult(return_code=0, output=json.dumps(info).encode())
        return types_pb2.TaskResult(return_code=0, output=data if data is not None else b"")

    def OnSessionLeave(self, request, context):
        log("OnSessionLeave", sys.stdout)
        return types_pb2.Result(return_code=0)


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "echo"
    log(f"raw service starting in mode {mode}")
    if mode == "exit_at_start":
        log("exiting at start on purpose")
        sys.exit(3)
    if mode == "no_socket":
        threading.Event().wait()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    shim_pb2_grpc.add_InstanceServicer_to_server(RawInstance(mode), server)
    # as Flame's runtimes do: the variable holds a bare socket path, the service adds the scheme
    server.add_insecure_port("unix://" + os.environ["FLAME_INSTANCE_ENDPOINT"])
    server.start()
    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
