"""The environment each task of a job gets, layered lowest first:

1. ``spec.inherited_env``: copied from the caller's environment (SLURM's ``--export=ALL``).
2. Generated per task:

   - every job: ``FLAME_JOB_ID``, ``FLAME_JOB_NAME``, ``FLAME_TASK_INDEX``, ``FLAME_NUM_TASKS``,
     ``FLAME_NODE_RANK``, ``FLAME_NUM_NODES`` and, for torch: ``MASTER_ADDR``, ``MASTER_PORT``,
     ``NODE_RANK``, ``WORLD_SIZE`` (= ranks), ``RANK`` (= node rank), ``LOCAL_RANK`` (0) — the
     one-process-per-rank view, which ``torchrun`` overrides for its own workers. A multi-rank job
     also gets ``PET_NNODES``, ``PET_NODE_RANK``, ``PET_MASTER_ADDR``, ``PET_MASTER_PORT`` so a
     plain ``torchrun --nproc_per_node=8 train.py`` joins the others without flags.
     ``MASTER_ADDR`` is ``127.0.0.1`` for one rank; with more it is :data:`MASTER_ADDR_PLACEHOLDER`,
     which the executor replaces with the node address of rank 0 of the same array index (or of
     the job). ``MASTER_PORT`` is ``spec.master_port`` or 29500 plus a number derived from the job
     id and array index (0-999), so jobs and array elements sharing a node rarely collide.
   - array tasks: ``FLAME_ARRAY_INDEX`` plus the SLURM array variables below.
   - Flow jobs: ``FLOW_NODE_RANK``, ``FLOW_NUM_NODES``, ``FLOW_MAIN_IP``.
   - SkyPilot-style jobs: ``SKYPILOT_NODE_RANK``, ``SKYPILOT_NUM_NODES``,
     ``SKYPILOT_NUM_GPUS_PER_NODE``, ``SKYPILOT_TASK_ID``.
   - ``#SBATCH`` scripts and arrays: ``SLURM_JOB_ID``/``SLURM_JOBID`` (``JOB_INDEX`` for an array
     element), ``SLURM_JOB_NAME``, ``SLURM_NTASKS``/``SLURM_NPROCS``, ``SLURM_NNODES``/
     ``SLURM_JOB_NUM_NODES``, ``SLURM_NODEID``, ``SLURM_PROCID``, ``SLURM_LOCALID``,
     ``SLURM_CPUS_PER_TASK``, ``SLURM_CPUS_ON_NODE``, ``SLURM_JOB_CPUS_PER_NODE``,
     ``SLURM_NTASKS_PER_NODE`` (when asked), ``SLURM_MEM_PER_NODE``/``SLURM_MEM_PER_CPU`` (MB, when
     asked), ``SLURM_GPUS_ON_NODE``, ``SLURM_GPUS`` (when ``-G``), ``SLURM_SUBMIT_DIR``,
     ``SLURM_CLUSTER_NAME=flame`` and, in arrays, ``SLURM_ARRAY_JOB_ID``, ``SLURM_ARRAY_TASK_ID``,
     ``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_MIN``, ``SLURM_ARRAY_TASK_MAX`` and
     ``SLURM_ARRAY_TASK_STEP`` (when the indices are evenly spaced). ``SLURM_JOB_NODELIST`` is not
     set (nodes are chosen at run time).
3. ``spec.env``: what the user set explicitly wins over everything.

``CUDA_VISIBLE_DEVICES`` is the executor's: it names the GPUs the task was given.
"""

from __future__ import annotations

import itertools
import zlib

from flamepy.jobs.spec import JobSpec

MASTER_ADDR_PLACEHOLDER = "{{flame.master_addr}}"
BASE_MASTER_PORT = 29500


def master_port(spec: JobSpec, job_id: str) -> int:
    """``spec.master_port``, else 29500 + (crc32(``job_id``) mod 1000); ``job_id`` is the job's id,
    or ``ID_INDEX`` for an array element."""
    if spec.master_port is not None:
        return spec.master_port
    if job_id.startswith("{{"):
        return BASE_MASTER_PORT
    return BASE_MASTER_PORT + zlib.crc32(job_id.encode()) % 1000


def task_env(spec: JobSpec, job_id: str, index: int, rank: int, array_index: int | None) -> dict[str, str]:
    """The full environment task ``index`` (rank ``rank``, array index ``array_index``) runs with."""
    env: dict[str, str] = dict(spec.inherited_env)
    env.update(_flame_vars(spec, job_id, index, rank, array_index))
    if spec.dialect == "flow":
        env.update(
            FLOW_NODE_RANK=str(rank), FLOW_NUM_NODES=str(spec.instances), FLOW_MAIN_IP=env["MASTER_ADDR"]
        )
    elif spec.dialect == "skypilot":
        env.update(
            SKYPILOT_NODE_RANK=str(rank),
            SKYPILOT_NUM_NODES=str(spec.instances),
            SKYPILOT_NUM_GPUS_PER_NODE=str(spec.gpus.count),
            SKYPILOT_TASK_ID=job_id,
        )
    if spec.dialect == "sbatch" or spec.array is not None:
        env.update(_slurm_vars(spec, job_id, rank, array_index))
    env.update(spec.env)
    return env


