"""A Slurm run, decided when Snakemake starts: how to see jobs end, and which failures to resubmit.

Status command: the slurm plugin (2.8) checks jobs with ``sacct`` whenever the binary exists. Without
an accounting database ``sacct`` fails on every check and Snakemake waits for the jobs forever. So
sfgen asks ``sacct`` once at the start and, when it does not answer, has the plugin use ``squeue``
(finished jobs stay visible there for the cluster's MinJobAge). A status command the user set
explicitly to ``squeue`` is kept; ``sacct`` is only replaced where it cannot work.

Timeouts: with ``slurm_runtime`` set, Snakemake retries failed jobs up to ``slurm_timeout_retries``
times, and the trainer resumes from its checkpoint. Only experiments that Slurm stopped (time limit,
preemption, cancel: the launcher was signalled) run again: a retry of one that failed on its own in
this run ends at once with the same exit code, so a crashing experiment costs no GPU hours. The run
id, exported to every job (the plugin submits with ``--export=ALL``), tells this run's failures from
earlier runs' ones, which a new run always redoes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from typing import Any

RUN_ID_ENV = "SFGEN_SLURM_RUN"
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


def start(workflow: Any, config: dict[str, Any]) -> None:
    """Before the first submission of a run with the slurm executor: status command, run id, retries."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    settings = workflow.executor_settings
    settings.status_command = choose_status_command(settings.status_command)
    os.environ[RUN_ID_ENV] = uuid.uuid4().hex
    retries = config.get("slurm_timeout_retries") or 0
    if config.get("slurm_runtime") and workflow.execution_settings.retries < retries:
        workflow.execution_settings.retries = retries
        _say(f"time limit {config['slurm_runtime']} min: experiments Slurm stops are resubmitted up to {retries} times")


_STOP_CODES = {128 + signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGHUP}  # how Slurm and users stop jobs


def failed_on_its_own_in_this_run(failure: dict[str, Any] | None) -> bool:
    """True when ``failure`` (an experiment's failure record) is from this run and not a stop (the launcher
    was signalled, or the experiment ended by SIGTERM, SIGINT or SIGHUP, which Slurm may send it directly):
    the launcher then ends Snakemake's retry at once instead of running the experiment again."""
    run = os.environ.get(RUN_ID_ENV)
    if not (run and failure and failure.get("slurm_run") == run):
        return False
    return not failure.get("interrupted") and failure.get("exit_code") not in _STOP_CODES
