"""``sfgen-ngc-submit [--timeout=SECONDS] JOBSCRIPT``: Snakemake's cluster-generic submit command for NGC.

Reads the job's rule from the jobscript Snakemake wrote, renders that experiment through the workflow's
NGC job template, waits out ``pause_between`` since the previous start (the same spacing lock as local
starts), runs the ``ngc batch run`` argv without a shell, records the job locally for the status and
cancel programs, and prints the job id as the first line of stdout. An experiment whose previous job
never got a verdict (Snakemake was killed) gets that job's id back, unless NGC says it failed. The
jobscript itself is never run: the experiment runs in NGC's container, and the status program records
its completion here.

Snakemake waits for this program in its main loop, so nothing here may wait without a bound: ``ngc batch
run`` gets ``--timeout`` seconds (the profile sets it; default ``SUBMIT_TIMEOUT_S``), and once this program
is stopped (a signal, or Snakemake killed the shell that ran it) ``INTERRUPT_GRACE_S`` more at most, then
ngc is killed. A submission whose outcome is then unknown (no answer, or exit 0 without a readable job id)
may have made a job that nobody follows: it is recorded as the experiment's failure (``ngc_submission``),
said on stderr and in the experiment's log, and the experiment is not submitted again until the user has
looked for that job (``ngc batch list``) and run ``sfgen reset NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.explog import now
from sfgen.layout import RUN_OPTIONS
from sfgen.markers import attempt_record, read_record, write_record
from sfgen.ngc import api, jobs
from sfgen.ngc.cancel import kill
from sfgen.ngc.status import status
from sfgen.ngc.template import JobTemplate
from sfgen.slots import claim
from sfgen.snakefile import find_experiment
from sfgen.spec import ExperimentSpec

SUBMIT_TIMEOUT_S = 120.0  # `ngc batch run`, unless the profile passes --timeout
INTERRUPT_GRACE_S = 10.0  # once stopped, for an answer on its way (its job is then recorded and killed)
UNKNOWN_OUTCOME = "outcome unknown"  # ngc gave no answer: a job may or may not exist
UNKNOWN_ID = "submitted, id unknown"  # ngc said it worked but printed no job id: a job probably exists
_POLL_S = 0.2  # how often the submit command looks whether it was stopped while ngc runs
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Submission:
    """One submission. A signal is held back until ngc answered (``INTERRUPT_GRACE_S`` at most), and the call
    itself survives this process, so that no NGC job is ever left running without a record."""

    def __init__(self, workflow_dir: Path, timeout: float = SUBMIT_TIMEOUT_S):
        self.workflow_dir = workflow_dir
        self.timeout = timeout
        self.interrupted: int | None = None
        self.parent = os.getppid()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.interrupted = signum

    def _stopped(self) -> bool:
        """Whether to give up: a signal came, or Snakemake killed the shell that ran us (what it does on Ctrl-C
        or SIGINT, sending us nothing)."""
        if self.interrupted is None and os.getppid() != self.parent:
            self.interrupted = signal.SIGHUP
        return self.interrupted is not None

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
        jobs.save(self.workflow_dir, {**previous, "run": os.environ.get(jobs.TOKEN_ENV)})
        jobs.log(self.workflow_dir, spec, f"re-attached to NGC job {previous['job_id']} (submitted {previous['submitted']})")
        return previous["job_id"]

    def _refuse_unresolved(self, spec: ExperimentSpec) -> None:
        """Refuse to submit again an experiment whose last submission may have made a job nobody follows."""
        failure = read_record(self.workflow_dir / spec.failure) or {}
        if failure.get("ngc_submission"):
            raise SfgenError(
                f"not submitting {spec.name}: its submission of {failure.get('submitted')} ended "
                f"{failure['ngc_submission']!r}, so an NGC job of it may be running: find it with `ngc batch list`, "
                f"kill it or let it end, then run `sfgen reset {spec.name}` to submit it again"
            )

    def _unresolved(self, spec: ExperimentSpec, argv: list[str], outcome: str, problem: str, output: str | None,
                    submitted: str) -> SfgenError:
        """Record a submission that may have made a job sfgen cannot follow as the experiment's failure (``sfgen
        reset`` removes it), note it in its log, and return the one-line error that says what to do."""
        name = api.job_name(argv)
        message = (
            f"{outcome} for {spec.name}: {problem}, so an NGC job of it may be running untracked: find it with "
            f"`ngc batch list`{f' (named {name})' if name else ''}, kill it with `ngc batch kill ID` or let it "
            f"end, then run `sfgen reset {spec.name}` to submit it again"
        )
        write_record(self.workflow_dir / spec.failure, attempt_record(
            spec,
            ngc_job_id=None,
            ngc_status=None,
            ngc_submission=outcome,
            ngc_output=output,
            ngc_argv=argv,
            reason=message,
            exit_code=None,
            submitted=submitted,
            start=None,
            end=None,
            duration_s=None,
        ))
        jobs.log(self.workflow_dir, spec, message)
        return SfgenError(message)

    def _submit(
        self, spec: ExperimentSpec, argv: list[str], cwd: Path, abandon: Callable[[], str | None]
    ) -> dict[str, Any]:
        """Run ``ngc batch run`` and record the job it made, or a submission whose outcome is unknown."""
        submitted = now()
        try:
            result = api.call(argv, self.timeout, cwd, abandon)
        except OSError as error:
            raise SfgenError(f"cannot run {argv[0]}: {error.strerror}: install the NGC CLI or put it on PATH") from None
        except api.NoAnswer as error:
            raise self._unresolved(spec, argv, UNKNOWN_OUTCOME, f"ngc batch run was stopped ({error})", None,
                                   submitted) from None
        if result.returncode != 0:
            raise SfgenError(f"ngc batch run for {spec.name} failed: {api.last_line(result)}")
        job = api.job_id(result.stdout)
        if job is None:
            first = (result.stdout.strip().splitlines() or ["(nothing)"])[0]
            problem = f"ngc batch run exited 0 but printed no job id (JSON .id/.job.id, 'Id: N'; first line: {first!r})"
            raise self._unresolved(spec, argv, UNKNOWN_ID, problem, first, submitted)
        record = {
            "job_id": job,
            "rule": spec.rule,
            "experiment": spec.to_dict(),
            "ngc": argv[0],
            "scope": api.scope_options(argv),
            "argv": argv,
            "submitted": submitted,
            "run": os.environ.get(jobs.TOKEN_ENV),
        }
        jobs.save(self.workflow_dir, record)
        jobs.point(self.workflow_dir, spec.rule, job)
        jobs.log(self.workflow_dir, spec, f"submitted {spec.name} as NGC job {job}: {shlex.join(argv)}")
        return record

    def _in_child(self, spec: ExperimentSpec, argv: list[str], cwd: Path, answers: int, stop: int) -> None:
        """The detached child's part: submit, hand the outcome over; if nobody takes it (this program was
        killed), kill the job made, or say on stderr why the outcome is unknown."""
        os.setsid()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Snakemake reads our stdout until every writer is gone
        stopped = lambda: bool(select.select([stop], [], [], 0)[0])  # noqa: E731 (closed: interrupted or gone)
        abandon = api.grace_after(stopped, min(INTERRUPT_GRACE_S, self.timeout), "interrupted")
        try:
            outcome: dict[str, Any] = {"record": self._submit(spec, argv, cwd, abandon)}
        except SfgenError as error:
            outcome = {"error": str(error)}
        try:
            os.write(answers, json.dumps(outcome).encode())
        except BrokenPipeError:
            if "record" in outcome:
                kill(self.workflow_dir, outcome["record"]["job_id"], "submit command killed")
            else:
                print(f"sfgen-ngc-submit: error: {outcome['error']}", file=sys.stderr, flush=True)

    def _await(self, answers: int, stop: int) -> bytes:
        """The child's answer. Once this program is stopped, the stop pipe is closed: the child hurries."""
        while not select.select([answers], [], [], _POLL_S)[0]:
            if stop >= 0 and self._stopped():
                os.close(stop)
                stop = -1
        if stop >= 0:
            os.close(stop)
        with os.fdopen(answers, "rb") as pipe:
            return pipe.read()

    def _submit_detached(self, spec: ExperimentSpec, argv: list[str], cwd: Path) -> dict[str, Any]:
        """``_submit`` in a child of its own session. On Ctrl-C Snakemake SIGKILLs the shell running this
        program, and a signal may never reach it: the child outlives both and, once told (the stop pipe
        closes when this program is stopped or dies), waits ``INTERRUPT_GRACE_S`` at most for ngc."""
        answers_read, answers_write = os.pipe()
        stop_read, stop_write = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(answers_read)
                os.close(stop_write)
                self._in_child(spec, argv, cwd, answers_write, stop_read)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(0)
        os.close(answers_write)
        os.close(stop_read)
        answer = self._await(answers_read, stop_write)
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
        self._refuse_unresolved(spec)
        spaced = claim(  # one submission at a time, pause_between after the previous start (local or not)
            run_slots=[self.workflow_dir / jobs.JOBS_DIR / "submit.lock"],
            slot_dir=self.workflow_dir / options["slot_dir"],
            gpus=None,
            per_gpu=0,
            pause_between=float(options["pause_between"]),
            interrupted=self._stopped,
            on_wait=lambda: None,
        )
        if spaced is None:
            return None
        try:
            record = self._submit_detached(spec, argv, (self.workflow_dir / options["workdir"]).resolve())
        finally:
            spaced.release()
        if self._stopped():  # Snakemake will not track it: do not leave it running
            kill(self.workflow_dir, record["job_id"], "interrupted")
            return None
        return record["job_id"]


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def _parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sfgen-ngc-submit", description="Snakemake's cluster-generic submit command for NGC (profiles/ngc)"
    )
    parser.add_argument("--timeout", type=_positive_seconds, default=SUBMIT_TIMEOUT_S,
                        help=f"seconds `ngc batch run` may take (default {SUBMIT_TIMEOUT_S:g})")
    parser.add_argument("jobscript", type=Path, help="the jobscript Snakemake wrote")
    return parser.parse_args(args)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    submission = Submission(Path.cwd(), args.timeout)
    try:
        job = submission.run(args.jobscript)
    except SfgenError as error:
        print(f"sfgen-ngc-submit: error: {error}", file=sys.stderr)
        return 1
    if job is None:
        return 128 + (submission.interrupted or signal.SIGTERM)
    print(job, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
