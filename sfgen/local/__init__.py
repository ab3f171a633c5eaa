"""Local backend: experiments as processes on this machine, bounded by GPU slots and max_parallel.

Snakemake's local executor runs the launchers; the launchers enforce the GPU slots and the spacing with
kernel locks (``sfgen.slots``, in-job side ``sfgen.local.job``), so Snakemake only has to let enough of
them start: ``configure`` sets that bound when the Snakefile is parsed, ``on_start`` paces the first wave
and has SIGINT/SIGTERM sent to Snakemake alone reach the launchers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sfgen import snakemake_internals
from sfgen.backend import Backend, pass_stop_signals_to_jobs
from sfgen.slots import gpu_ids, remove_wakeup_fifo

_WAITING = 4  # launchers beyond the slots that wait, ready to start


def slots(config: dict[str, Any]) -> int:
    """How many experiments may run at once: max_parallel, and the GPU slots if it pins GPUs."""
    if config["experiments_per_gpu"] > 0:
        return min(config["max_parallel"], config["num_gpus"] * config["experiments_per_gpu"])
    return config["max_parallel"]


class Local(Backend):
    name = "local"
    runner = "processes"
    executor = "local"

    def resources(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"sfgen_jobs": 1}  # bounded in configure; other executors ignore it

    def configure(self, workflow: Any, config: dict[str, Any]) -> None:
        """Bound the experiments by max_parallel and the GPU slots (unless --resources did). The launchers
        enforce the slots with kernel locks; a few more of them than slots wait on those locks, so a freed
        slot is taken within milliseconds instead of after Snakemake's next round."""
        if not snakemake_internals.runs_locally(workflow) or snakemake_internals.limits_resource(workflow, "sfgen_jobs"):
            return
        if config["experiments_per_gpu"] > 0:
            gpu_ids(config["num_gpus"], os.environ.get("CUDA_VISIBLE_DEVICES"))  # fail now, not in every job
        count = slots(config)
        snakemake_internals.limit_local_jobs(workflow, count + min(count, _WAITING))

    def check_run(self, options: dict[str, Any]) -> None:
        """GPU pinning needs as many GPUs as asked for in a parent CUDA_VISIBLE_DEVICES: said before
        compiling, rather than when Snakemake parses the workflow."""
        if options["experiments_per_gpu"] > 0:
            gpu_ids(options["num_gpus"], os.environ.get("CUDA_VISIBLE_DEVICES"))

    def on_start(self, workflow: Any, config: dict[str, Any]) -> None:
        snakemake_internals.pace_job_starts(workflow, slots(config), "0.25s")
        pass_stop_signals_to_jobs()

    def on_end(self, workflow: Any, config: dict[str, Any]) -> None:
        remove_wakeup_fifo(Path(workflow.main_snakefile).resolve().parent / config["slot_dir"])


BACKEND = Local()
