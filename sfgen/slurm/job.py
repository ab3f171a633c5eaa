"""The Slurm backend inside each launcher: the sbatch template around the command, the ids to record,
and the retry check. Loaded by the launcher when the run exported ``SFGEN_BACKEND=slurm`` (the plugin
submits with ``--export=ALL``).

Timeouts: with ``slurm_runtime`` set, Snakemake retries failed jobs up to ``slurm_timeout_retries``
times, and the trainer resumes from its checkpoint. Only experiments that Slurm stopped (time limit,
preemption, cancel: the launcher was signalled) run again: a retry of one that failed on its own in this
run ends at once with the same exit code, so a crashing experiment costs no GPU hours. The run id,
exported to every job, tells this run's failures from earlier runs' ones, which a new run always redoes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sfgen.spec import ExperimentSpec

JOB_LABEL = "Slurm job"  # how records and views name a job: "Slurm job 12"
RUN_ID_ENV = "SFGEN_SLURM_RUN"  # set by sfgen.slurm.session when the run starts
# How Slurm and users stop jobs, and `timeout` (exit 124) in a template's `timeout $TIMEOUT $CMD`, which
# may fire just before Slurm's own limit: resubmitted, as Sample Factory 2's sbatch_timeout.sh did.
_STOP_CODES = {124, 128 + signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGHUP}


def command(workflow_dir: Path, spec: ExperimentSpec, options: dict[str, Any]) -> list[str]:
    """The experiment's argv, run through the sbatch template when the workflow was compiled with one."""
    if not options.get("slurm_sbatch_template"):
        return spec.argv
    from sfgen.slurm.template import job_command

    return job_command(workflow_dir, spec, options)


def record_fields() -> dict[str, Any]:
    """What the marker and failure record keep of the job: its id, the run that submitted it, and ``job``,
    how any view names it."""
    job_id = os.environ.get("SLURM_JOB_ID")
    job = f"{JOB_LABEL} {job_id}" if job_id else None
    return {"slurm_job_id": job_id, "slurm_run": os.environ.get(RUN_ID_ENV), "job": job}


def refuse_retry(failure: dict[str, Any] | None) -> bool:
    """True when ``failure`` (an experiment's failure record) is from this run and not a stop (the launcher
    was signalled, or the experiment ended by SIGTERM, SIGINT or SIGHUP, which Slurm may send it directly):
    the launcher then ends Snakemake's retry at once instead of running the experiment again."""
    run = os.environ.get(RUN_ID_ENV)
    if not (run and failure and failure.get("slurm_run") == run):
        return False
    return not failure.get("interrupted") and failure.get("exit_code") not in _STOP_CODES
