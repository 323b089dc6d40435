"""What this node offers: CPU count and memory (psutil), GPU count (NVML), architecture and OS.

Overrides for tests and oversubscription: ``FLAME_NODE_CPUS`` (count), ``FLAME_NODE_MEMORY``
(e.g. ``4g``), ``FLAME_FAKE_GPUS`` (count). Synchronous and cheap; called once per registration.

The executor manager checks what it will advertise against this machine at start-up
(:func:`check_capacity`): more CPUs or memory than the host has, or more GPUs than NVML shows, is a
start error unless overcommitting was asked for (``--overcommit`` or ``FLAME_OVERCOMMIT=1``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import socket
from collections.abc import Mapping

import psutil

from flamepy.errors import InvalidConfigError
from flamepy.types import Node, NodeState, ResourceRequirement, parse_memory

log = logging.getLogger(__name__)

ENV_CPUS = "FLAME_NODE_CPUS"
ENV_MEMORY = "FLAME_NODE_MEMORY"
ENV_FAKE_GPUS = "FLAME_FAKE_GPUS"
ENV_OVERCOMMIT = "FLAME_OVERCOMMIT"


def detect_gpu_count() -> int:
    """GPUs NVML can see; 0 when nvidia-ml-py or the driver is missing (never an error)."""
    try:
        import pynvml
    except ImportError:
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        log.debug("no NVIDIA driver (%s): 0 GPUs", exc)
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    except pynvml.NVMLError as exc:
        log.debug("NVML device count failed (%s): 0 GPUs", exc)
        return 0
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _env_count(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidConfigError(f"{name}={text!r} is not a whole number") from None
    if value < 0:
        raise InvalidConfigError(f"{name}={text!r} must not be negative")
    return value


def detect_capacity(env: Mapping[str, str] | None = None) -> ResourceRequirement:
    env = os.environ if env is None else env
    cpus = _env_count(env, ENV_CPUS)
    if cpus is None:
        cpus = psutil.cpu_count(logical=True) or 1
    memory_text = env.get(ENV_MEMORY, "").strip()
    memory = parse_memory(memory_text) if memory_text else int(psutil.virtual_memory().total)
    gpus = _env_count(env, ENV_FAKE_GPUS)
    if gpus is None:
        gpus = detect_gpu_count()
    return ResourceRequirement(cpu=cpus, memory=memory, gpu=gpus)


def host_capacity(env: Mapping[str, str] | None = None) -> ResourceRequirement:
    """What this machine has: logical CPUs, physical memory, and the GPUs NVML shows — or, with
    ``FLAME_FAKE_GPUS``, the fake inventory, which stands for this machine's GPUs everywhere."""
    env = os.environ if env is None else env
    cpus = psutil.cpu_count(logical=True) or 1
    fake = _env_count(env, ENV_FAKE_GPUS)
    gpus = detect_gpu_count() if fake is None else fake
    return ResourceRequirement(cpu=cpus, memory=int(psutil.virtual_memory().total), gpu=gpus)


def overcommit_from_env(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(ENV_OVERCOMMIT, "").strip().lower() in ("1", "true", "yes", "on")


def check_capacity(advertised: ResourceRequirement, host: ResourceRequirement, overcommit: bool) -> None:
    """Refuse (InvalidConfigError naming the setting) to advertise more than ``host`` has, unless
    ``overcommit``; with it, the excess is logged."""
    excess = [
        (name, env, want, have)
        for name, env, want, have in (
            ("CPUs", ENV_CPUS, advertised.cpu, host.cpu),
            ("memory bytes", ENV_MEMORY, advertised.memory, host.memory),
            ("GPUs", ENV_FAKE_GPUS, advertised.gpu, host.gpu),
        )
        if want > have
    ]
    if not excess:
        return
    text = "; ".join(f"{want} {name} ({env}) but this machine has {have}" for name, env, want, have in excess)
    if overcommit:
        log.warning("overcommitting as asked: advertising %s", text)
        return
    raise InvalidConfigError(
        f"this node would advertise {text}: lower the setting, or pass --overcommit "
        f"(or set {ENV_OVERCOMMIT}=1) to advertise more than the machine has on purpose"
    )


def describe_node(name: str, env: Mapping[str, str] | None = None) -> Node:
    """This node as registered: Ready, capacity = allocatable = what was detected."""
    capacity = detect_capacity(env)
    return Node(
        name=name,
        state=NodeState.READY,
        capacity=capacity,
        allocatable=capacity,
        arch=platform.machine(),
        os=platform.system().lower(),
        hostname=socket.gethostname(),
    )
