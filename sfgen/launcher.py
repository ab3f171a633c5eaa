"""The launcher each experiment job runs: GPU slot, environment, log file, completion marker.

Invoked by the generated Snakefile as ``python -S .../sfgen/launcher.py SNAKEFILE OPTIONS_JSON RULE``
(``sfgen.parse_time.launch_command``). It runs the experiment's argv without a shell in a session of its
own and holds its whole process tree (``sfgen.proctree``), so that an interrupt (SIGINT, SIGTERM,
SIGHUP, or Snakemake dying) stops all of it, and so does the experiment's end: nothing it started
outlives it. It writes the marker only after exit 0, and a failure record for every other end, its own
errors included. Its exit code is the experiment's.

Every experiment starts one launcher, and a local run's first wave starts them all at once, so its start
is kept short: ``-S`` skips site-packages and their .pth files (the launcher needs only the standard
library and sfgen), and it imports neither argparse, dataclasses nor tempfile. Together that halves a
launcher's start.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a file with -S: sfgen is imported from the directory holding it
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sfgen import proctree
from sfgen.exceptions import SfgenError
from sfgen.explog import PREFIX, note, now
from sfgen.layout import RUNNING_DIR, failure_elsewhere
from sfgen.markers import attempt_record, read_record, write_record
from sfgen.slots import Claim, try_lock
from sfgen.snakefile import find_experiment
from sfgen.spec import ExperimentSpec

STAMP = "snakefile_stamp"  # in the options a launcher gets: the Snakefile as Snakemake parsed it
BACKEND_ENV = "SFGEN_BACKEND"  # set by the backend when a run starts: which sfgen.<name>.job to load
_POLL = 0.5  # seconds between checks that Snakemake is still alive


def _git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def stamp(snakefile: Path) -> str:
    """Which version of the Snakefile this is: a recompile replaces the file (a new inode)."""
    info = os.stat(snakefile)
    return f"{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


def _job_side() -> Any:
    """The in-job module of the backend the run exported (``sfgen.local.job``, ``sfgen.slurm.job``), or None
    where it has none (an executor sfgen does not know): the experiment then runs as written, with the
    GPUs its scheduler gave it."""
    name = os.environ.get(BACKEND_ENV, "")
    if not name.isidentifier():
        return None
    try:
        return importlib.import_module(f"sfgen.{name}.job")
    except ModuleNotFoundError:
        return None


def _stop(proc: subprocess.Popen, signum: int, timeout: float) -> None:
    """Stop the experiment and everything below it: ``signum`` first, SIGKILL after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    proctree.signal_all(proctree.descendants(), signum)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proctree.stop_all(signum, max(0.0, deadline - time.monotonic()))


