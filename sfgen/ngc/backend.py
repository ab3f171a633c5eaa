"""The NGC backend's side of the interface (``sfgen.backend``): Snakemake's cluster-generic executor
with sfgen's submit/status/cancel programs (``sfgen.ngc.submit`` ...), which re-attach on their own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sfgen.backend import Backend, LiveJob, pass_stop_signals_to_jobs, record_run_options
from sfgen.exceptions import SfgenError
from sfgen.layout import NGC_JOBS_DIR
from sfgen.markers import read_record
from sfgen.ngc.jobs import JOB_LABEL
from sfgen.spec import ExperimentSpec


_PROGRAMS = ("sfgen-ngc-submit", "sfgen-ngc-status", "sfgen-ngc-cancel", "sfgen-ngc-sidecar")  # profiles/ngc calls them


def _require_tools() -> None:
    """A one-line error when ``ngc`` or sfgen's NGC programs are not on PATH, before anything is submitted."""
    if shutil.which("ngc") is None:
        raise SfgenError(
            "an NGC run needs NGC's command-line tool ngc on PATH, and it is not there: install the NGC CLI, "
            "put it on PATH and log in with ngc config set"
        )
    if missing := [program for program in _PROGRAMS if shutil.which(program) is None]:
        raise SfgenError(
            f"an NGC run needs sfgen's programs {', '.join(_PROGRAMS)} on PATH, and {missing[0]} is not there: "
            "activate the environment sfgen is installed in (its bin directory on PATH)"
        )


class Ngc(Backend):
    name = "ngc"
    runner = "ngc"
    executor = "cluster-generic"
    print_only_option = "ngc_print_only"
    job_id_field = "ngc_job_id"
    job_label = JOB_LABEL
    start_records = NGC_JOBS_DIR / "rules"

    def compile_options(self, options: dict[str, Any], specs: list[ExperimentSpec], out: Path) -> dict[str, Any]:
        if options.get("ngc_job_template") is None:
            return options
        from sfgen.ngc.template import embed

        # the Snakefile keeps the text: it runs as compiled
        return {**options, "ngc_job_template": embed(options["ngc_job_template"], specs, options)}

    def check_run(self, options: dict[str, Any]) -> None:
        if options.get("ngc_job_template") is None:
            raise SfgenError("--runner=ngc needs the NGC job template: pass --ngc_job_template=FILE (an ngc batch run line)")
        _require_tools()

    def print_only(self, specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
        from sfgen.ngc import print_commands

        return print_commands(specs, options)

    def on_start(self, workflow: Any, config: dict[str, Any]) -> None:
        record_run_options(workflow, config)  # the submit program reads the template and options there
        pass_stop_signals_to_jobs()  # the sidecar then kills the jobs, as on Ctrl-C

    def live_jobs(self, workflow_dir: Path, rules: set[str], warn: Any) -> dict[str, LiveJob]:
        """Each experiment's latest NGC job that has not been seen to end (the programs record its end)."""
        pointers = workflow_dir / NGC_JOBS_DIR / "rules"
        try:
            names = os.listdir(pointers)
        except OSError:
            return {}
        live = {}
        for name in names:
            rule = name.removesuffix(".json")
            if not name.endswith(".json") or rule not in rules:
                continue
            pointer = read_record(pointers / name) or {}
            job = read_record(workflow_dir / NGC_JOBS_DIR / f"{pointer.get('job_id')}.json")
            if job is not None and not job.get("verdict") and not job.get("cancelled"):
                live[rule] = LiveJob(str(job.get("job_id")), job.get("ngc_status"), job.get("submitted"))
        return live


    def cancel(self, workflow_dir: Path, jobs: dict[str, LiveJob]) -> list[str]:
        from sfgen.ngc.cancel import kill

        return [f"NGC job {job.job_id} of {rule} was not killed" for rule, job in jobs.items()
                if not kill(workflow_dir, job.job_id, "sfgen cancel")]


BACKEND = Ngc()
