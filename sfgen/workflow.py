"""What the generated Snakefile calls: options, its experiments, the launch command, the local limits.

Rules are made in a loop (``name:`` directive) so Snakemake's per-job cost does not grow with the sweep.
Inside a cluster job (``--mode remote``) only the job's own target rule is made, so a job starts as fast
as a one-rule workflow.
"""

from __future__ import annotations

import gc
import json
import os
import shlex
import signal
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from sfgen import launch
from sfgen.exceptions import SfgenError
from sfgen.markers import read_record, write_record
from sfgen.options import RUNTIME_OPTIONS, validated
from sfgen.slots import gpu_ids, try_lock
from sfgen.slurm import session as slurm_session
from sfgen.slurm.resources import rule_resources
from sfgen.snakefile import decode_block
from sfgen.spec import ExperimentSpec

_WAITING = 4  # launchers beyond the slots that wait, ready to start
_held: list[int] = []  # descriptors of locks held for the life of this Snakemake process
RUN_OPTIONS = Path(".sfgen") / "options.json"  # a cluster run's effective options, for the submit programs


def _runs_locally(workflow: Any) -> bool:
    """True for a local run: Snakemake got --cores, not --jobs (as its scheduler decides it too)."""
    return workflow.global_resources["_nodes"].value is None and not workflow.remote_exec


def pause_garbage_collection() -> None:
    """Stop the cyclic GC while rules and the DAG are built: its gen-2 passes over the growing heap cost
    more than the rules themselves at 10,000 experiments. ``on_start`` turns it back on."""
    gc.disable()


def _local_slots(config: dict[str, Any]) -> int:
    """How many experiments a local run may run at once: max_parallel, and the GPU slots if it pins GPUs."""
    if config["experiments_per_gpu"] > 0:
        return min(config["max_parallel"], config["num_gpus"] * config["experiments_per_gpu"])
    return config["max_parallel"]


def configure(workflow: Any, config: dict[str, Any], compiled: dict[str, Any]) -> None:
    """Fill ``config`` with the compiled options where ``--config`` did not set them, checked; for a
    local run also bound the experiments by max_parallel and the GPU slots (unless --resources did)."""
    for key, value in compiled.items():
        config.setdefault(key, value)
    config.update(validated(config))
    if not _runs_locally(workflow) or "sfgen_jobs" in workflow.global_resources:
        return
    if config["experiments_per_gpu"] > 0:
        gpu_ids(config["num_gpus"], os.environ.get("CUDA_VISIBLE_DEVICES"))  # fail now, not in every job
    slots = _local_slots(config)
    # The launchers enforce the slots with kernel locks; a few more of them than slots wait on those
    # locks, so a freed slot is taken within milliseconds instead of after Snakemake's next round.
    jobs = slots + min(slots, _WAITING)
    workflow.global_resources["sfgen_jobs"] = jobs
    # Snakemake's local executor runs jobs on `cores + 5` threads; the experiments take no cores
    # (threads: 0), so raise cores, which nothing else here uses, until every allowed job has a thread.
    settings = workflow.resource_settings
    if settings.cores is not None and settings.cores + 5 < jobs:
        settings.cores = jobs
        workflow.global_resources["_cores"] = jobs


def _target_rules(argv: list[str]) -> set[str] | None:
    """Rules named by ``--target-jobs RULE:...`` on this process's command line (a cluster job)."""
    if "--target-jobs" not in argv:
        return None
    targets = set()
    for arg in argv[argv.index("--target-jobs") + 1 :]:
        if arg.startswith("--"):
            break
        targets.add(arg.split(":", 1)[0])
    return targets


def _set_aside_corrupt_markers(workflow_dir: Path) -> None:
    """A marker that is not a whole record (truncated, hand-edited) does not count as done: rename it so
    Snakemake reruns the experiment, and say so."""
    try:
        entries = list(os.scandir(workflow_dir / "markers"))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.endswith(".done") and read_record(entry.path) is None:
            os.replace(entry.path, entry.path + ".corrupt")
            print(f"sfgen: warning: {entry.path} is not a valid completion marker: "
                  "the experiment will run again (kept as .corrupt)", file=sys.stderr)


