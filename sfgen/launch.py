"""The launcher each experiment job runs: GPU slot, environment, log file, completion marker.

Invoked by the generated Snakefile as ``python -S .../sfgen/launch.py SNAKEFILE OPTIONS_JSON RULE``
(``sfgen.workflow.launch_command``). It runs the experiment's argv without a shell in a session of its
own, so that an interrupt (SIGINT, SIGTERM, SIGHUP, or Snakemake dying) stops the whole process tree,
and writes the marker only after exit 0. Its exit code is the experiment's.

Every experiment starts one launcher, and a local run's first wave starts them all at once, so its start
is kept short: ``-S`` skips site-packages and their .pth files (the launcher needs only the standard
library and sfgen; ``_psutil`` loads them for the rare stop), and it imports neither argparse,
dataclasses nor tempfile. Together that halves a launcher's start.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a file with -S: sfgen is imported from the directory holding it
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sfgen import __version__
from sfgen.markers import read_record, write_record
from sfgen.slots import Claim, claim, gpu_ids, try_lock
from sfgen.snakefile import find_experiment
from sfgen.spec import RUNNING_DIR, ExperimentSpec

LOCAL_ENV = "SFGEN_LOCAL"  # set by the Snakefile's onstart for local runs: the launcher assigns GPU slots
_POLL = 0.5  # seconds between checks that Snakemake is still alive


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _slurm_session():
    """sfgen.slurm.session, imported where a Slurm job needs it: the Slurm backend is too heavy to load for
    every local experiment, whose launchers start together with the first wave."""
    from sfgen.slurm import session

    return session


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies don't count: an init that does not reap
    orphans would otherwise keep a finished group alive forever)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                return True
    return False


def _reap_group(pgid: int, timeout: float) -> bool:
    """Stop what the experiment left running in its process group (workers that would hold the GPU)."""
    if not _group_alive(pgid):
        return False
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    return True


def _psutil():
    """psutil, from the installed packages a launcher started with ``python -S`` has yet to load."""
    if sys.flags.no_site:
        import site

        site.main()
    import psutil

    return psutil


def _stop(proc: subprocess.Popen, signum: int, timeout: float) -> None:
    """Stop the experiment's process group and every descendant: ``signum`` first, SIGKILL after timeout."""
    psutil = _psutil()

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    _signal_group(proc.pid, signum)
    for process in descendants:
        with suppress(psutil.Error):
            process.send_signal(signum)
    deadline = time.monotonic() + timeout
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    _, alive = psutil.wait_procs(descendants, timeout=max(0.0, deadline - time.monotonic()))
    _signal_group(proc.pid, signal.SIGKILL)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
    proc.wait()


