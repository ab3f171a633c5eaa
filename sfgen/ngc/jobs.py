"""Local records of submitted NGC jobs, ``.sfgen/ngc/JOBID.json`` in the workflow dir.

Snakemake hands the status and cancel programs nothing but the job id; the record written at submission
says which experiment the job runs and how to reach it (ngc path, --org/--team/--ace), and keeps the
verdict once the job has ended so that a repeated status query costs no API call.
``.sfgen/ngc/rules/RULE.json`` names the latest job of each experiment, so that a rerun after Snakemake
died re-attaches to a job still running instead of paying for a second one.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.markers import read_record, write_record
from sfgen.spec import ExperimentSpec

JOBS_DIR = Path(".sfgen") / "ngc"


def checked_id(job: str) -> str:
    """An NGC job id is a number; anything else is refused before it is used in a path or a call."""
    if not re.fullmatch(r"\d+", job):
        raise SfgenError(f"{job!r} is not an NGC job id: expected a number")
    return job


def path(workflow_dir: Path, job: str) -> Path:
    return workflow_dir / JOBS_DIR / f"{checked_id(job)}.json"


def save(workflow_dir: Path, record: dict[str, Any]) -> None:
    write_record(path(workflow_dir, record["job_id"]), record)


def point(workflow_dir: Path, rule: str, job: str) -> None:
    """Make ``job`` the latest job of the experiment ``rule``."""
    write_record(workflow_dir / JOBS_DIR / "rules" / f"{rule}.json", {"job_id": job})


def latest(workflow_dir: Path, rule: str) -> dict[str, Any] | None:
    """The record of the experiment's latest job, None if it has none."""
    pointer = read_record(workflow_dir / JOBS_DIR / "rules" / f"{rule}.json")
    return read_record(path(workflow_dir, str(pointer["job_id"]))) if pointer else None


def unfinished(workflow_dir: Path, run: str) -> list[str]:
    """Jobs that Snakemake run ``run`` submitted or re-attached to and that have neither ended nor been killed."""
    records = (read_record(record) for record in (workflow_dir / JOBS_DIR).glob("*.json"))
    return [r["job_id"] for r in records if r and r.get("run") == run and not r.get("verdict") and not r.get("cancelled")]


def load(workflow_dir: Path, job: str) -> dict[str, Any]:
    record = read_record(path(workflow_dir, job))
    if record is None:
        raise SfgenError(
            f"no record of NGC job {job} in {workflow_dir / JOBS_DIR}: it was not submitted by sfgen from this workflow"
        )
    return record


def now() -> str:
    """A local timestamp for records and log lines, as the launcher writes them."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def log(workflow_dir: Path, spec: ExperimentSpec, line: str) -> None:
    """Note a step of the NGC job in the experiment's log (its output stays with NGC)."""
    path = workflow_dir / spec.log
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"==== sfgen {now()} {line}\n")