def experiments(workflow: Any, block: str) -> list[ExperimentSpec]:
    """The experiments to make rules for: all of them, or inside a cluster job only its target."""
    targets = _target_rules(sys.argv) if workflow.remote_exec else None
    if targets:
        prefixes = tuple(json.dumps({"rule": rule})[:-1] + "," for rule in targets)
        block = "\n".join(line for line in block.split("\n") if line.startswith(prefixes))
    else:
        _set_aside_corrupt_markers(Path(workflow.main_snakefile).parent)
    return decode_block(block)


def launch_command(workflow: Any, config: dict[str, Any]) -> str:
    """The shell words that start the launcher for a rule (its name is appended by the rule): the file
    ``sfgen/launch.py`` run with ``-S``, the workflow's Snakefile and the options its jobs need."""
    options = {name: config[name] for name in RUNTIME_OPTIONS if name in config}
    snakefile = os.path.abspath(workflow.main_snakefile)
    return shlex.join([sys.executable, "-S", launch.__file__, snakefile, json.dumps(options, sort_keys=True)])


def resources(config: dict[str, Any]) -> dict[str, Any]:
    """Resources of every experiment rule: one local job (bounded in ``configure``), and what it asks
    Slurm for (``sfgen.slurm.resources``; inert in local runs, which limit none of them)."""
    return {"sfgen_jobs": 1, **rule_resources(config)}


def _lock_workflow(workflow_dir: Path) -> None:
    """Refuse a second Snakemake on this workflow; the kernel drops the lock if this process dies."""
    path = workflow_dir / ".sfgen" / "snakemake.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = try_lock(path)
    if fd is None:
        holder = path.read_text().strip() or "?"
        raise SfgenError(
            f"another Snakemake (pid {holder}) is running this workflow in {workflow_dir}: "
            "wait for it to end or stop it, then run again"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held.append(fd)


def _stop_jobs_on_signals() -> None:
    """Pass SIGINT and SIGTERM sent to Snakemake alone on to the launchers, which stop their experiments:
    Snakemake itself would wait for running jobs to finish (a Ctrl-C in a terminal reaches them anyway)."""

    def forward(previous: Any) -> Any:
        def handler(signum: int, frame: Any) -> None:
            import psutil

            for child in psutil.Process().children():
                with suppress(psutil.Error):
                    child.send_signal(signum)
            if callable(previous):
                previous(signum, frame)

        return handler

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward(signal.getsignal(signum)))


def _start_slot_holders_first(workflow: Any, slots: int) -> None:
    """Start at most ``slots`` jobs per quarter second, so the launchers that get a slot start their
    experiments before the ones that will wait for a slot load (on a 2-core machine their start-up
    would delay the first experiments by 0.1 s). Snakemake's own --max-jobs-per-timespan cannot go below
    a second, its job rate limiter can. Speed only: a Snakemake without these internals runs unpaced."""
    with suppress(ImportError, AttributeError):
        from snakemake.scheduling.job_scheduler import JobRateLimiter
        from snakemake.settings.types import MaxJobsPerTimespan

        workflow.scheduler.job_rate_limiter = JobRateLimiter(MaxJobsPerTimespan(slots, "0.25s"))


def on_start(workflow: Any, config: dict[str, Any]) -> None:
    """Before the first job: lock the workflow; for a cluster run record the options (with --config
    overrides) for the submit programs, and for Slurm choose the status command and retries
    (``sfgen.slurm.session``); for a local run have the launchers pin GPUs, start the first experiments
    before the launchers that will wait, and make SIGTERM stop the experiments."""
    gc.freeze()  # the rules and the DAG live until the end: keep them out of every later collection
    gc.enable()
    snakefile = Path(workflow.main_snakefile).resolve()
    _lock_workflow(snakefile.parent)
    if not _runs_locally(workflow):
        options = {name: config[name] for name in RUNTIME_OPTIONS if name in config}
        write_record(snakefile.parent / RUN_OPTIONS, {"snakefile": str(snakefile), "options": options})
        slurm_session.start(workflow, config)
        return
    os.environ[launch.LOCAL_ENV] = "1"
    _start_slot_holders_first(workflow, _local_slots(config))
    _stop_jobs_on_signals()


def on_end() -> None:
    """After the last job: cancel Snakemake's pending re-scheduling timers (its job rate limiter starts
    one per round), which would otherwise keep the finished process alive for up to a second."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
