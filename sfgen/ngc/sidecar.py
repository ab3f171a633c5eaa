"""``sfgen-ngc-sidecar``: runs beside Snakemake (cluster-generic's sidecar) and kills this run's NGC jobs
when Snakemake is stopped with Ctrl-C or SIGTERM.

Snakemake's own cancel misses jobs whose status is being checked at that moment (the executor takes them
off its list for the round), which in a large sweep is most of them. This program prints a token that
Snakemake hands to every submit (which stores it in the job's record) and status check
(``jobs.TOKEN_ENV``); when Snakemake ends its executor (or Ctrl-C or SIGTERM reaches the process group) it
first notes that the run is stopping, so that status checks stop waiting for NGC (``jobs.stopping``), then
kills every job of that token that has not ended, each kill bounded (``sfgen.ngc.cancel``): Snakemake
waits for this program before it exits. If Snakemake dies or the terminal closes (SIGHUP), the jobs go on
and the next run re-attaches to them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sfgen.ngc import jobs
from sfgen.ngc.cancel import kill_all


def main() -> int:
    stop: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    workflow_dir, parent = Path.cwd(), os.getppid()
    token = f"{os.getpid()}-{time.time_ns()}"
    print(token, flush=True)
    while not stop and os.getppid() == parent:
        time.sleep(0.5)
    if not stop or stop[0] == signal.SIGHUP:
        return 0
    jobs.mark_stopping(workflow_dir, token)
    unfinished = jobs.unfinished(workflow_dir, token)
    if unfinished:
        print(f"sfgen-ngc-sidecar: killing {len(unfinished)} NGC jobs of this run", file=sys.stderr, flush=True)
    return 0 if kill_all(workflow_dir, unfinished, "Snakemake stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
