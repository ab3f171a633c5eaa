"""Every use of a Snakemake internal that sfgen makes while a workflow runs, in one place.

Snakemake's public interface (rules, profiles, resources, the executor plugins' settings) covers most
of what sfgen needs. What it does not cover is listed here, each with why and what happens without it;
every use goes through a function below, so a Snakemake release that moves one of them breaks one
function, and the rest of sfgen names no internal. Checked against Snakemake 9.x and
snakemake-executor-plugin-slurm 2.x (see pyproject.toml for the range the tests cover).

* The scheduler's executor (``workflow.scheduler._executor``) and its ``run_jobs`` /
  ``report_job_error``: re-attaching to a live Slurm job of an earlier run instead of submitting the
  experiment again, and recording a job that died before sfgen's launcher started. Without them a
  rerun after a crash of Snakemake submits live experiments a second time (the launcher then refuses to
  run them twice, at the cost of a queue slot), and such a job shows as pending.
  The same hook submits experiments packed several to a Slurm job (``slurm_experiments_per_job``) and
  reports each with its bundle's job id; without it, each experiment is submitted as a job of its own.
* The scheduler's job counts (``global_resources["_nodes"]``, ``job_rate_limiter``): with K experiments
  per Slurm job, ``--jobs`` and ``--max-jobs-per-timespan`` are scaled by K so that they count Slurm jobs
  and Snakemake hands over whole bundles; without it, bundles may go out part-filled.
* The slurm plugin's run name (``executor.run_uuid``): the job name it filters its status queries by.
* The slurm plugin's log dir (``executor.slurm_logdir``), set from the workflow's ``slurm_workdir``
  when no ``--slurm-logdir`` was given: a profile cannot read the compiled options.
* The slurm plugin's ``status_command`` setting, changed at the start where ``sacct`` cannot work
  (``sfgen.slurm.session``); without it a run on a cluster without accounting waits forever.
* ``execution_settings.retries``: raised for a run with a Slurm time limit so that stopped experiments
  are resubmitted; without it they fail and the next run resubmits them.
* ``global_resources`` (``_nodes`` tells a local run at parse time; ``sfgen_jobs`` bounds the local
  launchers) and ``resource_settings.cores`` (Snakemake runs local jobs on ``cores + 5`` threads):
  without them a local run starts at most ``cores`` launchers, and a sweep runs one at a time.
* The scheduler's ``job_rate_limiter``: the first wave of local launchers is paced a quarter second
  apart; without it they all start at once (speed only).
* Snakemake's logger (``snakemake.logging``) and its log events (``snakemake_interface_logger_plugins``):
  its "Cannot restore ...: no backup found" warning, which Snakemake prints for every failed job because
  the markers are flagged ``update()``, is dropped (there is nothing to restore: a failed experiment never
  had a marker), and so is the block announcing ``rule all``, whose ``input:`` line names every marker
  (kilobytes for a large sweep). Without it, those lines are printed.
* A remote executor's ``wait`` flag, cleared when sfgen refuses a run at its start (``onstart``: the
  workflow is already running elsewhere, the backend cannot start). Snakemake shuts its executor down
  only from the scheduler's loop, which an error in ``onstart`` never reaches, and the cluster-generic
  executor's sidecar threads (``profiles/ngc``) run until that flag is cleared and are not daemons.
  (``shutdown()`` clears it too, but first waits out a whole status-check interval.) Without it, such a
  refused ``snakemake --profile profiles/ngc`` prints its error and never exits.
* Snakemake's ``threading.Timer`` s, cancelled at the end: its rate limiter leaves one per round, which
  keeps a finished Snakemake alive for up to a second (speed only).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Attach:
    """Follow this live cluster job instead of submitting the experiment."""

    job_id: str
    log: Path  # the job's own log, as the executor would have named it


DONE = "done"  # the experiment's marker already exists: report success, submit nothing

Route = Attach | str | None  # None: submit as usual
BeforeSubmit = Callable[[str], Route]  # rule -> route
# rules to submit -> (rules submitted together, their job or why it could not be submitted), for every rule
Pack = Callable[[list[str]], list[tuple[list[str], Attach | str]]]
OnError = Callable[[str, str | None, Path | None, str | None], bool]  # rule, job id, job log, message -> done?


def _executor(workflow: Any) -> Any | None:
    scheduler = getattr(workflow, "scheduler", None)
    return getattr(scheduler, "_executor", None)


def intercept_submissions(workflow: Any, before_submit: BeforeSubmit, on_error: OnError, pack: Pack | None = None) -> bool:
    """Ask ``before_submit`` about every job before the executor submits it, and tell ``on_error`` about
    every job the executor reports failed; where ``on_error`` answers that the experiment is done after
    all (its marker exists), report success instead, so that Snakemake does not delete the marker as the
    output of a failed job. With ``pack``, the jobs to submit are submitted by it, several to a cluster
    job, instead of by the executor. False (nothing changed) where the internals are missing."""
    executor = _executor(workflow)
    try:
        from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

        submit, report_error, report_success = executor.run_jobs, executor.report_job_error, executor.report_job_success
    except (ImportError, AttributeError):
        print(
            "sfgen: warning: this Snakemake's executor cannot be asked before it submits: live jobs of an earlier "
            "run are not re-attached (their experiments' launchers still refuse to run them twice)",
            file=sys.stderr,
        )
        return False

    def run_jobs(jobs: list[Any]) -> None:
        to_submit = []
        for job in jobs:
            route = None if job.is_group() else before_submit(job.rule.name)
            if route is None:
                to_submit.append(job)
                continue
            executor.run_job_pre(job)  # Snakemake's "rule ..." block, as for a submission
            if route == DONE:
                executor.report_job_success(SubmittedJobInfo(job))
            else:
                executor.report_job_submission(
                    SubmittedJobInfo(job, external_jobid=route.job_id, aux={"slurm_logfile": route.log})
                )
        if to_submit and pack is None:
            submit(to_submit)
        elif to_submit:
            by_rule = {job.rule.name: job for job in to_submit}
            for rules, outcome in pack(list(by_rule)):
                for job in (by_rule[rule] for rule in rules):
                    executor.run_job_pre(job)
                    if isinstance(outcome, Attach):
                        executor.report_job_submission(
                            SubmittedJobInfo(job, external_jobid=outcome.job_id, aux={"slurm_logfile": outcome.log})
                        )
                    else:
                        executor.report_job_error(SubmittedJobInfo(job), msg=outcome)

    def report_job_error(job_info: Any, msg: str | None = None, **kwargs: Any) -> None:
        job = job_info.job
        if not job.is_group():
            log = (job_info.aux or {}).get("slurm_logfile")
            if on_error(job.rule.name, job_info.external_jobid, Path(log) if log else None, msg):
                report_success(job_info)
                return
        report_error(job_info, msg=msg, **kwargs)

    executor.run_jobs = run_jobs
    executor.report_job_error = report_job_error
    return True


def count_cluster_jobs(workflow: Any, per_job: int) -> None:
    """With ``per_job`` experiments in each cluster job: let ``--jobs`` and ``--max-jobs-per-timespan``
    count cluster jobs instead of experiments (Snakemake counts one job per experiment), in whole bundles."""
    scheduler = getattr(workflow, "scheduler", None)
    with suppress(AttributeError, KeyError, TypeError):
        for resources in (scheduler.global_resources, scheduler.resources):
            if resources["_nodes"] < sys.maxsize // per_job:
                resources["_nodes"] *= per_job
    with suppress(ImportError, AttributeError):
        from snakemake.scheduling.job_scheduler import JobRateLimiter
        from snakemake.settings.types import MaxJobsPerTimespan

        limiter = scheduler.job_rate_limiter
        if limiter is not None:
            limit = MaxJobsPerTimespan(limiter.max_jobs * per_job)
            limit.timespan = limiter.timespan
            scheduler.job_rate_limiter = JobRateLimiter(limit)


def slurm_run_name(workflow: Any) -> str | None:
    """The name the slurm plugin gives this run's jobs and asks ``squeue``/``sacct`` about."""
    return getattr(_executor(workflow), "run_uuid", None)