class Launcher:
    def __init__(self, snakefile: Path, options: dict[str, Any], spec: ExperimentSpec):
        self.workflow_dir = snakefile.parent
        self.options = options
        self.spec = spec
        self.interrupted: int | None = None
        self.parent = os.getppid()

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

    def _say(self, message: str) -> None:
        print(f"sfgen: {self.spec.name}: {message}", file=sys.stderr, flush=True)

    def _hold_running_lock(self) -> int | None:
        """Lock this experiment for as long as any of its processes lives; wait out an orphaned earlier run."""
        path = self.workflow_dir / RUNNING_DIR / f"{self.spec.rule}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        waited = False
        while (fd := try_lock(path)) is None:
            if not waited:
                self._say("an earlier run of this experiment is still running: waiting for it to end")
                waited = True
            if self._check_parent():
                return None
            time.sleep(1)
        return fd

    def _claim_slot(self) -> Claim | None:
        if os.environ.get(LOCAL_ENV) != "1":
            return Claim(None)  # a cluster job: the scheduler assigned the GPUs
        per_gpu = int(self.options["experiments_per_gpu"])
        gpus = None
        if per_gpu > 0:
            gpus = gpu_ids(int(self.options["num_gpus"]), os.environ.get("CUDA_VISIBLE_DEVICES"))
        run_dir = self.workflow_dir / ".sfgen" / "run-slots"
        return claim(
            [run_dir / f"run{index}.lock" for index in range(int(self.options["max_parallel"]))],
            self.workflow_dir / self.options["slot_dir"],
            gpus,
            per_gpu,
            float(self.options["pause_between"]),
            self._check_parent,
            lambda: self._say("waiting for a free slot"),
        )

    def _command(self) -> list[str]:
        """The experiment's argv. Run locally, a first word starting with ``python`` is this interpreter,
        as in Sample Factory's local runner: the sweep's virtualenv, whatever PATH holds. In a Slurm job
        compiled with an sbatch template, the argv runs through the template."""
        argv = self.spec.argv
        if os.environ.get(LOCAL_ENV) == "1":
            return [sys.executable, *argv[1:]] if argv[0].startswith("python") else argv
        if "SLURM_JOB_ID" not in os.environ or not self.options.get("slurm_sbatch_template"):
            return argv
        from sfgen.slurm.template import job_command

        return job_command(self.workflow_dir, self.spec, self.options)

    def _environment(self, slot: Claim) -> dict[str, str]:
        env = dict(os.environ)
        env.pop(LOCAL_ENV, None)
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
            log.write(
                f"==== sfgen {record['start']} start {self.spec.name} on {record['host']} "
                f"CUDA_VISIBLE_DEVICES={record['gpu']}\n".encode()
            )
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
                )
            except OSError as error:
                log.write(f"==== sfgen: cannot start {command[0]}: {error}\n".encode())
                code = 127
            else:
                record["pid"] = proc.pid
                # where, since when and which process, for `sfgen status`; written once the experiment runs,
                # and not synced to disk: it only matters while this launcher lives
                write_record(self._running_record, record, durable=False)
                self._wait(proc)
                stopped = self.interrupted is not None and proc.poll() is None
                if stopped:
                    _stop(proc, self.interrupted, float(self.options["kill_timeout"]))
                elif _reap_group(proc.pid, float(self.options["kill_timeout"])):
                    log.write(b"==== sfgen: stopped processes the experiment left running\n")
                code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
                if stopped and code == 0:  # it caught the signal and exited 0: still not finished
                    code = 128 + (self.interrupted or signal.SIGTERM)
            record.update(end=_now(), duration_s=round(time.monotonic() - started, 3), exit_code=code)
            log.write(f"==== sfgen {record['end']} exit {code} after {record['duration_s']} s\n".encode())
        return code

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        running = self._hold_running_lock()
        if running is None:
            return 128 + (self.interrupted or signal.SIGTERM)
        if read_record(self.workflow_dir / self.spec.marker) is not None:
            self._say("finished by an earlier run")
            return 0
        failure = read_record(self.workflow_dir / self.spec.failure)
        if failure is not None and _slurm_session().failed_on_its_own_in_this_run(failure):
            # a retry meant for experiments Slurm stopped
            self._say(f"failed on its own earlier in this run (exit {failure['exit_code']}): not run again")
            return int(failure["exit_code"]) or 1
        # Everything that does not need the slot is done before waiting for it: a freed slot passes on
        # to an experiment that is ready to start.
        command = self._command()
        workdir = (self.workflow_dir / self.options["workdir"]).resolve()
        git_commit = _git_commit(workdir)
        slot = self._claim_slot()
        if slot is None:
            return 128 + (self.interrupted or signal.SIGTERM)
        env = self._environment(slot)
        record: dict[str, Any] = {
            "name": self.spec.name,
            "rule": self.spec.rule,
            "cmd": self.spec.cmd,
            "argv": command,
            "root_dir": self.spec.root_dir,
            "env_vars": self.spec.env_vars,
            "workdir": str(workdir),
            "host": os.uname().nodename,
            "gpu": env.get("CUDA_VISIBLE_DEVICES"),
            "slurm_job_id": env.get("SLURM_JOB_ID"),
            "slurm_run": env.get(_slurm_session().RUN_ID_ENV) if "SLURM_JOB_ID" in env else None,
            "pid": None,
            "start": _now(),
            "sfgen_version": __version__,
            "git_commit": git_commit,
            "log": self.spec.log,
        }
        code = self._execute(command, env, workdir, (running, *slot.fds), record)
        slot.release()  # the next experiment may start while this one's records are written
        self._running_record.unlink(missing_ok=True)
        if code == 0:
            write_record(self.workflow_dir / self.spec.marker, record)
            (self.workflow_dir / self.spec.failure).unlink(missing_ok=True)
        else:
            record["interrupted"] = self.interrupted is not None
            write_record(self.workflow_dir / self.spec.failure, record)
            log_path = self.workflow_dir / self.spec.log
            from sfgen.report import tail  # only on failure: keeps the launcher's start light

            self._say(f"failed with exit code {code}; log: {log_path}; its last lines:\n" + "\n".join(tail(log_path)))
        return code


def main(argv: list[str]) -> int:
    """``argv``: SNAKEFILE OPTIONS_JSON RULE, as ``sfgen.workflow.launch_command`` writes them."""
    if len(argv) != 3:
        print(f"usage: python -S {__file__} SNAKEFILE OPTIONS_JSON RULE (run by sfgen's Snakefile)", file=sys.stderr)
        return 2
    snakefile, options, rule = Path(argv[0]).resolve(), json.loads(argv[1]), argv[2]
    return Launcher(snakefile, options, find_experiment(snakefile, rule)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
