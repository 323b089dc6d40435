"""``flamepy.jobs``: run a command on the cluster's GPUs as a **job**.

For now this package holds the job-spec layer only: turning what a user typed or wrote
(``flmctl run`` options, a Flow or SkyPilot-style YAML file, an ``#SBATCH`` script) into a validated
:class:`JobSpec`, expanding it into per-task :class:`TaskLaunch` records, and encoding those as the
``"kind": "flame.job/v1"`` task input the command application runs. It does no I/O beyond reading
the job files it is pointed at.

Modules: :mod:`~flamepy.jobs.spec` (the dataclasses), :mod:`~flamepy.jobs.launch` (expansion,
task input, output patterns), :mod:`~flamepy.jobs.jobenv` (the variables each task gets),
:mod:`~flamepy.jobs.parse_cli`, :mod:`~flamepy.jobs.parse_yaml` (+ ``yaml_common``, ``yaml_sky``),
:mod:`~flamepy.jobs.parse_sbatch` (+ ``sbatch_options``), :mod:`~flamepy.jobs.envfile`,
:mod:`~flamepy.jobs.values` (scalar parsers, :class:`JobSpecError`), :mod:`~flamepy.jobs.load`,
:mod:`~flamepy.jobs.build` (options on top of a job; :func:`make_spec` for Python callers) and
:mod:`~flamepy.jobs.dryrun`.

The client side: :func:`run` (and :func:`submit` for a ready spec), :func:`get`, :func:`list` and
the :class:`Job` handle (:mod:`~flamepy.jobs.client`, :mod:`~flamepy.jobs.handle`), the job's
metadata (:mod:`~flamepy.jobs.info`), its state (:mod:`~flamepy.jobs.state`) and where its logs
come from (:mod:`~flamepy.jobs.logsource`).
"""

from __future__ import annotations

from flamepy.jobs.build import apply_options, make_spec
from flamepy.jobs.client import get, list, run, submit
from flamepy.jobs.dryrun import render_dry_run
from flamepy.jobs.handle import Job, JobStatus
from flamepy.jobs.info import JobInfo
from flamepy.jobs.jobenv import MASTER_ADDR_PLACEHOLDER
from flamepy.jobs.launch import JOB_ID_PLACEHOLDER, KIND, TaskLaunch, expand, expand_pattern, is_job_input
from flamepy.jobs.load import load_job
from flamepy.jobs.parse_cli import add_run_arguments, spec_from_args
from flamepy.jobs.spec import ArraySpec, GpuRequest, JobSpec, SlurmLayout, Volume
from flamepy.jobs.state import JobState, TaskView
from flamepy.jobs.values import JobSpecError

__all__ = [
    "JOB_ID_PLACEHOLDER",
    "KIND",
    "MASTER_ADDR_PLACEHOLDER",
    "ArraySpec",
    "GpuRequest",
    "Job",
    "JobInfo",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "JobStatus",
    "SlurmLayout",
    "TaskLaunch",
    "TaskView",
    "Volume",
    "add_run_arguments",
    "apply_options",
    "expand",
    "expand_pattern",
    "get",
    "is_job_input",
    "list",
    "load_job",
    "make_spec",
    "render_dry_run",
    "run",
    "spec_from_args",
    "submit",
]