class Launcher:
    def __init__(self, snakefile: Path, options: dict[str, Any], spec: ExperimentSpec):
        self.snakefile = snakefile
        self.workflow_dir = snakefile.parent
        self.options = options
        self.spec = spec
        self.interrupted: int | None = None
        self.parent = os.getppid()
        self.job = _job_side()

    @property
    def _running_record(self) -> Path:
        return self.workflow_dir / RUNNING_DIR / f"{self.spec.rule}.json"

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.interrupted = signum

    def _check_parent(self) -> bool:
        if self.interrupted is None and os.getppid() != self.parent:
            self.interrupted = signal.SIGTERM  # Snakemake is gone: don't leave the experiment behind
        return self.interrupted is not None

    def _wait(self, proc: subprocess.Popen) -> None:
        """Wait for the experiment to exit, a signal, or Snakemake to die. The process's pidfd wakes this
        the moment it exits, so the next experiment can take the slot without a polling delay."""
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: poll
            pidfd = None
        try:
            while proc.poll() is None and not self._check_parent():
                if pidfd is None:
                    with suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=_POLL)
                else:
                    select.select([pidfd], [], [], _POLL)  # signal handlers set a flag, seen within _POLL
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _say(self, message: str, in_log: bool = False) -> None:
        """Tell the job's own output (Snakemake's, or Slurm's job log) and, ``in_log``, the experiment's log,
        where a user looks first for why an experiment did or did not run."""
        print(f"sfgen: {self.spec.name}: {message}", file=sys.stderr, flush=True)
        if in_log:
            note(self.workflow_dir / self.spec.log, message)

    def _hold_running_lock(self) -> int | None:
        """Lock this experiment for as long as any of its processes lives; wait out an orphaned earlier run."""
        path = self.workflow_dir / RUNNING_DIR / f"{self.spec.rule}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        waited = False
        while (fd := try_lock(path)) is None:
            if not waited:
                self._say(f"an earlier run of this experiment is still running (on {self._holder()}): waiting for "
                          "it to end, not starting a second copy", in_log=True)
                waited = True
            if self._check_parent():
                return None
            time.sleep(1)
        return fd

    def _holder(self) -> str:
        """Where the live earlier run is, from its running record: ``host, Slurm job N``."""
        record = read_record(self._running_record) or {}
        return ", ".join(filter(None, [record.get("host") or "another process", record.get("job")]))

    def _claim_slot(self) -> Claim | None:
        """The run's slot and GPU (a local run), or none to claim (a cluster's scheduler gave the GPUs)."""
        if not hasattr(self.job, "claim_slot"):
            return Claim(None)
        return self.job.claim_slot(
            self.workflow_dir, self.options, self._check_parent, lambda: self._say("waiting for a free slot")
        )

    def _command(self) -> list[str]:
        """The experiment's argv, as the backend runs it (the run's interpreter, an sbatch template)."""
        if not hasattr(self.job, "command"):
            return self.spec.argv
        return self.job.command(self.workflow_dir, self.spec, self.options)

    def _environment(self, slot: Claim) -> dict[str, str]:
        env = dict(os.environ)
        env.pop(BACKEND_ENV, None)
        if slot.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot.gpu
        for key, value in (self.spec.env_vars or {}).items():
            env[key] = str(value)
        return env

    def _execute(
        self, command: list[str], env: dict[str, str], workdir: Path, held: tuple[int, ...], record: dict[str, Any]
    ) -> int:
        """Run the experiment with its output in its log file; return its exit code (128+N for signal N)."""
        log_path = self.workflow_dir / self.spec.log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab", buffering=0) as log:
            gpus = f"CUDA_VISIBLE_DEVICES={record['gpu']}" if record["gpu"] is not None else "every GPU visible"
            log.write(f"{PREFIX}{record['start']} start {self.spec.name} on {record['host']} {gpus}\n".encode())
            started = time.monotonic()
            try:
                proc = subprocess.Popen(
                    command,
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=held,
                    preexec_fn=proctree.stopped_with_parent(signal.SIGTERM),
                )
            except OSError as error:
                log.write(f"{PREFIX}{now()} cannot start {command[0]}: {error}\n".encode())
                code = 127
            else:
                record["pid"] = proc.pid
                # where, since when and which process, for `sfgen status`; written once the experiment runs,
                # and not synced to disk: it only matters while this launcher lives
                write_record(self._running_record, {**record, "launcher_pid": os.getpid()}, durable=False)
                self._wait(proc)
                stopped = self.interrupted is not None and proc.poll() is None
                if stopped:
                    _stop(proc, self.interrupted, float(self.options["kill_timeout"]))
                elif proctree.stop_all(signal.SIGTERM, float(self.options["kill_timeout"])):
                    log.write(f"{PREFIX}{now()} stopped processes the experiment left running\n".encode())
                code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
                if stopped and code == 0:  # it caught the signal and exited 0: still not finished
                    code = 128 + (self.interrupted or signal.SIGTERM)
            record.update(end=now(), duration_s=round(time.monotonic() - started, 3), exit_code=code)
            log.write(f"{PREFIX}{record['end']} exit {code} after {record['duration_s']} s\n".encode())
        return code

    def failed_itself(self, error: Exception) -> int:
        """Record that the launcher itself failed (the experiment did not run, or ran and could not be
        recorded), so that ``sfgen status`` says failed and why, never pending: in the failure record, or
        where ``markers/`` is not writable in ``.sfgen/failed``; and in the log when it can be written."""
        reason = f"sfgen's launcher failed: {type(error).__name__}: {error}"
        self._say(reason)
        record = attempt_record(self.spec, host=os.uname().nodename, exit_code=None, end=now(), interrupted=False,
                                reason=reason)
        for path in (self.spec.failure, failure_elsewhere(self.spec.rule)):
            try:
                write_record(self.workflow_dir / path, record)
                break
            except OSError:
                continue
        with suppress(OSError):
            note(self.workflow_dir / self.spec.log, reason)
        return 70  # EX_SOFTWARE

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        proctree.become_subreaper()
        running = self._hold_running_lock()
        if running is None:
            return 128 + (self.interrupted or signal.SIGTERM)
        compiled = self.options.get(STAMP)
        if compiled is not None and compiled != stamp(self.snakefile):
            raise SfgenError("the workflow was recompiled after this run started, so this experiment's command may "
                             "have changed: run the workflow again")
        done = read_record(self.workflow_dir / self.spec.marker)
        if done is not None:
            by = done.get("job") or done.get("host") or "?"
            self._say(f"already finished (by {by}, {done.get('end')}): its marker exists, so it is not run again; "
                      "sfgen reset NAME redoes it", in_log=True)
            return 0
        failure = read_record(self.workflow_dir / self.spec.failure)
        refused = self.job.refuse_retry(self.workflow_dir, self.spec.rule, failure) if (
            failure is not None and hasattr(self.job, "refuse_retry")) else None
        if refused:  # a retry meant for experiments Slurm stopped
            self._say(refused)
            return int(failure.get("exit_code") or 1)
        # Everything that does not need the slot is done before waiting for it: a freed slot passes on
        # to an experiment that is ready to start.
        command = self._command()
        workdir = (self.workflow_dir / self.options["workdir"]).resolve()
        git_commit = _git_commit(workdir)
        slot = self._claim_slot()
        if slot is None:
            return 128 + (self.interrupted or signal.SIGTERM)
        env = self._environment(slot)
        record = attempt_record(
            self.spec,
            argv=command,
            workdir=str(workdir),
            host=os.uname().nodename,
            gpu=env.get("CUDA_VISIBLE_DEVICES"),
            **(self.job.record_fields() if hasattr(self.job, "record_fields") else {}),
            pid=None,
            start=now(),
            git_commit=git_commit,
        )
        code = self._execute(command, env, workdir, (running, *slot.fds), record)
        # The experiment is over: what is left is recording it. A signal now (Ctrl-C to the group, Snakemake
        # passing on SIGTERM) must not kill the launcher mid-way, while Python shuts down with its handlers
        # already reset: Snakemake would count the job failed and delete the marker just written.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        slot.release()  # the next experiment may start while this one's records are written
        self._running_record.unlink(missing_ok=True)
        if code == 0:
            write_record(self.workflow_dir / self.spec.marker, record)
            (self.workflow_dir / self.spec.failure).unlink(missing_ok=True)
            (self.workflow_dir / failure_elsewhere(self.spec.rule)).unlink(missing_ok=True)
        else:
            record["interrupted"] = self.interrupted is not None
            write_record(self.workflow_dir / self.spec.failure, record)
            log_path = self.workflow_dir / self.spec.log
            from sfgen.explog import tail  # only on failure: keeps the launcher's start light

            self._say(f"failed with exit code {code}; log: {log_path}; its last lines:\n" + "\n".join(tail(log_path)))
        return code


def main(argv: list[str]) -> int:
    """``argv``: SNAKEFILE OPTIONS_JSON RULE, as ``sfgen.parse_time.launch_command`` writes them."""
    if len(argv) != 3:
        print(f"usage: python -S {__file__} SNAKEFILE OPTIONS_JSON RULE (run by sfgen's Snakefile)", file=sys.stderr)
        return 2
    snakefile, rule = Path(argv[0]).resolve(), argv[2]
    try:
        launcher = Launcher(snakefile, json.loads(argv[1]), find_experiment(snakefile, rule))
    except (OSError, ValueError, KeyError) as error:
        print(f"sfgen: cannot read experiment {rule} of {snakefile} ({type(error).__name__}: {error}): "
              "recompile the workflow with sfgen compile", file=sys.stderr)
        return 2
    try:
        return launcher.run()
    except Exception as error:  # the launcher's own failure (a full disk, an unusable slot dir): recorded
        return launcher.failed_itself(error)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
