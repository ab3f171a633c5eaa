"""``sfgen-ngc-cancel JOBID...``: Snakemake's cluster-generic cancel command for NGC (e.g. on Ctrl-C).

Snakemake gives a cancel command two seconds before it gives up on it, and one slow API call must not
keep the other jobs running: one ``ngc batch kill`` per job is started at once, in its own session, so
each finishes even if this program is stopped first.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sfgen.exceptions import SfgenError
from sfgen.ngc import api, jobs

WAIT_S = 1.5  # within Snakemake's 2 s; kills still running then go on in the background


def _kill_command(workflow_dir: Path, job: str) -> list[str]:
    """The kill for ``job``; its record is marked cancelled so that a rerun submits the experiment afresh."""
    try:
        record = jobs.load(workflow_dir, job)
    except SfgenError:
        return api.kill_command("ngc", jobs.checked_id(job), [])
    jobs.save(workflow_dir, {**record, "cancelled": jobs.now()})
    return api.kill_command(record["ngc"], job, record["scope"])


def cancel(workflow_dir: Path, ids: list[str], wait_s: float = WAIT_S) -> int:
    """Kill every job at once, waiting ``wait_s`` at most; 1 if a kill failed or could not be started."""
    failed = False
    kills = []
    for job in ids:
        try:
            command = _kill_command(workflow_dir, job)
            kills.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sys.stderr, start_new_session=True))
        except (SfgenError, OSError) as error:
            print(f"sfgen-ngc-cancel: cannot kill NGC job {job}: {error}", file=sys.stderr)
            failed = True
    deadline = time.monotonic() + wait_s
    for kill in kills:
        try:
            failed |= kill.wait(max(0.0, deadline - time.monotonic())) != 0
        except subprocess.TimeoutExpired:
            print(f"sfgen-ngc-cancel: still killing: {' '.join(kill.args)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return cancel(Path.cwd(), sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
