"""``sfgen report``: the sweep as one self-contained HTML file, for a browser opening it from disk.

What it shows: the summary, one table per configuration with its seeds (state, training progress, reward),
a timeline of every attempt (one lane per GPU slot locally, per node on Slurm), the durations per
configuration, and the failures with their log tails.

Why server-side SVG from a Jinja2 template rather than a chart library: the file must work offline and
from disk with nothing fetched, so a library would have to be inlined into every report (hundreds of KB of
script for a few rectangles), and it is regenerated every minute. A Gantt chart is rectangles on a time
axis: Python computes their geometry, the template writes ``<rect>``s with a ``<title>`` each (the
tooltip), and the page needs no script at all, which its Content-Security-Policy enforces
(``default-src 'none'``: the browser itself refuses to fetch anything).

Cost: what ``sfgen status`` reads, plus the attempts (``sfgen.attempts``: only what the logs gained since
the last report) and the log tails of at most ``_MAX_TAILS`` failures.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from sfgen.attempts import Attempt, read_attempts
from sfgen.explog import tail
from sfgen.markers import write_atomic
from sfgen.progress import add_progress
from sfgen.state import STATES, ExperimentState, Workflow, experiment_states, load_workflow, summary
from sfgen.status_view import count, duration, frames_text, mean_reward, reward_text, rows, safe, where
from sfgen.watch import machine, sweep_times

_MAX_TAILS = 100  # failures shown with their log tails, the latest first
_TAIL_LINES = 20
_CHART_WIDTH = 1000  # px of the time axis
_LANE_HEIGHT = 18
_TICK_STEPS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 604800)


@dataclass
class Bar:
    """One attempt on the timeline."""

    rule: str
    number: int  # 1 for the experiment's first attempt
    outcome: str  # done, failed, stopped, running, lost (no end was recorded)
    start: float
    end: float
    title: str
    host: str
    gpu: str | None
    lane: int = 0


def _time(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso or "").timestamp()
    except ValueError:
        return None


def _outcome(attempt: Attempt, last: bool, state: ExperimentState) -> str:
    if attempt.end is None:
        return "running" if last and state.state == "running" else "lost"
    if attempt.exit_code == 0:
        return "done"
    if (attempt.exit_code or 0) >= 128 or (attempt.ngc_status or "").startswith("KILLED"):
        return "stopped"
    return "failed"


def _from_record(state: ExperimentState) -> list[Attempt]:
    """The latest attempt from the experiment's record, for one whose log is gone (or was never written)."""
    if state.field("start") is None or state.state == "pending":
        return []
    return [Attempt(state.field("start"), state.field("host"), state.field("gpu"), state.field("end"),
                    state.exit_code, state.field("duration_s"), state.ngc_job_id)]


def _bars(states: list[ExperimentState], attempts: dict[str, list[Attempt]], now: float) -> list[Bar]:
    bars = []
    for state in states:
        spec = state.spec
        tried = attempts.get(spec.rule) or _from_record(state)
        for number, attempt in enumerate(tried, 1):
            start = _time(attempt.start)
            if start is None:
                continue
            outcome = _outcome(attempt, number == len(tried), state)
            end = start + attempt.duration_s if attempt.duration_s is not None else _time(attempt.end)
            end = end or (now if outcome == "running" else start)
            parts = (attempt.host, f"GPU {attempt.gpu}" if attempt.gpu else "",
                     f"NGC job {attempt.ngc_job_id}" if attempt.ngc_job_id else "")
            where_ran = " ".join(part for part in parts if part)
            exit_text = f" (exit {attempt.exit_code})" if attempt.exit_code is not None else ""
            ended = datetime.fromtimestamp(end).strftime("%H:%M:%S") if outcome != "lost" else "no end recorded"
            title = (f"{safe(spec.name)}: attempt {number} of {len(tried)}, {outcome}{exit_text}; "
                     f"{datetime.fromtimestamp(start).strftime('%Y-%m-%d %H:%M:%S')} to {ended}"
                     f"{', ' + duration(end - start) if outcome != 'lost' else ''}; {where_ran or '?'}")
            bars.append(Bar(spec.rule, number, outcome, start, end, title, attempt.host or "?", attempt.gpu))
    return bars


def _lanes(bars: list[Bar]) -> list[str]:
    """Put each bar on a lane: attempts on the same host and GPU that overlap in time get lanes of their
    own, one per slot in use; returns the lanes' labels, in order of host, GPU, slot."""
    groups: dict[tuple[str, str], list[Bar]] = {}
    for bar in sorted(bars, key=lambda bar: (bar.start, bar.end)):  # within a second: the shorter first
        groups.setdefault((bar.host, bar.gpu or ""), []).append(bar)
    labels: list[str] = []

    def order(key: tuple[str, str]) -> tuple[Any, ...]:
        return key[0], [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in key[1].split(",")]

    for host, gpu in sorted(groups, key=order):
        free: list[tuple[float, int]] = []  # (when it frees up, slot) of each slot of this group, soonest first
        slots = 0
        first = len(labels)
        for bar in groups[(host, gpu)]:
            if free and free[0][0] <= bar.start + 1:  # times are to the second
                _, slot = heapq.heappop(free)
            else:
                slot, slots = slots, slots + 1
            heapq.heappush(free, (bar.end, slot))
            bar.lane = first + slot
        name = safe(f"{host} GPU {gpu}" if gpu else host)
        labels += [f"{name} #{slot + 1}" if slots > 1 else name for slot in range(slots)]
    return labels


