"""``sfgen run``'s second half: run Snakemake on the compiled workflow, show what happens, and report.

Snakemake's own output (hundreds of lines for a sweep) goes to a log file whose path is printed. The
terminal gets a view built from the files the experiments leave behind (completion markers, failure
records, the launchers' running records): one line per experiment start, end and failure, a progress line
(a bar redrawn in place on a terminal, a line every half minute otherwise), the lines sfgen's own code
prints into Snakemake's output (``sfgen: ...``), and a summary naming the failures with their logs' last
lines, where the logs, markers and train dir are, and the command to run next.

Signals: Snakemake runs in a session of its own; SIGINT, SIGTERM and SIGHUP to ``sfgen run`` (to the process
or to its process group) are passed to that whole session, so the launchers stop their experiments and
Snakemake cancels cluster jobs. The handlers are installed before Snakemake starts: a signal with a handler
is reset to its default in the child, while an ignored one stays ignored (a script's ``sfgen run ... &``
starts with SIGINT ignored, and Snakemake would then go on starting experiments after a ``kill -INT``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Callable, TextIO

from sfgen import proctree
from sfgen.backend import every
from sfgen.compile import Compiled
from sfgen.explog import tail
from sfgen.layout import LOGS, MARKERS, RUNNING_DIR
from sfgen.markers import read_record
from sfgen.spec import ExperimentSpec
from sfgen.state import ExperimentState, experiment_states
from sfgen.status_view import Style, safe

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_LOOK_EVERY = 0.25  # s between two looks at the workflow dir, at least (more when a look is slow)
_PROGRESS_EVERY = 30.0  # s between two progress lines when stdout is not a terminal
_FAILURES_SHOWN = 10  # with their log tails in the summary; sfgen status --failed shows all
_BAR = 20  # characters of the progress bar


def _shown(path: Path | str) -> str:
    """``path`` as the user can type it here: relative below the current directory, else absolute."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(Path(path).resolve())


def _clock(seconds: float) -> str:
    """``1:05:09``, ``4:02``: elapsed times and estimates."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _took(seconds: float) -> str:
    """How long an experiment ran: ``0.4 s`` under a minute, else as :func:`_clock`."""
    return f"{seconds:.1f} s" if seconds < 60 else _clock(seconds)


class _Signals:
    """SIGINT, SIGTERM and SIGHUP passed on to Snakemake's process group, from before it starts (see the
    module docstring) until it has ended; the first one received decides the exit status (128 + N)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.pgid: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        self._previous = {signum: signal.signal(signum, self._handle) for signum in _SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received = self.received or signum
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signum)
            except ProcessLookupError:
                pass

    def started(self, pid: int) -> None:
        """Snakemake runs, as process group ``pid``: pass it a signal that came while it was starting."""
        self.pgid = pid
        if self.received is not None:
            self._forward(self.received)


@dataclass(frozen=True)
class Event:
    """An experiment started, finished or failed in this run; ``record`` what its files say of it."""

    kind: str  # "started", "done" or "failed"
    spec: ExperimentSpec
    record: dict[str, Any]


def _entries(directory: Path, suffix: str) -> dict[str, os.DirEntry]:
    """rule -> directory entry of ``directory``'s files named ``RULE<suffix>``; empty when it is missing."""
    try:
        with os.scandir(directory) as entries:
            return {e.name[: -len(suffix)]: e for e in entries if e.name.endswith(suffix) and not e.name.startswith(".")}
    except OSError:
        return {}


def _version(entry: os.DirEntry) -> tuple[int, int] | None:
    """Which write of a record this is (records are replaced whole, so a new write is a new inode)."""
    try:
        stat = entry.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


