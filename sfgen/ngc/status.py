"""``sfgen-ngc-status JOBID``: Snakemake's cluster-generic status command for NGC.

Prints exactly one of running, success, failed. Snakemake aborts the whole workflow when this program
exits non-zero, so a failing ``ngc batch info`` (the API answers 503 now and then) is retried and, if it
keeps failing, reported as ``running`` to be asked again at the next check. Each call waits
``INFO_TIMEOUT_S`` at most. Snakemake checks its jobs one after the other and waits for the check in
progress before it stops, so once the run is stopping (``jobs.stopping``) a call gets ``STOP_WAIT_S`` more
at most and is not retried, and a job whose state is then unknown is reported failed: Snakemake can end
(a job that could not be killed stays unfinished in its record: the next run re-attaches). The job ran remotely, so
when NGC reports FINISHED_SUCCESS the experiment's completion marker is written here, atomically, before
``success`` is printed (Snakemake then finds the rule's output); any failed state leaves a failure record.
The profile starts it with Ctrl-C ignored: dying of one makes the cluster-generic plugin (1.0.9) fail
on its own error path and forget the jobs it should cancel.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.explog import now
from sfgen.markers import attempt_record, write_record
from sfgen.ngc import api, jobs
from sfgen.spec import ExperimentSpec

ATTEMPTS = 3
BACKOFF_S = (0.5, 2.0)  # before the 2nd and 3rd attempt
INFO_TIMEOUT_S = 30.0  # one `ngc batch info`
STOP_WAIT_S = 5.0  # what a call may still take once the run is stopping


def _warn(job: str, message: str) -> None:
    print(f"sfgen-ngc-status: NGC job {job}: {message}", file=sys.stderr, flush=True)


def _ask(record: dict[str, Any], stopping: Callable[[], bool]) -> tuple[api.JobInfo | None, str]:
    """The job's state, trying ATTEMPTS times (once if the run is stopping); else None and what went wrong last."""
    command = api.info_command(record["ngc"], record["job_id"], record["scope"])
    abandon = api.grace_after(stopping, STOP_WAIT_S, "Snakemake is stopping")
    problem = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            if stopping():
                break
            time.sleep(BACKOFF_S[attempt - 1])
        try:
            result = api.call(command, INFO_TIMEOUT_S, abandon=abandon)
        except api.NoAnswer as error:
            problem = str(error)
            continue
        except OSError as error:
            problem = f"cannot run {command[0]}: {error.strerror}"
            continue
        info = api.job_info(result.stdout) if result.returncode == 0 else None
        if info is not None:
            return info, ""
        problem = api.last_line(result) if result.returncode else "its output shows no job status"
    return None, problem


def _seconds(start: str | None, end: str | None) -> float | None:
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


def _finish(workflow_dir: Path, record: dict[str, Any], info: api.JobInfo, verdict: str) -> None:
    """Record how the experiment ended: its marker on success (replacing an old failure), else a failure record."""
    spec = ExperimentSpec(**record["experiment"])
    exit_code = info.exit_code if info.exit_code is not None else (0 if verdict == "success" else None)
    result = attempt_record(
        spec,
        ngc_job_id=record["job_id"],
        job=jobs.job_name(record["job_id"]),
        ngc_status=info.status,
        exit_code=exit_code,
        submitted=record["submitted"],
        start=info.started,
        end=info.ended,
        duration_s=_seconds(info.started, info.ended),
        seen_ended=now(),
    )
    if verdict == "success":
        write_record(workflow_dir / spec.marker, result)
        (workflow_dir / spec.failure).unlink(missing_ok=True)
        jobs.log(workflow_dir, spec, f"NGC job {record['job_id']} ended {info.status}")
    else:
        result["interrupted"] = info.status.startswith("KILLED")
        write_record(workflow_dir / spec.failure, result)
        jobs.log(
            workflow_dir,
            spec,
            f"NGC job {record['job_id']} ended {info.status} (exit {exit_code}); "
            f"its output: ngc result download {record['job_id']}",
        )
    jobs.save(workflow_dir, {**record, "verdict": verdict, "ngc_status": info.status})


def status(workflow_dir: Path, job: str, run: str | None = None) -> str:
    """running, success or failed for one submitted job, checked by Snakemake run ``run``."""
    record = jobs.load(workflow_dir, job)
    if record.get("verdict"):
        return record["verdict"]
    stopping = lambda: jobs.stopping(workflow_dir, run)  # noqa: E731
    info, problem = _ask(record, stopping)
    if info is None and stopping():
        _warn(job, f"ngc batch info failed ({problem}): counted as failed; a rerun re-attaches to it if it runs")
        return "failed"
    if info is None:
        _warn(job, f"ngc batch info failed {ATTEMPTS} times ({problem}); asking again at the next check")
        return "running"
    verdict = api.verdict(info.status)
    if verdict is None:
        _warn(job, f"unknown NGC state {info.status!r}: counted as running")
        return "running"
    if verdict != "running":
        _finish(workflow_dir, record, info, verdict)
    return verdict


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: sfgen-ngc-status JOBID (Snakemake's cluster-generic status command)", file=sys.stderr)
        return 2
    try:
        verdict = status(Path.cwd(), args[0], os.environ.get(jobs.TOKEN_ENV))
    except SfgenError as error:
        _warn(args[0], f"{error}: counted as failed")
        verdict = "failed"
    print(verdict, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
