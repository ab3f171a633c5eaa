"""``sfgen cancel``: stop a sweep, or some of its experiments, from any terminal that sees the workflow.

Without patterns, the Snakemake running the workflow gets SIGINT, as a Ctrl-C in its own terminal would:
it stops its experiments (local), cancels its cluster jobs, and writes no marker for them. Where no
Snakemake runs but cluster jobs of the workflow are still live (Snakemake died), those jobs are cancelled.
With patterns, just the matching running experiments stop: a local one's launcher gets SIGTERM and stops
the experiment's whole process tree (recorded failed, interrupted); a cluster job is cancelled with the
backend's tool (``scancel``, ``ngc batch kill``). Either way the next run redoes what was stopped.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from sfgen.backend import Backend, LiveJob, every
from sfgen.confirm import confirmed
from sfgen.exceptions import SfgenError
from sfgen.layout import SNAKEMAKE_LOCK
from sfgen.slots import try_lock
from sfgen.state import ExperimentState, experiment_states, load_workflow, plural, select

STOP_WAIT_S = 120  # how long to wait for Snakemake to end after SIGINT


def _snakemake_pid(directory: Path) -> int | None:
    """The pid of the Snakemake holding the workflow's lock, None when none does."""
    path = directory / SNAKEMAKE_LOCK
    if not path.exists():
        return None
    fd = try_lock(path)
    if fd is not None:
        os.close(fd)
        return None
    text = path.read_text(errors="replace").strip()
    if not text.isdigit():
        raise SfgenError(f"a Snakemake runs this workflow but {path} does not name it: stop it where it runs (Ctrl-C)")
    return int(text)


def _stop_snakemake(pid: int, directory: Path) -> int:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        raise SfgenError(
            f"the Snakemake running this workflow (pid {pid}) is not on this machine: run sfgen cancel where it runs"
        ) from None
    print(f"sfgen: sent Ctrl-C (SIGINT) to Snakemake (pid {pid}); waiting for it to stop its experiments and jobs")
    deadline = time.monotonic() + STOP_WAIT_S
    while _snakemake_pid(directory) is not None:
        if time.monotonic() > deadline:
            raise SfgenError(f"Snakemake (pid {pid}) is still stopping after {STOP_WAIT_S} s: wait, or kill -9 it")
        time.sleep(0.2)
    print("sfgen: stopped; the next run (snakemake or sfgen run) redoes what did not finish")
    return 0


def _cluster_jobs(directory: Path, states: list[ExperimentState]) -> list[tuple[Backend, dict[str, LiveJob]]]:
    rules = {state.spec.rule for state in states}
    warnings: list[str] = []
    found = [(each, each.live_jobs(directory, rules, warnings.append)) for each in every()]
    if warnings:
        raise SfgenError(f"cannot see the workflow's cluster jobs: {warnings[0]}")
    return [(each, jobs) for each, jobs in found if jobs]


def _stop_locally(state: ExperimentState) -> str | None:
    """SIGTERM to the experiment's launcher; the problem, if it cannot be reached from here."""
    record = state.record or {}
    pid = record.get("launcher_pid")
    if pid is None or record.get("host") != os.uname().nodename:
        return f"{state.spec.name} runs on {record.get('host') or 'another machine'}: run sfgen cancel there"
    with suppress(ProcessLookupError):  # it may have just ended
        os.kill(int(pid), signal.SIGTERM)
    return None


def cancel(directory: Path, patterns: list[str], yes: bool) -> int:
    workflow = load_workflow(directory)
    if not patterns:
        pid = _snakemake_pid(directory)
        if pid is not None:
            return _stop_snakemake(pid, directory)
    chosen = select(workflow.specs, patterns) if patterns else workflow.specs
    running = [state for state in experiment_states(directory, chosen) if state.state == "running"]
    if not running:
        print("sfgen: nothing to cancel: no Snakemake runs this workflow and none of its experiments runs")
        return 1
    if not confirmed("cancel", len(running), "which then count as failed", yes):
        print("sfgen: nothing cancelled")
        return 1
    problems: list[str] = []
    on_cluster = set()
    for each, jobs in _cluster_jobs(directory, running):
        problems += each.cancel(directory, jobs)
        on_cluster |= set(jobs)
    for state in running:
        if state.spec.rule not in on_cluster and (problem := _stop_locally(state)):
            problems.append(problem)
    for problem in problems:
        print(f"sfgen: {problem}")
    stopped = len(running) - len(problems)
    print(f"sfgen: cancelled {plural(stopped, 'experiment')}; they count as failed and the next run redoes them")
    return 1 if problems else 0