class Tracker:
    """What changed in the workflow dir since the last look: one listing of ``markers/``, of the running
    records and of NGC's job pointers per look, and only new records read, so a look at a 10,000-experiment
    sweep costs milliseconds. Records older than the run (an earlier run's failures, stale running records)
    are not events of this run."""

    def __init__(self, workflow_dir: Path, specs: list[ExperimentSpec]):
        self.dir = workflow_dir
        self.specs = {spec.rule: spec for spec in specs}
        self.done = set(_entries(workflow_dir / MARKERS, ".done")) & set(self.specs)
        self.done_before = len(self.done)
        self.failed: set[str] = set()  # failed in this run, and not started again since
        self.running: set[str] = set()
        self._seen: dict[Path, tuple[int, int] | None] = {}  # record -> its version when last looked at
        self._seen.update(self._versions(workflow_dir / MARKERS, ".failed"))
        # where starts are recorded: the launchers' running records, and what cluster backends record
        self.start_dirs = [workflow_dir / RUNNING_DIR] + [workflow_dir / each.start_records for each in every()
                                                          if each.start_records is not None]
        for directory in self.start_dirs:
            self._seen.update(self._versions(directory, ".json"))

    def _versions(self, directory: Path, suffix: str) -> dict[Path, tuple[int, int] | None]:
        """The records there now, by version: what the run found is not an event of the run."""
        return {directory / (rule + suffix): _version(entry) for rule, entry in _entries(directory, suffix).items()}

    def _changed(self, directory: Path, suffix: str) -> list[tuple[str, Path]]:
        """(rule, record) of this sweep's records in ``directory`` written since the last look."""
        changed = []
        for rule, entry in _entries(directory, suffix).items():
            path, version = directory / entry.name, _version(entry)
            if rule in self.specs and version is not None and version != self._seen.get(path):
                self._seen[path] = version
                changed.append((rule, path))
        return changed

    def look(self) -> list[Event]:
        """The events since the last look: starts first, then ends."""
        events = []
        starts = [start for directory in self.start_dirs for start in self._changed(directory, ".json")]
        for rule, path in starts:
            if rule not in self.running and rule not in self.done:
                events.append(self._started(rule, read_record(path) or {}))
        for rule in sorted((set(_entries(self.dir / MARKERS, ".done")) & set(self.specs)) - self.done):
            events += self._ended("done", rule, read_record(self.dir / self.specs[rule].marker) or {})
        for rule, path in self._changed(self.dir / MARKERS, ".failed"):
            if rule not in self.done:
                events += self._ended("failed", rule, read_record(path) or {})
        return events

    def _started(self, rule: str, record: dict[str, Any]) -> Event:
        """A start; an experiment failed earlier in this run and started again is a retry, not a failure."""
        self.running.add(rule)
        self.failed.discard(rule)  # a retry (a resubmitted Slurm job)
        return Event("started", self.specs[rule], record)

    def _ended(self, kind: str, rule: str, record: dict[str, Any]) -> list[Event]:
        """The end of ``rule``, preceded by its start when that came and went between two looks (not for a
        cluster job that ended before the experiment started: its record has no start)."""
        started = rule in self.running or not record.get("start")
        events = [] if started else [self._started(rule, record)]
        self.running.discard(rule)
        (self.done if kind == "done" else self.failed).add(rule)
        return [*events, Event(kind, self.specs[rule], record)]

    def counts(self) -> dict[str, int]:
        """done (earlier runs' too), failed in this run, running, and pending: the rest, for the next run."""
        running = len(self.running)
        failed = len(self.failed - self.done)
        return {"done": len(self.done), "failed": failed, "running": running,
                "pending": len(self.specs) - len(self.done) - failed - running}


def _why(record: dict[str, Any]) -> str:
    """Why an attempt failed, from its failure record: ``exit 1``, ``stopped (exit 130)``, or the reason
    a cluster job ended before the experiment started."""
    if record.get("reason"):
        return str(record["reason"])
    return f"stopped (exit {record.get('exit_code')})" if record.get("interrupted") else f"exit {record.get('exit_code')}"


def _where(record: dict[str, Any]) -> str:
    """`` (GPU 0)``, `` (GPU 0, node07, Slurm job 12)``: where an experiment runs, as far as its record says
    (a cluster job's record names it in ``job``)."""
    parts = []
    if record.get("gpu") is not None:
        parts.append(f"GPU {record['gpu']}")
    if record.get("job"):
        parts += [str(record["host"])] if record.get("host") else []
        parts.append(str(record["job"]))
    return f" ({safe(', '.join(parts))})" if parts else ""