def slurm_logdir(workflow: Any) -> Path | None:
    """Where the slurm plugin puts its job logs (``rule_RULE/JOBID.log`` below it)."""
    return getattr(_executor(workflow), "slurm_logdir", None)


def use_slurm_logdir(workflow: Any, logdir: str) -> bool:
    """Send Slurm's job logs to ``logdir`` (relative: to the workflow dir) and keep them all, as
    ``--slurm-logdir DIR --slurm-keep-successful-logs`` would, unless a log dir was given already."""
    settings = workflow.executor_settings
    executor = _executor(workflow)
    if getattr(settings, "logdir", None) or not hasattr(executor, "slurm_logdir"):
        return False
    settings.logdir = Path(logdir)
    settings.keep_successful_logs = True
    executor.slurm_logdir = Path(workflow.workdir_init) / logdir
    return True


def status_command(workflow: Any) -> str | None:
    return getattr(workflow.executor_settings, "status_command", None)


def set_status_command(workflow: Any, command: str | None) -> None:
    workflow.executor_settings.status_command = command


def raise_retries(workflow: Any, retries: int) -> bool:
    """Retry failed jobs up to ``retries`` times, unless more were asked for; True if raised."""
    settings = workflow.execution_settings
    if settings.retries >= retries:
        return False
    settings.retries = retries
    return True


