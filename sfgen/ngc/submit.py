"""``sfgen-ngc-submit JOBSCRIPT``: Snakemake's cluster-generic submit command for NGC.

Reads the job's rule from the jobscript Snakemake wrote, renders that experiment through the workflow's
NGC job template, waits out ``pause_between`` since the previous start (the same spacing lock as local
starts), runs the ``ngc batch run`` argv without a shell, records the job locally for the status and
cancel programs, and prints the job id as the first line of stdout. An experiment whose previous job
never got a verdict (Snakemake was killed) gets that job's id back, unless NGC says it failed. The
jobscript itself is never run: the experiment runs in NGC's container, and the status program records
its completion here.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.markers import read_record
from sfgen.ngc import api, jobs
from sfgen.ngc.sidecar import TOKEN_ENV
from sfgen.ngc.status import status
from sfgen.ngc.template import JobTemplate
from sfgen.slots import claim
from sfgen.snakefile import find_experiment
from sfgen.spec import ExperimentSpec
from sfgen.workflow import RUN_OPTIONS

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Submission:
    """One submission. A signal is held back until ngc answered, and the call itself survives this process,
    so that no NGC job is ever left running without a record."""

    def __init__(self, workflow_dir: Path):
        self.workflow_dir = workflow_dir
        self.interrupted: int | None = None

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.interrupted = signum

    def _run_options(self) -> tuple[Path, dict[str, Any]]:
        run = read_record(self.workflow_dir / RUN_OPTIONS)
        if run is None:
            raise SfgenError(
                f"no {RUN_OPTIONS} in {self.workflow_dir}: run the workflow from its directory with "
                "snakemake --profile profiles/ngc"
            )
        return Path(run["snakefile"]), run["options"]

    def _experiment(self, jobscript: Path, snakefile: Path) -> ExperimentSpec:
        from snakemake.utils import read_job_properties

        rule = read_job_properties(str(jobscript))["rule"]
        try:
            return find_experiment(snakefile, rule)
        except KeyError:
            raise SfgenError(f"rule {rule} is not an experiment of {snakefile}: recompile the workflow") from None

    def _unfinished(self, spec: ExperimentSpec) -> str | None:
        """The experiment's latest job if it may still be running (Snakemake died while it ran), else None."""
        previous = jobs.latest(self.workflow_dir, spec.rule)
        if previous is None or previous.get("verdict") or previous.get("cancelled"):
            return None
        if status(self.workflow_dir, previous["job_id"]) == "failed":
            return None
        jobs.save(self.workflow_dir, {**previous, "run": os.environ.get(TOKEN_ENV)})
        jobs.log(self.workflow_dir, spec, f"re-attached to NGC job {previous['job_id']} (submitted {previous['submitted']})")
        return previous["job_id"]

    def _kill(self, record: dict[str, Any], why: str) -> None:
        try:
            api.call(api.kill_command(record["ngc"], record["job_id"], record["scope"]), timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            print(f"sfgen-ngc-submit: could not kill NGC job {record['job_id']}: {error}", file=sys.stderr)
        jobs.save(self.workflow_dir, {**record, "cancelled": jobs.now()})
        jobs.log(self.workflow_dir, ExperimentSpec(**record["experiment"]), f"{why}: killed NGC job {record['job_id']}")

    def _submit(self, spec: ExperimentSpec, argv: list[str], cwd: Path) -> dict[str, Any]:
        """Run ``ngc batch run`` and record the job it made."""
        try:
            result = api.call(argv, cwd=cwd)
        except OSError as error:
            raise SfgenError(f"cannot run {argv[0]}: {error.strerror}: install the NGC CLI or put it on PATH") from None
        if result.returncode != 0:
            raise SfgenError(f"ngc batch run for {spec.name} failed: {api.last_line(result)}")
        job = api.job_id(result.stdout)
        if job is None:
            first = (result.stdout.strip().splitlines() or ["(nothing)"])[0]
            raise SfgenError(f"ngc batch run for {spec.name} printed no job id (JSON .id/.job.id or 'Id: N'): {first}")
        record = {
            "job_id": job,
            "rule": spec.rule,
            "experiment": spec.to_dict(),
            "ngc": argv[0],
            "scope": api.scope_options(argv),
            "argv": argv,
            "submitted": jobs.now(),
            "run": os.environ.get(TOKEN_ENV),
        }
        jobs.save(self.workflow_dir, record)
        jobs.point(self.workflow_dir, spec.rule, job)
        jobs.log(self.workflow_dir, spec, f"submitted {spec.name} as NGC job {job}: {shlex.join(argv)}")
        return record

    def _submit_detached(self, spec: ExperimentSpec, argv: list[str], cwd: Path) -> dict[str, Any]:
        """``_submit`` in a child of its own session. On Ctrl-C Snakemake SIGKILLs its submit command; the
        child then still records the job it made and, finding nobody to hand the id to, kills it."""
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(read_end)
                os.setsid()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())  # Snakemake reads our stdout until every writer is gone
                try:
                    outcome: dict[str, Any] = {"record": self._submit(spec, argv, cwd)}
                except SfgenError as error:
                    outcome = {"error": str(error)}
                try:
                    os.write(write_end, json.dumps(outcome).encode())
                except BrokenPipeError:
                    if "record" in outcome:
                        self._kill(outcome["record"], "submit command killed")
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read()
        os.waitpid(child, 0)
        if not answer:
            raise SfgenError(f"submitting {spec.name} failed unexpectedly: see the error above")
        outcome = json.loads(answer)
        if "error" in outcome:
            raise SfgenError(outcome["error"])
        return outcome["record"]

    def run(self, jobscript: Path) -> str | None:
        """Submit the job's experiment; its NGC job id, or None if interrupted (nothing left running)."""
        for signum in _SIGNALS:
            signal.signal(signum, self._on_signal)
        snakefile, options = self._run_options()
        spec = self._experiment(jobscript, snakefile)
        if not options.get("ngc_job_template"):
            raise SfgenError(
                "this workflow was compiled without an NGC job template: recompile it with --ngc_job_template=FILE"
            )
        argv = JobTemplate(options["ngc_job_template"], "the workflow's NGC job template").argv(spec, options)
        running = self._unfinished(spec)
        if running is not None:
            return running
        spaced = claim(  # one submission at a time, pause_between after the previous start (local or not)
            run_slots=[self.workflow_dir / jobs.JOBS_DIR / "submit.lock"],
            slot_dir=self.workflow_dir / options["slot_dir"],
            gpus=None,
            per_gpu=0,
            pause_between=float(options["pause_between"]),
            interrupted=lambda: self.interrupted is not None,
            on_wait=lambda: None,
        )
        if spaced is None:
            return None
        try:
            record = self._submit_detached(spec, argv, (self.workflow_dir / options["workdir"]).resolve())
        finally:
            spaced.release()
        if self.interrupted is not None:  # Snakemake will not track it: do not leave it running
            self._kill(record, "interrupted")
            return None
        return record["job_id"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: sfgen-ngc-submit JOBSCRIPT (Snakemake's cluster-generic submit command)", file=sys.stderr)
        return 2
    submission = Submission(Path.cwd())
    try:
        job = submission.run(Path(args[-1]))
    except SfgenError as error:
        print(f"sfgen-ngc-submit: error: {error}", file=sys.stderr)
        return 1
    if job is None:
        return 128 + (submission.interrupted or signal.SIGTERM)
    print(job, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