class View:
    """The terminal's side: event lines, sfgen's lines from Snakemake's output, and the progress line,
    which a terminal redraws in place under the other lines."""

    def __init__(self, out: TextIO, tracker: Tracker, workflow_dir: Path):
        self.out = out
        self.tracker = tracker
        self.dir = workflow_dir
        self.style = Style.for_stdout()
        self.live = out.isatty()
        self.start = time.monotonic()
        self._last_progress = self.start
        self._bar_shown = False

    def say(self, line: str) -> None:
        """A line above the progress bar."""
        self._clear()
        print(line, file=self.out, flush=True)

    def note(self, line: str) -> None:
        """A line sfgen's code printed into Snakemake's output, on stderr, where it went before."""
        self._clear()
        self.out.flush()
        print(line, file=sys.stderr, flush=True)

    def event(self, event: Event) -> None:
        """One line: ``started NAME (GPU 1)``, ``done NAME in 3.2 s``, ``FAILED NAME (exit 1); log: PATH``."""
        name = self.style(safe(event.spec.name), "bold")
        record = event.record
        if event.kind == "started":
            self.say(f"sfgen: started {name}{_where(record)}")
        elif event.kind == "done":
            took = f" in {_took(record['duration_s'])}" if isinstance(record.get("duration_s"), (int, float)) else ""
            self.say(f"sfgen: {self.style('done', 'done')}    {name}{took}")
        else:
            log = self.dir / event.spec.log
            self.say(f"sfgen: {self.style('FAILED', 'failed')}  {name} ({safe(_why(record))}); log: {safe(str(log))}")

    def progress(self) -> None:
        """The progress line: redrawn on a terminal, printed every _PROGRESS_EVERY s otherwise."""
        now = time.monotonic()
        if not self.live and now - self._last_progress < _PROGRESS_EVERY:
            return
        self._last_progress = now
        text = self._progress_text(now - self.start)
        if self.live:  # the bar takes what the terminal's width leaves, so the line never wraps
            room = shutil.get_terminal_size().columns - 1 - len(text) - 3
            self.out.write(f"\r\x1b[K{self._bar(min(room, _BAR))} {text}" if room > 0 else f"\r\x1b[K{text}")
            self.out.flush()
            self._bar_shown = True
        else:
            self.say(f"sfgen: {self._bar(_BAR)} {text}")

    def _bar(self, width: int) -> str:
        """``[######....]``: the share of experiments done."""
        counts = self.tracker.counts()
        total = sum(counts.values())
        filled = round(width * counts["done"] / total) if total else width
        return f"[{'#' * filled}{'.' * (width - filled)}]"

    def _progress_text(self, elapsed: float) -> str:
        """``12/60 done, 1 failed, 4 running, 43 pending, 0:42 elapsed, ETA 2:10``: the ETA from this run's
        pace so far (experiments ended per second)."""
        counts = self.tracker.counts()
        total = sum(counts.values())
        finished = counts["done"] - self.tracker.done_before + counts["failed"]
        left = counts["running"] + counts["pending"]
        eta = _clock(elapsed / finished * left) if finished and left else ("0:00" if not left else "?")
        numbers = ", ".join(f"{counts[state]} {state}" for state in ("failed", "running", "pending"))
        return f"{counts['done']}/{total} done, {numbers}, {_clock(elapsed)} elapsed, ETA {eta}"

    def _clear(self) -> None:
        if self._bar_shown:
            self.out.write("\r\x1b[K")
            self._bar_shown = False


_OURS = re.compile(r"sfgen(?:-ngc-[a-z]+)?: ")  # sfgen's own code, and the NGC programs Snakemake runs
_ERROR = re.compile(r"sfgen(?:-ngc-[a-z]+)?: error: ")


class SnakemakeLog:
    """Snakemake's output as it is written to its log file: hands on the lines sfgen's own code printed
    into it (``sfgen: ...``: re-attached jobs, a status command chosen, errors; ``sfgen-ngc-submit: ...``),
    except each launcher's lines about its experiment, which the view shows as events."""

    def __init__(self, path: Path, specs: list[ExperimentSpec]):
        self.path = path
        self.names = {spec.name for spec in specs}
        self._offset = 0
        self._partial = b""
        self.errors = 0  # error lines of sfgen's seen: Snakemake's output said why it stopped

    def new_lines(self) -> list[str]:
        """The lines to show among those written since the last call (a partial last line waits)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = self._partial + handle.read()
                self._offset = handle.tell()
        except OSError:
            return []
        *complete, self._partial = data.split(b"\n")
        lines = [line.decode("utf-8", errors="replace").rstrip() for line in complete]
        ours = [line for line in lines if _OURS.match(line) and not self._about_an_experiment(line)]
        self.errors += sum(bool(_ERROR.match(line)) for line in ours)
        return ours

    def _about_an_experiment(self, line: str) -> bool:
        """A launcher's line, ``sfgen: NAME: ...``."""
        return line.startswith("sfgen: ") and line[len("sfgen: "):].split(": ", 1)[0] in self.names


def _log_path(workflow_dir: Path) -> Path:
    """This run's Snakemake log: ``logs/snakemake-DATE-TIME.log`` (a rule's log is ``logs/RULE.log``, and
    no rule name holds a ``-``)."""
    return workflow_dir / LOGS / f"snakemake-{datetime.now().strftime('%Y%m%d-%H%M%S')}.log"


