"""A Slurm run, decided when Snakemake starts: how to see jobs end, and which failures to resubmit.

Status command: the slurm plugin (2.8) checks jobs with ``sacct`` whenever the binary exists. Without
an accounting database ``sacct`` fails on every check and Snakemake waits for the jobs forever. So
sfgen asks ``sacct`` once at the start and, when it does not answer, has the plugin use ``squeue``
(finished jobs stay visible there for the cluster's MinJobAge). A status command the user set
explicitly to ``squeue`` is kept; ``sacct`` is only replaced where it cannot work.

Timeouts: with ``slurm_runtime`` set, Snakemake retries failed jobs up to ``slurm_timeout_retries``
times; the run id set here lets the launchers retry only what Slurm stopped (``sfgen.slurm.job``).

Re-attach: Snakemake on a login node can die (a reboot, a lost tmux) while its jobs go on. At the next
start the experiments that still have a job queued or running are followed, not submitted again
(:class:`Follower`), and a job that fails before sfgen's launcher could record anything (cancelled
while queued, a node failure) gets a failure record naming the job and its log.

Packing: with ``slurm_experiments_per_job`` above 1 the experiments to submit go out in bundles
(``sfgen.slurm.pack``), and Snakemake's ``--jobs`` and ``--max-jobs-per-timespan`` count Slurm jobs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sfgen import layout, snakemake_internals
from sfgen.exceptions import ClusterQueryError
from sfgen.explog import note, now
from sfgen.markers import attempt_record, read_record, write_record
from sfgen.parse_time import job_options
from sfgen.slurm.job import RUN_ID_ENV, cancelled, job_name, refuse_retry
from sfgen.slurm.jobs import SlurmJob, forget_ended, job_order, live_jobs, rename
from sfgen.slurm.pack import Packer
from sfgen.snakefile import find_experiment

MIN_JOB_AGE_NEEDED = 300  # s: the plugin checks at most 180 s apart; a finished job must still be listed


def _say(message: str) -> None:
    print(f"sfgen: {message}", file=sys.stderr, flush=True)


def _run(*argv: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def accounting_works() -> tuple[bool, str]:
    """Whether ``sacct`` answers here, and its complaint when it does not."""
    if shutil.which("sacct") is None:
        return False, "sacct is not installed"
    result = _run("sacct", "--noheader", "-X", "--jobs", "1", "--format=JobIDRaw")
    if result is None:
        return False, "sacct did not answer within 30 s"
    if result.returncode != 0:
        return False, (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
    return True, ""


def min_job_age() -> int | None:
    """The cluster's MinJobAge in seconds, from ``scontrol show config``."""
    result = _run("scontrol", "show", "config")
    match = re.search(r"^MinJobAge\s*=\s*(\d+)", result.stdout if result and result.returncode == 0 else "", re.MULTILINE)
    return int(match.group(1)) if match else None


def choose_status_command(current: str | None) -> str | None:
    """The status command to use instead of ``current`` (the plugin's setting), with the reason said."""
    if current != "sacct":
        return current
    works, complaint = accounting_works()
    if works:
        return "sacct"
    _say(f"sacct does not work here ({complaint}): Snakemake checks the jobs with squeue")
    age = min_job_age()
    if age is not None and age < MIN_JOB_AGE_NEEDED:
        _say(
            f"warning: squeue lists finished jobs for MinJobAge={age} s only; a job that ends between two status "
            f"checks (up to 180 s apart) can be missed and waited for forever: ask for MinJobAge >= "
            f"{MIN_JOB_AGE_NEEDED} or Slurm accounting"
        )
    return "squeue"


