"""Local records of submitted NGC jobs, ``.sfgen/ngc/JOBID.json`` in the workflow dir.

Snakemake hands the status and cancel programs nothing but the job id; the record written at submission
says which experiment the job runs and how to reach it (ngc path, --org/--team/--ace), and keeps the
verdict once the job has ended so that a repeated status query costs no API call.
``.sfgen/ngc/rules/RULE.json`` names the latest job of each experiment, so that a rerun after Snakemake
died re-attaches to a job still running instead of paying for a second one. ``.sfgen/ngc/stopping`` holds
the token of the run being stopped (written by the sidecar), so that its status checks stop waiting for NGC.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.explog import note, now
from sfgen.layout import NGC_JOBS_DIR
from sfgen.markers import read_record, write_record
from sfgen.spec import ExperimentSpec

JOBS_DIR = NGC_JOBS_DIR
TOKEN_ENV = "SNAKEMAKE_CLUSTER_SIDECAR_VARS"  # how cluster-generic passes the sidecar's token (its run) to the commands
STOPPING = JOBS_DIR / "stopping"
JOB_LABEL = "NGC job"  # how records and views name a job: "NGC job 42"


def checked_id(job: str) -> str:
    """An NGC job id is a number; anything else is refused before it is used in a path or a call."""
    if not re.fullmatch(r"\d+", job):
        raise SfgenError(f"{job!r} is not an NGC job id: expected a number")
    return job


def path(workflow_dir: Path, job: str) -> Path:
    return workflow_dir / JOBS_DIR / f"{checked_id(job)}.json"


def save(workflow_dir: Path, record: dict[str, Any]) -> None:
    write_record(path(workflow_dir, record["job_id"]), record)


def job_name(job_id: str) -> str:
    """How records and views name the job: ``NGC job 42``."""
    return f"{JOB_LABEL} {job_id}"


def point(workflow_dir: Path, rule: str, job: str) -> None:
    """Make ``job`` the latest job of the experiment ``rule`` (``job``: how views name it)."""
    write_record(workflow_dir / JOBS_DIR / "rules" / f"{rule}.json", {"job_id": job, "job": job_name(job)})


def latest(workflow_dir: Path, rule: str) -> dict[str, Any] | None:
    """The record of the experiment's latest job, None if it has none."""
    pointer = read_record(workflow_dir / JOBS_DIR / "rules" / f"{rule}.json")
    return read_record(path(workflow_dir, str(pointer["job_id"]))) if pointer else None


def unfinished(workflow_dir: Path, run: str) -> list[str]:
    """Jobs that Snakemake run ``run`` submitted or re-attached to and that have neither ended nor been killed."""
    records = (read_record(record) for record in (workflow_dir / JOBS_DIR).glob("*.json"))
    return [r["job_id"] for r in records if r and r.get("run") == run and not r.get("verdict") and not r.get("cancelled")]


def mark_stopping(workflow_dir: Path, run: str) -> None:
    """Note that Snakemake run ``run`` is being stopped (the next run has another token: nothing to clean up)."""
    write_record(workflow_dir / STOPPING, {"run": run, "since": now()})


def stopping(workflow_dir: Path, run: str | None) -> bool:
    """Whether Snakemake run ``run`` is being stopped."""
    record = read_record(workflow_dir / STOPPING) if run else None
    return record is not None and record.get("run") == run


def load(workflow_dir: Path, job: str) -> dict[str, Any]:
    record = read_record(path(workflow_dir, job))
    if record is None:
        raise SfgenError(
            f"no record of NGC job {job} in {workflow_dir / JOBS_DIR}: it was not submitted by sfgen from this workflow"
        )
    return record


def log(workflow_dir: Path, spec: ExperimentSpec, line: str) -> None:
    """Note a step of the NGC job in the experiment's log (its output stays with NGC)."""
    note(workflow_dir / spec.log, line)