def runs_locally(workflow: Any) -> bool:
    """At parse time: True for a local run (Snakemake got --cores, not --jobs, as its scheduler decides)."""
    return workflow.global_resources["_nodes"].value is None and not workflow.remote_exec


def limits_resource(workflow: Any, name: str) -> bool:
    """Whether ``--resources`` (or the profile) already bounds ``name``."""
    return name in workflow.global_resources


def limit_local_jobs(workflow: Any, jobs: int) -> None:
    """Let at most ``jobs`` experiment jobs run at once (each asks ``sfgen_jobs=1``), with a thread each:
    the experiments take no cores (``threads: 0``), so cores, which nothing else here uses, is raised."""
    workflow.global_resources["sfgen_jobs"] = jobs
    settings = workflow.resource_settings
    if settings.cores is not None and settings.cores + 5 < jobs:
        settings.cores = jobs
        workflow.global_resources["_cores"] = jobs


def pace_job_starts(workflow: Any, jobs: int, per: str) -> None:
    """Start at most ``jobs`` jobs per ``per`` (e.g. ``"0.25s"``): Snakemake's own --max-jobs-per-timespan
    cannot go below a second, its rate limiter can. Speed only: without these internals, no pacing."""
    with suppress(ImportError, AttributeError):
        from snakemake.scheduling.job_scheduler import JobRateLimiter
        from snakemake.settings.types import MaxJobsPerTimespan

        workflow.scheduler.job_rate_limiter = JobRateLimiter(MaxJobsPerTimespan(jobs, per))


def release_executor(workflow: Any) -> None:
    """Let the executor's threads end in a run refused at its start, so that the process exits (module
    docstring). Nothing was submitted, so nothing else needs shutting down."""
    executor = _executor(workflow)
    lock = getattr(executor, "lock", None)
    if lock is not None and hasattr(executor, "wait"):
        with lock:
            executor.wait = False


def cancel_timers() -> None:
    """Cancel Snakemake's pending re-scheduling timers, which would keep a finished run alive a second."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


class _Quieter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Cannot restore "):
            return False
        try:
            from snakemake_interface_logger_plugins.common import LogEvent
        except ImportError:
            return True
        return not (getattr(record, "event", None) == LogEvent.JOB_INFO and getattr(record, "rule_name", None) == "all")


def quiet_noise() -> None:
    """Drop Snakemake's "Cannot restore MARKER" warnings and its ``rule all`` block (module docstring)."""
    logger = logging.getLogger("snakemake.logging")
    if not any(isinstance(each, _Quieter) for each in logger.filters):
        logger.addFilter(_Quieter())