class Follower:
    """Decides, for each experiment Snakemake is about to submit, whether an earlier run's job already
    does it (follow that job, or report the experiment done), and records jobs that die unrecorded."""

    def __init__(self, workflow_dir: Path, snakefile: Path, run_name: str, log_dir: Path):
        self.workflow_dir = workflow_dir
        self.snakefile = snakefile
        self.run_name = run_name
        self.log_dir = log_dir
        try:
            live = live_jobs(workflow_dir)
        except ClusterQueryError as error:
            _say(f"warning: cannot see earlier runs' jobs ({error}): experiments are submitted even if one still "
                 "runs (its launcher will not run it twice)")
            live = {}
        else:
            forget_ended(workflow_dir, live)
        self.live: dict[str, SlurmJob] = {rule: job for rule, job in live.items() if not self._done(rule)}
        self.renamed: set[str] = set()  # a bundle's job is renamed once for all its experiments

    def _done(self, rule: str) -> bool:
        return (self.workflow_dir / layout.marker(rule)).is_file()

    def announce(self) -> None:
        if self.live:
            count = len(self.live)
            ids = ", ".join(sorted((job.job_id for job in self.live.values()), key=job_order))
            noun = "experiment" if count == 1 else "experiments"
            _say(f"{count} {noun} still queued/running in Slurm from an earlier run (jobs {ids}): "
                 "following them, not resubmitting")

    def route(self, rule: str) -> snakemake_internals.Route:
        """DONE if the experiment finished meanwhile, the live job to follow, or None: submit it."""
        if self._done(rule):
            return snakemake_internals.DONE
        job = self.live.pop(rule, None)
        if job is None:
            return None
        try:
            if job.job_id not in self.renamed:
                rename(job.job_id, self.run_name)  # the plugin asks Slurm about the jobs named after its run
                self.renamed.add(job.job_id)
        except ClusterQueryError as error:  # typically: it ended since the start
            if self._done(rule):
                return snakemake_internals.DONE
            _say(f"Slurm job {job.job_id} of {rule} cannot be followed ({error}): submitting the experiment anew")
            return None
        note(self.workflow_dir / find_experiment(self.snakefile, rule).log,
              f"following Slurm job {job.job_id} ({job.state}) from an earlier run: not submitted again")
        if job.bundle:
            log = layout.slurm_bundle_log(self.log_dir, job.job_id)
        else:
            log = layout.slurm_job_log(self.log_dir, rule, job.job_id)
        return snakemake_internals.Attach(job.job_id, log)

    def failed(self, rule: str, job_id: str | None, job_log: Path | None, message: str | None) -> bool:
        """A job Slurm reports failed: True if its experiment is done all the same (its marker exists: the
        job failed after the launcher recorded it); else record it, where its launcher left no record (it
        never started, or was killed), and False."""
        if self._done(rule):
            return True
        try:
            spec = find_experiment(self.snakefile, rule)
        except (KeyError, OSError, ValueError):
            return False
        recorded = read_record(self.workflow_dir / spec.failure) or {}
        if job_id is not None and recorded.get("slurm_job_id") == job_id:
            return False
        if refuse_retry(self.workflow_dir, rule, recorded):  # a retry its launcher ended at once: keep why
            return False
        said = (message or "").strip().splitlines()
        why = said[0] if said else "no reason given"
        stopped = cancelled(self.workflow_dir, rule, job_id)  # by sfgen cancel: this run's retries keep off it
        if stopped:
            reason = f"cancelled with sfgen cancel before it started (Slurm job {job_id})"
        elif job_id is None:
            reason = f"the experiment could not be submitted to Slurm: {why}"
        elif state := re.search(r"SLURM status is: '(\w+)'", why):  # the plugin's words (2.x)
            reason = f"Slurm job {job_id} ended {state.group(1)} before the experiment could run"
        else:
            reason = f"Slurm job {job_id} ended before the experiment could run: {why}"
        if job_log is not None and not job_log.is_file():  # it never started: Slurm wrote no log
            job_log = None
        record = attempt_record(
            spec,
            slurm_job_id=job_id,
            job=job_name(job_id),
            slurm_run=os.environ.get(RUN_ID_ENV) if stopped else None,
            exit_code=None,
            start=None,
            end=now(),
            duration_s=None,
            interrupted=stopped,
            reason=reason,
            job_log=os.path.relpath(job_log, self.workflow_dir) if job_log else None,
        )
        write_record(self.workflow_dir / spec.failure, record)
        note(self.workflow_dir / spec.log, record["reason"] + (f" (Slurm's log: {record['job_log']})" if job_log else ""))
        return False


def start(workflow: Any, config: dict[str, Any]) -> None:
    """Before the first submission: status command, run id, retries, job log dir, and re-attaching to
    the live jobs of an earlier run."""
    snakemake_internals.set_status_command(workflow, choose_status_command(snakemake_internals.status_command(workflow)))
    os.environ[RUN_ID_ENV] = uuid.uuid4().hex
    retries = config.get("slurm_timeout_retries") or 0
    if config.get("slurm_runtime") and snakemake_internals.raise_retries(workflow, retries):
        _say(f"time limit {config['slurm_runtime']} min: experiments Slurm stops are resubmitted up to {retries} times")
    if config.get("slurm_workdir"):
        snakemake_internals.use_slurm_logdir(workflow, config["slurm_workdir"])
    snakefile = Path(workflow.main_snakefile).resolve()
    run_name = snakemake_internals.slurm_run_name(workflow)
    log_dir = snakemake_internals.slurm_logdir(workflow)
    if run_name is None or log_dir is None:
        return
    follower = Follower(snakefile.parent, snakefile, run_name, Path(log_dir))
    per_job = config.get("slurm_experiments_per_job") or 1
    packer = None
    if per_job > 1:
        packer = Packer(snakefile, Path(workflow.workdir_init), run_name, Path(log_dir), config,
                        job_options(workflow, config))
    if snakemake_internals.intercept_submissions(workflow, follower.route, follower.failed,
                                                 packer.submit if packer else None):
        follower.announce()
        if packer is not None:
            snakemake_internals.count_cluster_jobs(workflow, per_job)
            _say(f"{per_job} experiments per Slurm job: --jobs and --max-jobs-per-timespan count Slurm jobs")
    elif packer is not None:
        _say("warning: this Snakemake cannot be asked before it submits: every experiment is a Slurm job of its own")