def timeline(bars: list[Bar], now: float) -> dict[str, Any] | None:
    """The Gantt chart's geometry: lanes, bars and time ticks in px; None when nothing has started."""
    if not bars:
        return None
    labels = _lanes(bars)
    first = min(bar.start for bar in bars)
    last = max(max(bar.end for bar in bars), first + 1)
    scale = _CHART_WIDTH / (last - first)
    step = next((step for step in _TICK_STEPS if (last - first) / step <= 8), _TICK_STEPS[-1])
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%m-%d"
    ticks = [{"x": round((t - first) * scale, 1), "label": datetime.fromtimestamp(t).strftime(fmt)}
             for t in range(math.ceil(first / step) * step, int(last) + 1, step)]
    return {
        "width": _CHART_WIDTH,
        "height": len(labels) * _LANE_HEIGHT,
        "lane_height": _LANE_HEIGHT,
        "lanes": [{"label": label, "y": index * _LANE_HEIGHT} for index, label in enumerate(labels)],
        "bars": [{"x": round((bar.start - first) * scale, 1), "w": max(round((bar.end - bar.start) * scale, 1), 3),
                  "y": bar.lane * _LANE_HEIGHT + 2, "bar": bar} for bar in bars],
        "ticks": ticks,
        "start": datetime.fromtimestamp(first).strftime("%Y-%m-%d %H:%M:%S"),
        "end": datetime.fromtimestamp(last).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _experiment(state: ExperimentState, attempts: int) -> dict[str, Any]:
    progress = state.progress
    return {
        "name": safe(state.spec.name),
        "rule": state.spec.rule,
        "state": state.state,
        "exit_code": state.exit_code,
        "progress": frames_text(progress) if progress else "",
        "fps": f"{progress.fps:,.0f}" if progress and progress.fps is not None else "",
        "fraction": min(progress.fraction, 1.0) if progress and progress.fraction is not None else None,
        "reward": reward_text(progress.reward) if progress and progress.reward is not None else "",
        "duration": duration(state.field("duration_s")) if state.field("duration_s") is not None else "",
        "where": safe(machine(state)) if state.state != "pending" else "",
        "started": (state.field("start") or "")[5:19].replace("T", " "),
        "attempts": attempts,
    }


def _durations(states: list[ExperimentState]) -> dict[str, Any]:
    seconds = [state.field("duration_s") for state in states if state.state == "done" and state.field("duration_s")]
    if not seconds:
        return {"done": 0, "mean": "", "min": "", "max": "", "total": ""}
    return {"done": len(seconds), "mean": duration(sum(seconds) / len(seconds)), "min": duration(min(seconds)),
            "max": duration(max(seconds)), "total": duration(sum(seconds))}


def _failures(workflow: Workflow, states: list[ExperimentState]) -> tuple[list[dict[str, Any]], int]:
    failed = sorted((s for s in states if s.state == "failed"), key=lambda s: s.field("end") or "", reverse=True)
    shown = []
    for state in failed[:_MAX_TAILS]:
        log = state.field("log") or state.spec.log
        lines = tail(workflow.directory / log, _TAIL_LINES)
        if not lines and state.job_log:
            log, lines = state.job_log, tail(workflow.directory / state.job_log, _TAIL_LINES)
        reason = state.field("reason") or (f"exit {state.exit_code}" if state.exit_code is not None else "failed")
        shown.append({"name": safe(state.spec.name), "rule": state.spec.rule, "reason": safe(reason),
                      "where": safe(where(state)), "log": safe(log), "tail": [safe(line) for line in lines]})
    return shown, len(failed) - len(shown)


def context(workflow: Workflow, states: list[ExperimentState], attempts: dict[str, list[Attempt]],
            now: float) -> dict[str, Any]:
    """Everything the template shows, computed: the template only lays it out."""
    counts = summary(states)
    bars = _bars(states, attempts, now)
    elapsed, left = sweep_times(states, now)
    configurations = []
    for row in rows(states):
        reward = mean_reward(row.states)
        configurations.append({
            "label": row.label,
            "counts": {name: sum(s.state == name for s in row.states) for name in STATES},
            "reward": reward_text(reward) if reward is not None else "",
            "experiments": [_experiment(s, len(attempts.get(s.spec.rule) or _from_record(s))) for s in row.states],
            "durations": _durations(row.states),
        })
    failures, more_failures = _failures(workflow, states)
    return {
        "run": safe(workflow.run_name or "workflow"),
        "directory": safe(str(workflow.directory.resolve())),
        "generated": datetime.fromtimestamp(now).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "counts": counts,
        "states": STATES,
        "shares": {name: 100 * counts[name] / max(counts["total"], 1) for name in STATES},
        "elapsed": duration(elapsed) if elapsed is not None else "?",
        "eta": "done" if left == 0 else duration(left) if left is not None else "?",
        "configurations": configurations,
        "overall_durations": _durations(states),
        "timeline": timeline(bars, now),
        "attempt_count": len(bars),
        "outcomes": ("done", "failed", "stopped", "running", "lost"),
        "failures": failures,
        "more_failures": more_failures,
        "frames": count(sum(s.progress.frames for s in states if s.progress)),
    }


def render(values: dict[str, Any]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sfgen", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template("report.html.j2").render(**values)


def write_report(directory: Path, out: Path) -> tuple[int, int]:
    """Write the report of the workflow in ``directory`` to ``out`` (atomically: a browser reloading it
    never sees half a file); the number of experiments and of attempts on its timeline."""
    workflow = load_workflow(directory)
    states = experiment_states(directory, workflow.specs)
    add_progress(directory, states)
    values = context(workflow, states, read_attempts(directory, workflow.specs), time.time())
    write_atomic(out, render(values), durable=False)
    return len(states), values["attempt_count"]
