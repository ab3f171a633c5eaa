"""``sfgen status --watch``: the sweep at a glance, redrawn in place until every experiment has ended.

One screen that fits an 80-column terminal over SSH: a bar of the sweep (done, failed, running, pending)
with the time elapsed and an estimate of the time left, each running experiment with its training
progress, and the latest failures with their last log line. On a terminal it redraws in place (cursor
home, then each line cleared to its end: no flicker, no scrolling, nothing but ANSI escapes every
terminal knows) and ``q`` or Ctrl-C quits; elsewhere (a pipe, a file, ``nohup``) it prints plain
snapshots, one per interval. Each refresh costs one ``sfgen status``: files only, and Slurm asked once.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sfgen.explog import tail
from sfgen.progress import Progress, add_progress
from sfgen.state import STATES, ExperimentState, Workflow, experiment_states, load_workflow, plural, summary
from sfgen.state import select as pick
from sfgen.status_view import Style, duration, gpu_and_host, progress_text, reward_text, safe

_MAX_FAILURES = 3
_BAR_CHARS = {"done": "#", "failed": "x", "running": ">", "pending": "."}
_ENDED = ("done", "failed")
Segment = tuple[str, str | None]  # text and its colour (a key of report's colours), or None for plain


def _timestamp(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso or "").timestamp()
    except ValueError:
        return None


def sweep_times(states: list[ExperimentState], now: float) -> tuple[float | None, float | None]:
    """Seconds since the earliest recorded start, and an estimate of the seconds left: the running
    experiments' remaining frames at their speed (else the finished ones' mean duration less their age),
    and the pending ones at that mean duration, shared among as many as now run. None where unknown."""
    starts = [t for state in states if (t := _timestamp(state.field("start"))) is not None]
    elapsed = now - min(starts) if starts else None
    durations = [state.field("duration_s") for state in states if state.state == "done" and state.field("duration_s")]
    mean = sum(durations) / len(durations) if durations else None
    running = [state for state in states if state.state == "running"]
    pending = sum(state.state == "pending" for state in states)
    if not running:
        return elapsed, (0.0 if not pending else None)
    left = []
    for state in running:
        progress, started = state.progress, _timestamp(state.field("start"))
        if progress and progress.target_frames and progress.fps:
            left.append(max(progress.target_frames - progress.frames, 0) / progress.fps)
        elif mean is not None:
            left.append(max(mean - (now - started if started else 0.0), 0.0))
        else:
            return elapsed, None
    if pending and mean is None:
        return elapsed, None
    total = sum(left) + pending * (mean or 0.0)
    return elapsed, max(max(left), total / len(running))


def _shares(counts: dict[str, int], width: int) -> dict[str, int]:
    """Cells of the bar per state: proportional, at least one for any state that has experiments."""
    total = sum(counts.values()) or 1
    cells = {name: max(1, round(number * width / total)) if number else 0 for name, number in counts.items()}
    while sum(cells.values()) != width and any(cells.values()):
        largest = max(cells, key=cells.__getitem__)
        cells[largest] += 1 if sum(cells.values()) < width else -1
    return cells


class Screen:
    """Lines of segments, cut to the width when rendered (a line longer than the terminal would wrap and
    push the frame up, breaking the redraw)."""

    def __init__(self, style: Style, width: int, unicode: bool, keys: bool):
        self.style = style
        self.width = width
        self.unicode = unicode
        self.keys = keys  # q quits
        self.lines: list[list[Segment]] = []

    def add(self, *segments: Segment) -> None:
        self.lines.append(list(segments))

    def render(self, line: list[Segment]) -> str:
        room, out = self.width, []
        for text, colour in line:
            text = text[:room]
            room -= len(text)
            out.append(self.style(text, colour) if colour and text else text)
        return "".join(out)

    def bar(self, counts: dict[str, int], width: int) -> list[Segment]:
        segments: list[Segment] = []
        for name, cells in _shares(counts, width).items():
            char = ("░" if name == "pending" else "█") if self.unicode else _BAR_CHARS[name]
            segments.append((char * cells, None if name == "pending" else name))
        return segments


def _age(state: ExperimentState, now: float) -> str:
    started = _timestamp(state.field("start"))
    return duration(now - started) if started is not None else "queued"


def frame(workflow: Workflow, states: list[ExperimentState], screen: Screen, height: int, interval: float,
          warnings: list[str]) -> None:
    """Fill ``screen`` with one view of the sweep in at most ``height`` lines: the running experiments
    get what the header, the latest failures and the footer leave."""
    now = time.time()
    totals = summary(states)
    counts = {name: totals[name] for name in STATES}
    clock = datetime.fromtimestamp(now).strftime("%H:%M:%S")
    screen.add((safe(workflow.run_name or "workflow"), "bold"),
               (f"  {plural(len(states), 'experiment')}  {clock}, every {interval:g} s", None))
    percent = f" {100 * (counts['done'] + counts['failed']) / max(len(states), 1):3.0f}%"
    screen.add(("[", None), *screen.bar(counts, screen.width - len(percent) - 2), ("]" + percent, None))
    elapsed, left = sweep_times(states, now)
    times = f"  elapsed {duration(elapsed) if elapsed is not None else '?'}"
    times += ", done" if left == 0 else f", ETA {duration(left) if left is not None else '?'}"
    numbers: list[Segment] = []
    for name in STATES:
        numbers += [(", " if numbers else "", None), (f"{counts[name]} {name}", name if counts[name] else None)]
    screen.add(*numbers, (times, None))
    warned: list[list[Segment]] = [[(f"warning: {warning}", "failed")] for warning in warnings]
    tail_lines = _failures(workflow, states) + warned + _footer(states, screen)
    _running(states, screen, height - len(screen.lines) - len(tail_lines), now)
    screen.lines += tail_lines
    del screen.lines[height:]


def _running(states: list[ExperimentState], screen: Screen, room: int, now: float) -> None:
    """The running experiments, each with where, for how long, and its training progress, in ``room`` lines."""
    running = [state for state in states if state.state == "running"]
    if not running:
        return
    screen.add()
    screen.add((f"running ({len(running)}):", "running"))
    room -= 3  # the two lines above, and one for "... and N more"
    shown = 0
    for state in running:
        needed = 2 if state.progress else 1
        if needed > room and shown:
            break
        room -= needed
        shown += 1
        where = f"  {machine(state)}, {_age(state, now)}"
        name = safe(state.spec.name)[: max(screen.width - len(where) - 2, 12)]
        screen.add((f"  {name}", "bold"), (f"{where:>{screen.width - len(name) - 2}}", None))
        if state.progress:
            screen.add((f"    {_progress_bar(state.progress, screen)}{progress_text(state.progress)}", None))
    if shown < len(running):
        screen.add((f"  ... and {len(running) - shown} more: sfgen status --state=running", None))


def _failures(workflow: Workflow, states: list[ExperimentState]) -> list[list[Segment]]:
    """The latest failures, newest first, each with its exit and the last line of its log."""
    failures = sorted((s for s in states if s.state == "failed"), key=lambda s: s.field("end") or "", reverse=True)
    if not failures:
        return []
    shown = failures[:_MAX_FAILURES]
    title = f"latest failures ({len(shown)} of {len(failures)}):" if len(failures) > len(shown) else \
        f"failed ({len(failures)}):"
    lines: list[list[Segment]] = [[], [(title, "failed")]]
    for state in shown:
        code = state.field("reason") or (f"exit {state.exit_code}" if state.exit_code is not None else "failed")
        when = (state.field("end") or "")[11:19]
        lines.append([(f"  {safe(state.spec.name)}", "bold"), (f"  {code}{', ' + when if when else ''}", None)])
        last = tail(workflow.directory / state.spec.log, 1)
        lines.append([(f"    | {last[-1]}" if last else "    (it printed nothing)", "dim")])
    return lines


def _footer(states: list[ExperimentState], screen: Screen) -> list[list[Segment]]:
    """The best reward so far, and how to quit."""
    parts = []
    rewarded = [state for state in states if state.progress and state.progress.reward is not None]
    if rewarded:
        best = max(rewarded, key=lambda state: state.progress.reward)
        parts.append(f"best reward {reward_text(best.progress.reward)}: {safe(best.spec.name)}")
    if screen.keys:
        parts.append("q or Ctrl-C quits")
    return [[], [("; ".join(parts), "dim")]] if parts else []


def machine(state: ExperimentState) -> str:
    """Where the latest attempt runs or ran, in a few words: ``GPU 1 on node07 job 4711``."""
    parts = gpu_and_host(state)
    if state.slurm_job_id:
        parts.append(f"job {state.slurm_job_id}")
    if state.ngc_job_id:
        parts.append(f"NGC job {state.ngc_job_id}")
    return " ".join(parts) or "starting"


def _progress_bar(progress: Progress, screen: Screen) -> str:
    if progress.fraction is None:
        return ""
    cells = min(round(progress.fraction * 10), 10)
    full, empty = ("█", "░") if screen.unicode else ("#", ".")
    return f"{full * cells}{empty * (10 - cells)} "


@contextmanager
def _keys(active: bool) -> Iterator[int | None]:
    """The terminal's input in cbreak mode (keys arrive at once, unechoed; Ctrl-C still interrupts),
    restored however the watch ends; None when not on a terminal."""
    if not active:
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _quit_pressed(fd: int | None, timeout: float) -> bool:
    """Wait ``timeout`` seconds, or until a key: True if it was ``q``."""
    if fd is None:
        time.sleep(timeout)
        return False
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            if b"q" in os.read(fd, 64).lower():
                return True
    return False


def watch(directory: Path, patterns: list[str], interval: float) -> int:
    """Redraw until every experiment has ended, or ``q``/Ctrl-C; exit status 0 either way."""
    workflow = load_workflow(directory)
    specs = pick(workflow.specs, patterns) if patterns else workflow.specs
    on_terminal = sys.stdout.isatty()
    style = Style.for_stdout()
    unicode = style.on and (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # leave the terminal as it was (finally below)
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    out = sys.stdout
    with _keys(on_terminal and sys.stdin.isatty()) as keys:
        try:
            if on_terminal:
                out.write("\x1b[?25l\x1b[H\x1b[2J")  # hide the cursor, clear once
            while True:
                warnings: list[str] = []
                states = experiment_states(directory, specs, warnings.append)
                add_progress(directory, states)
                size = shutil.get_terminal_size()
                screen = Screen(style, max(size.columns - 1, 40) if on_terminal else 80, unicode, keys is not None)
                frame(workflow, states, screen, max(size.lines - 1, 10) if on_terminal else 10_000, interval, warnings)
                lines = [screen.render(line) for line in screen.lines]
                if on_terminal:
                    out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
                else:
                    out.write("\n".join(lines) + "\n\n")
                out.flush()
                if all(state.state in _ENDED for state in states) or _quit_pressed(keys, interval):
                    return 0
        except KeyboardInterrupt:
            return 0
        finally:
            if on_terminal:
                out.write("\x1b[?25h")
                out.flush()
