"""The Slurm backend inside each launcher: the sbatch template around the command, the ids to record,
and the retry check. Loaded by the launcher when the run exported ``SFGEN_BACKEND=slurm`` (the plugin
submits with ``--export=ALL``).

Timeouts: with ``slurm_runtime`` set, Snakemake retries failed jobs up to ``slurm_timeout_retries``
times, and the trainer resumes from its checkpoint. Only experiments that Slurm stopped (time limit,
preemption: the launcher was signalled) run again: a retry of one that failed on its own in this run, or
that ``sfgen cancel`` stopped (its request names the job), ends at once, so a crashing experiment costs no
GPU hours and a cancel holds. The run id, exported to every job, tells this run's failures from earlier
runs' ones, which a new run always redoes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sfgen.layout import cancel_request
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


def job_name(job_id: str | None) -> str | None:
    """How records and views name the job: ``Slurm job 12``."""
    return f"{JOB_LABEL} {job_id}" if job_id else None


def record_fields() -> dict[str, Any]:
    """What the marker and failure record keep of the job: its id, the run that submitted it, and ``job``,
    how any view names it."""
    job_id = os.environ.get("SLURM_JOB_ID")
    return {"slurm_job_id": job_id, "slurm_run": os.environ.get(RUN_ID_ENV), "job": job_name(job_id)}


def cancelled(workflow_dir: Path, rule: str, job_id: str | None) -> bool:
    """Whether ``sfgen cancel`` stopped the experiment in Slurm job ``job_id`` (its request names the job;
    one naming another job is stale)."""
    try:
        return job_id is not None and (workflow_dir / cancel_request(rule)).read_text().strip() == job_id
    except OSError:
        return False


def refuse_retry(workflow_dir: Path, rule: str, failure: dict[str, Any]) -> str | None:
    """Why the launcher ends Snakemake's retry at once instead of running the experiment again, or None:
    ``failure`` (its failure record) is from this run, and ``sfgen cancel`` stopped it, or it was not a stop
    (the launcher was signalled, or the experiment ended by SIGTERM, SIGINT or SIGHUP, which Slurm may send
    it directly)."""
    run = os.environ.get(RUN_ID_ENV)
    if not (run and failure.get("slurm_run") == run):
        return None
    if cancelled(workflow_dir, rule, failure.get("slurm_job_id")):
        return "cancelled with sfgen cancel earlier in this run: not run again"
    if not failure.get("interrupted") and failure.get("exit_code") not in _STOP_CODES:
        return f"failed on its own earlier in this run (exit {failure.get('exit_code')}): not run again"
    return None