def _flame_vars(spec: JobSpec, job_id: str, index: int, rank: int, array_index: int | None) -> dict[str, str]:
    ranks = spec.instances
    addr = "127.0.0.1" if ranks == 1 else MASTER_ADDR_PLACEHOLDER
    port = str(master_port(spec, job_id if array_index is None else f"{job_id}_{array_index}"))
    env = {
        "FLAME_JOB_ID": job_id,
        "FLAME_JOB_NAME": spec.name,
        "FLAME_TASK_INDEX": str(index),
        "FLAME_NUM_TASKS": str(spec.num_tasks),
        "FLAME_NODE_RANK": str(rank),
        "FLAME_NUM_NODES": str(ranks),
        "MASTER_ADDR": addr,
        "MASTER_PORT": port,
        "NODE_RANK": str(rank),
        "WORLD_SIZE": str(ranks),
        "RANK": str(rank),
        "LOCAL_RANK": "0",
    }
    if ranks > 1:
        env.update(PET_NNODES=str(ranks), PET_NODE_RANK=str(rank), PET_MASTER_ADDR=addr, PET_MASTER_PORT=port)
    if array_index is not None:
        env["FLAME_ARRAY_INDEX"] = str(array_index)
    return env


def _tasks_per_node(spec: JobSpec) -> int:
    layout = spec.slurm
    if layout and layout.ntasks_per_node:
        return layout.ntasks_per_node
    if layout and layout.ntasks:
        return -(-layout.ntasks // spec.instances)
    return 1


def _slurm_vars(spec: JobSpec, job_id: str, rank: int, array_index: int | None) -> dict[str, str]:
    layout = spec.slurm
    per_node = _tasks_per_node(spec)
    ntasks = (layout.ntasks if layout and layout.ntasks else None) or per_node * spec.instances
    cpus_per_task = (layout.cpus_per_task if layout and layout.cpus_per_task else None) or max(
        1, spec.cpus // per_node
    )
    element_id = job_id if array_index is None else f"{job_id}_{array_index}"
    env = {
        "SLURM_JOB_ID": element_id,
        "SLURM_JOBID": element_id,
        "SLURM_JOB_NAME": spec.name,
        "SLURM_NTASKS": str(ntasks),
        "SLURM_NPROCS": str(ntasks),
        "SLURM_NNODES": str(spec.instances),
        "SLURM_JOB_NUM_NODES": str(spec.instances),
        "SLURM_NODEID": str(rank),
        "SLURM_PROCID": str(rank * per_node),
        "SLURM_LOCALID": "0",
        "SLURM_CPUS_PER_TASK": str(cpus_per_task),
        "SLURM_CPUS_ON_NODE": str(spec.cpus),
        "SLURM_JOB_CPUS_PER_NODE": str(spec.cpus),
        "SLURM_GPUS_ON_NODE": str(spec.gpus.count),
        "SLURM_CLUSTER_NAME": "flame",
        "SLURM_SUBMIT_DIR": (layout.submit_dir if layout and layout.submit_dir else None) or spec.workdir,
    }
    if layout and layout.ntasks_per_node:
        env["SLURM_NTASKS_PER_NODE"] = str(layout.ntasks_per_node)
    if layout and layout.mem_per_cpu:
        env["SLURM_MEM_PER_CPU"] = str(layout.mem_per_cpu // 1024**2)
    elif spec.memory:
        env["SLURM_MEM_PER_NODE"] = str(spec.memory // 1024**2)
    if layout and layout.total_gpus:
        env["SLURM_GPUS"] = str(layout.total_gpus)
    if array_index is not None and spec.array is not None:
        env.update(_array_vars(spec.array.indices, job_id, array_index))
    return env


def _array_vars(indices: tuple[int, ...], job_id: str, array_index: int) -> dict[str, str]:
    ordered = sorted(indices)
    env = {
        "SLURM_ARRAY_JOB_ID": job_id,
        "SLURM_ARRAY_TASK_ID": str(array_index),
        "SLURM_ARRAY_TASK_COUNT": str(len(ordered)),
        "SLURM_ARRAY_TASK_MIN": str(ordered[0]),
        "SLURM_ARRAY_TASK_MAX": str(ordered[-1]),
    }
    steps = {b - a for a, b in itertools.pairwise(ordered)}
    if len(steps) <= 1:
        env["SLURM_ARRAY_TASK_STEP"] = str(steps.pop() if steps else 1)
    return env
