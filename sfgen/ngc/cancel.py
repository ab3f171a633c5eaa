"""``sfgen-ngc-cancel JOBID...``: Snakemake's cluster-generic cancel command for NGC (e.g. on Ctrl-C).

Snakemake kills a cancel command after two seconds, and one slow API call must neither keep the other jobs
running nor go on for ever: the kills run in a detached process of their own session (so they finish even if
this program is stopped first), ``WAVE`` at a time, each ``ngc batch kill`` waiting ``KILL_TIMEOUT_S`` at
most. A job whose kill went through is marked cancelled, so that a rerun submits its experiment afresh; a
job that could not be killed keeps its record, so that a rerun re-attaches to it instead of paying twice.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.explog import now
from sfgen.ngc import api, jobs
from sfgen.spec import ExperimentSpec

WAIT_S = 1.5  # within Snakemake's 2 s; kills still running then go on in the background
KILL_TIMEOUT_S = 30.0  # one `ngc batch kill`
WAVE = 16  # kills at once


def _kill_command(workflow_dir: Path, job: str) -> tuple[list[str], dict[str, Any] | None]:
    """The kill for ``job`` and its record (None for a job sfgen did not submit: it is killed all the same)."""
    try:
        record = jobs.load(workflow_dir, job)
    except SfgenError:
        return api.kill_command("ngc", jobs.checked_id(job), []), None
    return api.kill_command(record["ngc"], job, record["scope"]), record


def kill(workflow_dir: Path, job: str, why: str) -> bool:
    """``ngc batch kill`` one job; whether it went through. If not, stderr says how to kill it by hand."""
    command, record = _kill_command(workflow_dir, job)
    try:
        result = api.call(command, KILL_TIMEOUT_S)
        problem = api.last_line(result) if result.returncode != 0 else ""
    except api.NoAnswer as error:
        problem = str(error)
    except OSError as error:
        problem = f"cannot run {command[0]}: {error.strerror}"
    if problem:
        print(
            f"{Path(sys.argv[0]).name}: could not kill NGC job {job} ({problem}): check it with `ngc batch info {job}` "
            f"and kill it with `{shlex.join(command)}` (a rerun re-attaches to it while it runs)",
            file=sys.stderr, flush=True,
        )
        return False
    if record is not None:
        jobs.save(workflow_dir, {**jobs.load(workflow_dir, job), "cancelled": now()})
        jobs.log(workflow_dir, ExperimentSpec(**record["experiment"]), f"{why}: killed NGC job {job}")
    return True


def kill_all(workflow_dir: Path, ids: list[str], why: str) -> bool:
    """Kill every job, ``WAVE`` at a time; whether all kills went through."""
    if not ids:
        return True
    with ThreadPoolExecutor(max_workers=min(WAVE, len(ids))) as pool:
        return all(list(pool.map(lambda job: kill(workflow_dir, job, why), ids)))


def cancel(workflow_dir: Path, ids: list[str], wait_s: float = WAIT_S) -> int:
    """Kill every job from a detached process, waiting for it ``wait_s`` at most; 1 if a kill failed."""
    for job in ids:
        jobs.checked_id(job)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.setsid()
            code = 0 if kill_all(workflow_dir, ids, "cancelled by Snakemake") else 1
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return 1 if os.waitstatus_to_exitcode(status) else 0
        time.sleep(0.05)
    print(f"sfgen-ngc-cancel: still killing NGC jobs {' '.join(ids)} in the background (pid {child})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return cancel(Path.cwd(), sys.argv[1:] if argv is None else argv)
    except SfgenError as error:
        print(f"sfgen-ngc-cancel: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
