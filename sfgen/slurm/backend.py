"""The Slurm backend's side of the interface (``sfgen.backend``): Snakemake's slurm executor plugin."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sfgen.backend import Backend, LiveJob, record_run_options
from sfgen.exceptions import ClusterQueryError, SfgenError
from sfgen.layout import RUN_OPTIONS, SLURM_LOG_DIR, cancel_request, marker, slurm_bundle_log, slurm_job_log
from sfgen.markers import read_record, write_atomic
from sfgen.slurm.job import JOB_LABEL
from sfgen.spec import ExperimentSpec


def _recorded_log_dir(workflow_dir: Path) -> str | None:
    """The slurm_workdir the last Slurm run kept its job logs in, if it had one."""
    return ((read_record(workflow_dir / RUN_OPTIONS) or {}).get("options") or {}).get("slurm_workdir")


def _submitted_here(workflow_dir: Path) -> bool:
    """Whether Snakemake's slurm plugin has submitted from this workflow: it makes its log dir (the default
    one, or slurm_workdir) before the first sbatch. Saves a squeue call for every other workflow."""
    if (workflow_dir / SLURM_LOG_DIR).is_dir():
        return True
    logdir = _recorded_log_dir(workflow_dir)
    return bool(logdir) and (workflow_dir / logdir).is_dir()


_TOOLS = ("sbatch", "squeue", "scancel")  # the plugin submits, follows and cancels with them


def _require_tools() -> None:
    """A one-line error when a Slurm command is not on PATH, before anything is submitted: the plugin
    would otherwise fail on every job (``[Errno 2] No such file or directory: 'sacct'``) and a rerun of
    the same command could not help."""
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        absent = "none of them is" if len(missing) == len(_TOOLS) else f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'}"
        raise SfgenError(
            f"a Slurm run needs Slurm's sbatch, squeue and scancel on PATH, and {absent} there: run it where jobs "
            "are submitted to the cluster (a login node), or put Slurm's commands on PATH"
        )


class Slurm(Backend):
    name = "slurm"
    runner = "slurm"
    executor = "slurm"
    print_only_option = "slurm_print_only"
    job_id_field = "slurm_job_id"
    job_label = JOB_LABEL

    def compile_options(self, options: dict[str, Any], specs: list[ExperimentSpec], out: Path) -> dict[str, Any]:
        from sfgen.slurm import compile_options

        return compile_options(options, out)  # template text, #SBATCH lines, checks

    def resources(self, config: dict[str, Any]) -> dict[str, Any]:
        from sfgen.slurm.resources import rule_resources

        return rule_resources(config)

    def check_run(self, options: dict[str, Any]) -> None:
        _require_tools()

    def print_only(self, specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
        from sfgen.slurm import print_submissions

        return print_submissions(specs, options)

    def on_start(self, workflow: Any, config: dict[str, Any]) -> None:
        from sfgen.slurm import session

        try:
            _require_tools()  # `snakemake --profile profiles/slurm` too: one line, nothing submitted
        except SfgenError as error:  # Snakemake prints a SystemExit's message alone, as a line
            raise SystemExit(f"sfgen: error: {error}") from None
        record_run_options(workflow, config)
        session.start(workflow, config)

    def live_jobs(self, workflow_dir: Path, rules: set[str], warn: Any) -> dict[str, LiveJob]:
        if not _submitted_here(workflow_dir):
            return {}
        from sfgen.slurm.jobs import live_jobs

        try:
            return {rule: LiveJob(job.job_id, job.state) for rule, job in live_jobs(workflow_dir).items() if rule in rules}
        except ClusterQueryError as error:
            warn(f"{error}: Slurm jobs are not shown as running")
            return {}

    def job_log(self, workflow_dir: Path, rule: str, job_id: str) -> str | None:
        """Slurm's log of the job, of its own or a bundle's, in the default log dir or slurm_workdir."""
        for base in filter(None, (str(SLURM_LOG_DIR), _recorded_log_dir(workflow_dir))):
            for log in (slurm_job_log(base, rule, job_id), slurm_bundle_log(base, job_id)):
                if (workflow_dir / log).is_file():
                    return str(log)
        return None

    def cancel(self, workflow_dir: Path, jobs: dict[str, LiveJob]) -> list[str]:
        """Request each experiment's stop, naming its job: this run's retries then do not run it again
        (``sfgen.slurm.job``). ``scancel`` the jobs, except one that packs other unfinished experiments too:
        its runner stops just these (``sfgen.slurm.bundle`` looks for the request every second)."""
        from sfgen.slurm.jobs import cancel, live_jobs

        try:
            members: dict[str, set[str]] = {}
            for rule, job in live_jobs(workflow_dir).items():
                if not (workflow_dir / marker(rule)).is_file():
                    members.setdefault(job.job_id, set()).add(rule)
            for rule, job in jobs.items():
                write_atomic(workflow_dir / cancel_request(rule), job.job_id + "\n")
            cancel(sorted({job.job_id for job in jobs.values() if members.get(job.job_id, set()) <= set(jobs)}))
        except ClusterQueryError as error:
            return [str(error)]
        return []


BACKEND = Slurm()
