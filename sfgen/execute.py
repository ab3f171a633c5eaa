"""Run Snakemake on a compiled workflow with one of its profiles, and report what failed.

Snakemake runs in a process group of its own; SIGINT, SIGTERM and SIGHUP to ``sfgen run`` are passed
to that whole group, so the launchers stop their experiments and Snakemake cancels cluster jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from sfgen.compile import Compiled
from sfgen.status import experiment_states


def run_snakemake(compiled: Compiled, profile: str, extra: list[str] | None = None) -> int:
    """Run the workflow with ``profiles/<profile>``; non-zero if Snakemake or any experiment failed."""
    command = [sys.executable, "-m", "snakemake", "--profile", f"profiles/{profile}", *(extra or [])]
    print(f"sfgen: running in {compiled.out}: {' '.join(command[2:])}", flush=True)
    proc = subprocess.Popen(command, cwd=compiled.out, start_new_session=True)

    def forward(signum: int, _frame: Any) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        code = proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    states = experiment_states(compiled.out, compiled.specs)
    failed = [state for state in states if state.state == "failed"]
    pending = [state for state in states if state.state != "done" and state.state != "failed"]
    done = len(states) - len(failed) - len(pending)
    print(f"sfgen: {done} of {len(states)} experiments done, {len(failed)} failed, {len(pending)} not run")
    for state in failed:
        print(f"sfgen: FAILED {state.spec.name} (exit {state.exit_code}); log: {compiled.out / state.spec.log}")
    if failed or pending:
        print("sfgen: rerun the same command to run only the failed and missing experiments")
    return code if code != 0 else (1 if failed or pending else 0)
