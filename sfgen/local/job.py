"""The local backend inside each launcher: a GPU slot and a run slot, and the run's own interpreter.

Loaded by the launcher (``sfgen.launcher``) when the run exported ``SFGEN_BACKEND=local``; standard library
and ``sfgen.slots`` only, since every experiment's launcher imports it while the first wave starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfgen.layout import RUN_SLOTS_DIR
from sfgen.slots import Claim, claim, gpu_ids
from sfgen.spec import ExperimentSpec


def command(workflow_dir: Path, spec: ExperimentSpec, options: dict[str, Any]) -> list[str]:
    """A first word starting with ``python`` is this interpreter, as in Sample Factory's local runner: the
    sweep's virtualenv, whatever PATH holds."""
    argv = spec.argv
    return [sys.executable, *argv[1:]] if argv[0].startswith("python") else argv


def claim_slot(
    workflow_dir: Path, options: dict[str, Any], interrupted: Callable[[], bool], on_wait: Callable[[], None]
) -> Claim | None:
    """A run slot (max_parallel) and, when experiments are pinned, a GPU slot: Sample Factory's choice,
    most free slots first, ties to the lower id. None if interrupted while waiting."""
    per_gpu = int(options["experiments_per_gpu"])
    gpus = gpu_ids(int(options["num_gpus"]), os.environ.get("CUDA_VISIBLE_DEVICES")) if per_gpu > 0 else None
    run_dir = workflow_dir / RUN_SLOTS_DIR
    return claim(
        [run_dir / f"run{index}.lock" for index in range(int(options["max_parallel"]))],
        workflow_dir / options["slot_dir"],
        gpus,
        per_gpu,
        float(options["pause_between"]),
        interrupted,
        on_wait,
    )
