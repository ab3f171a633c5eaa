"""This workflow's Slurm jobs, as ``squeue`` lists them, and the one change sfgen makes to a live job.

Snakemake's slurm plugin submits every experiment with ``--comment rule_RULE`` and the workflow dir as
its working directory (``-D``); together they tell this workflow's jobs from other workflows' jobs with
the same rule names. A job packing several experiments (``sfgen.slurm.pack``) has the comment
``sfgen_bundle_TOKEN`` instead, and its experiments are in the workflow's bundle record for TOKEN.
Queued jobs have no log file yet, so ``squeue`` is where their ids are. ``squeue`` is asked once per
call, with a bounded wait: ``sfgen status`` and the start of a run both use it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from sfgen.exceptions import ClusterQueryError
from sfgen.layout import CANCEL_REQUESTS_DIR, SLURM_BUNDLES_DIR, slurm_bundle
from sfgen.markers import read_record
from sfgen.slurm.job import cancelled

QUERY_TIMEOUT_S = 30
BUNDLE_COMMENT = "sfgen_bundle_"
# squeue keeps finished jobs for MinJobAge; these states mean the job is over.
FINAL_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
})


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    state: str  # squeue's word: PENDING, RUNNING, ...
    bundle: str | None = None  # the token of a job packing several experiments (its record's name)


def job_order(job_id: str) -> tuple[int, ...]:
    """Slurm ids (``123``, arrays ``123_4``) grow with time: the largest is the latest."""
    return tuple(int(part) if part.isdigit() else -1 for part in job_id.split("_"))


def _call(argv: list[str]) -> subprocess.CompletedProcess:
    """Run a Slurm client with a bounded wait; a ClusterQueryError saying what went wrong otherwise."""
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ClusterQueryError(f"{argv[0]} did not answer within {QUERY_TIMEOUT_S} s") from None
    except OSError as error:
        raise ClusterQueryError(f"cannot run {argv[0]}: {error.strerror}") from None
    if result.returncode != 0:
        problem = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise ClusterQueryError(f"{argv[0]} failed: {problem}")
    return result


def live_jobs(workflow_dir: Path) -> dict[str, SlurmJob]:
    """rule -> its latest job of this workflow that is still queued or running (empty without Slurm)."""
    if shutil.which("squeue") is None:
        return {}
    result = _call(["squeue", "--me", "-h", "-o", "%i|%T|%k|%Z"])
    here = os.path.realpath(workflow_dir)
    live: dict[str, SlurmJob] = {}
    for line in result.stdout.splitlines():
        job_id, state, comment, directory = (line.split("|", 3) + ["", "", ""])[:4]
        if state in FINAL_STATES or os.path.realpath(directory) != here:
            continue
        if comment.startswith("rule_"):
            rules, job = [comment[len("rule_") :]], SlurmJob(job_id, state)
        elif comment.startswith(BUNDLE_COMMENT):
            token = comment[len(BUNDLE_COMMENT) :]
            record = read_record(workflow_dir / slurm_bundle(token)) or {}
            rules, job = record.get("rules") or [], SlurmJob(job_id, state, bundle=token)
        else:
            continue
        for rule in rules:
            if rule not in live or job_order(job_id) > job_order(live[rule].job_id):
                live[rule] = job
    return live


def forget_ended(workflow_dir: Path, live: dict[str, SlurmJob]) -> None:
    """Remove the records of bundles, and the cancel requests, whose job is not live (while no Snakemake
    submits: at its start)."""
    keep = {f"{job.bundle}.json" for job in live.values() if job.bundle}
    with suppress(FileNotFoundError):
        for entry in os.scandir(workflow_dir / SLURM_BUNDLES_DIR):
            if entry.name.endswith(".json") and entry.name not in keep:
                os.unlink(entry.path)
    with suppress(FileNotFoundError):
        for entry in os.scandir(workflow_dir / CANCEL_REQUESTS_DIR):
            job = live.get(entry.name)
            if job is None or not cancelled(workflow_dir, entry.name, job.job_id):
                with suppress(OSError):
                    os.unlink(entry.path)


def cancel(job_ids: list[str]) -> None:
    """``scancel`` the jobs (Snakemake, when it runs, sees them end and records them failed)."""
    if job_ids:
        _call(["scancel", *job_ids])


def rename(job_id: str, name: str) -> None:
    """Give a live job another name (``scontrol update``): Snakemake's slurm plugin asks Slurm about the
    jobs named after its own run, so a job renamed so is followed exactly as one it submitted."""
    _call(["scontrol", "update", f"JobId={job_id}", f"JobName={name}"])
