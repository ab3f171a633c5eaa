"""What the generated Snakefile runs when the workflow starts (``onstart``) and ends (``onsuccess``,
``onerror``): never while it is only parsed (``snakemake -n``, ``--list-rules``, a cluster job).

At the start: the workflow is locked against a second Snakemake, and the backend whose executor runs it
prepares the run (``sfgen.backend``: the local launchers' pacing and signals, Slurm's status command and
re-attach, the cluster programs' options).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from sfgen import backend, snakemake_internals
from sfgen.exceptions import SfgenError
from sfgen.launcher import BACKEND_ENV
from sfgen.layout import SNAKEMAKE_LOCK
from sfgen.slots import try_lock

_held: list[int] = []  # descriptors of locks held for the life of this Snakemake process


def _lock_workflow(workflow_dir: Path) -> None:
    """Refuse a second Snakemake on this workflow; the kernel drops the lock if this process dies."""
    path = workflow_dir / SNAKEMAKE_LOCK
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


def _backend(workflow: Any) -> backend.Backend | None:
    return backend.for_executor(getattr(workflow.executor_plugin, "name", None))


def on_start(workflow: Any, config: dict[str, Any]) -> None:
    """Before the first job: resume the garbage collector (paused while the graph was built), lock the
    workflow, and have the backend of this run's executor prepare it."""
    gc.freeze()  # the rules and the DAG live until the end: keep them out of every later collection
    gc.enable()
    try:
        _lock_workflow(Path(workflow.main_snakefile).resolve().parent)
        running = _backend(workflow)
        if running is not None:
            # inherited by every job (the slurm plugin submits with --export=ALL): the launchers load sfgen.<name>.job
            os.environ[BACKEND_ENV] = running.name
            running.on_start(workflow, config)
    except BaseException:
        snakemake_internals.release_executor(workflow)  # else a cluster executor's threads keep it alive
        raise


def on_end(workflow: Any, config: dict[str, Any]) -> None:
    """After the last job: the backend tidies up, and Snakemake's timers go, so that it exits at once."""
    running = _backend(workflow)
    if running is not None:
        running.on_end(workflow, config)
    snakemake_internals.cancel_timers()