def _watch(proc: subprocess.Popen, tracker: Tracker, view: View, log: SnakemakeLog) -> int:
    """Show events, sfgen's lines and progress until Snakemake exits; its exit code. A look is spaced
    by at least _LOOK_EVERY, and by 20 times its own cost, so a huge sweep's view never costs much CPU."""
    while True:
        began = time.monotonic()
        for line in log.new_lines():
            view.note(safe(line))
        for event in tracker.look():
            view.event(event)
        view.progress()
        try:
            return proc.wait(timeout=max(_LOOK_EVERY, 20 * (time.monotonic() - began)))
        except subprocess.TimeoutExpired:
            continue


def run_snakemake(compiled: Compiled, profile: str, train_dir: str) -> int:
    """Run the workflow with ``profiles/<profile>`` and show it; non-zero if Snakemake or any experiment
    failed, 128 + N when stopped by signal N."""
    log_path = _log_path(compiled.out)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "snakemake", "--profile", f"profiles/{profile}"]
    print(f"sfgen: running {len(compiled.specs)} experiments with profiles/{profile} in {_shown(compiled.out)}; "
          f"Snakemake's log: {_shown(log_path)}", flush=True)
    tracker = Tracker(compiled.out, compiled.specs)
    view = View(sys.stdout, tracker, compiled.out)
    log = SnakemakeLog(log_path, compiled.specs)
    with _Signals() as signals, open(log_path, "wb") as output:
        # Snakemake dies with sfgen run (SIGTERM: it stops its experiments or cancels its jobs, as on Ctrl-C):
        # killed alone, sfgen run would leave it running headless and the next run refused.
        proc = subprocess.Popen(command, cwd=compiled.out, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=proctree.stopped_with_parent(signal.SIGTERM))
        signals.started(proc.pid)
        code = _watch(proc, tracker, view, log)
    for line in log.new_lines():
        view.note(safe(line))
    for event in tracker.look():
        view.event(event)
    return _summary(compiled, code, signals.received, log, train_dir, view)


def _summary(compiled: Compiled, code: int, received: int | None, log: SnakemakeLog, train_dir: str, view: View) -> int:
    """The run's outcome, its failures with their logs' last lines, where things are and what to do next;
    the exit status."""
    states = experiment_states(compiled.out, compiled.specs)
    failed = [state for state in states if state.state == "failed"]
    not_run = [state for state in states if state.state not in ("done", "failed")]
    say = view.say
    say(f"sfgen: {len(states) - len(failed) - len(not_run)} of {len(states)} experiments done, {len(failed)} failed, "
        f"{len(not_run)} not run; {_clock(time.monotonic() - view.start)} elapsed")
    for state in failed[:_FAILURES_SHOWN]:
        _show_failure(compiled.out, state, say)
    workflow = _shown(compiled.out)
    if len(failed) > _FAILURES_SHOWN:
        say(f"sfgen: ... and {len(failed) - _FAILURES_SHOWN} more: sfgen status --failed --dir {workflow}")
    if received is not None:
        say(f"sfgen: stopped by {signal.Signals(received).name}; running the same command again resumes")
    elif code != 0 and not failed and not log.errors:  # Snakemake stopped, and said why only in its log
        say(f"sfgen: Snakemake stopped with exit code {code}; the end of its log ({_shown(log.path)}):")
        for line in tail(log.path, lines=8):
            say(f"      | {safe(line)}")
    say(f"sfgen: experiment logs: {_shown(compiled.out / LOGS)}/   markers: {_shown(compiled.out / MARKERS)}/   "
        f"train dir: {safe(os.path.join(train_dir, compiled.run_name))}")
    if (failed or not_run) and received is None and (code == 0 or failed):
        rerun = "; running the same command again runs only the failed and missing experiments"
    else:
        rerun = ""
    say(f"sfgen: next: sfgen status --dir {workflow}{rerun}")
    if received is not None:
        return 128 + received
    return code if code != 0 else (1 if failed or not_run else 0)


def _show_failure(workflow_dir: Path, state: ExperimentState, say: Callable[[str], None]) -> None:
    """A failed experiment: why, its log, and the log's last lines, whole (wrapped on a terminal)."""
    log = workflow_dir / (state.field("log") or state.spec.log)
    say(f"sfgen: FAILED {safe(state.spec.name)} ({safe(_why(state.record or {}))}); log: {safe(str(log))}")
    if state.field("interrupted"):
        return  # its log ends with how the trainer took the signal, not with a cause
    width = shutil.get_terminal_size().columns - 8 if sys.stdout.isatty() else None
    for line in tail(log, width=width) or ["(it printed nothing)"]:
        say(f"      | {safe(line)}")
