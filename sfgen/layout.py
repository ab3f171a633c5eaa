"""The workflow directory: the one module that names its files. Paths are relative to the directory
holding the Snakefile; every part of sfgen (compile, the Snakefile, launchers, cluster programs, status)
finds a file through here, so moving one means editing one line.

    Snakefile, profiles/{local,slurm,ngc}/       written by ``sfgen compile``
    markers/RULE.done                            completion marker: written only after exit 0
    markers/RULE.failed                          the last failed attempt
    markers/RULE.done.corrupt[-NS]               a corrupt marker, set aside by a job of a run
    logs/RULE.log                                the experiment's output, every attempt appended
    .sfgen/snakemake.lock                        held by the Snakemake running the workflow
    .sfgen/options.json                          a cluster run's effective options, for its programs
    .sfgen/running/RULE.lock, RULE.json          held, and where and since when, while it runs
    .sfgen/failed/RULE.json                      a launcher's own failure, where markers/ was not writable
    .sfgen/attempts.json                         what ``sfgen report`` has read of the logs' attempts
    .sfgen/run-slots/runN.lock                   a local run's max_parallel slots
    .sfgen/slots/                                GPU slots (option slot_dir; may be shared)
    .sfgen/slurm/RULE.sh                         a Slurm job's script, from the sbatch template
    .sfgen/slurm-bundles/TOKEN.json              the experiments of a Slurm job packing several
    .sfgen/cancel/RULE                           the Slurm job ``sfgen cancel`` stopped RULE in
    .sfgen/ngc/JOBID.json, rules/RULE.json       NGC job records, and each experiment's latest job
    .snakemake/slurm_logs/rule_RULE/JOBID.log    Slurm's job logs (the slurm plugin's default dir)
    .snakemake/slurm_logs/bundles/JOBID.log      ... of a job packing several experiments
"""

from __future__ import annotations

from pathlib import Path

MARKERS = "markers"
LOGS = "logs"
STATE = Path(".sfgen")
SNAKEMAKE_LOCK = STATE / "snakemake.lock"
RUN_OPTIONS = STATE / "options.json"
RUNNING_DIR = STATE / "running"
FAILED_ELSEWHERE_DIR = STATE / "failed"
ATTEMPTS_CACHE = STATE / "attempts.json"
RUN_SLOTS_DIR = STATE / "run-slots"
SLOT_DIR = str(STATE / "slots")
SLURM_SCRIPTS_DIR = STATE / "slurm"
SLURM_BUNDLES_DIR = STATE / "slurm-bundles"
CANCEL_REQUESTS_DIR = STATE / "cancel"
NGC_JOBS_DIR = STATE / "ngc"
SLURM_LOG_DIR = Path(".snakemake") / "slurm_logs"


def marker(rule: str) -> str:
    return f"{MARKERS}/{rule}.done"


def failure(rule: str) -> str:
    return f"{MARKERS}/{rule}.failed"


def log(rule: str) -> str:
    return f"{LOGS}/{rule}.log"


def failure_elsewhere(rule: str) -> Path:
    """Where a launcher records its own failure when ``failure(rule)`` cannot be written."""
    return FAILED_ELSEWHERE_DIR / f"{rule}.json"


def slurm_job_log(log_dir: Path | str, rule: str, job_id: str) -> Path:
    """Where Snakemake's slurm plugin has Slurm write a job's log, below ``log_dir``."""
    return Path(log_dir) / f"rule_{rule}" / f"{job_id}.log"


def slurm_bundle_log(log_dir: Path | str, job_id: str) -> Path:
    """Where sfgen has Slurm write the log of a job packing several experiments, below ``log_dir``."""
    return Path(log_dir) / "bundles" / f"{job_id}.log"


def slurm_bundle(token: str) -> Path:
    """The record naming the experiments of the bundle submitted with comment ``sfgen_bundle_TOKEN``."""
    return SLURM_BUNDLES_DIR / f"{token}.json"


def cancel_request(rule: str) -> Path:
    """Holds the id of the Slurm job ``sfgen cancel`` stopped ``rule`` in: a bundle's runner stops just
    that experiment, and this run's retries do not run it again (``sfgen.slurm.job.cancelled``)."""
    return CANCEL_REQUESTS_DIR / rule
