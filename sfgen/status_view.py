"""What ``sfgen status`` prints: a text view for people and a JSON view for programs.

The text view answers "which finished, which failed, and why" on one screen: a summary line, one row per
configuration with its seeds counted together, what is running where, then each failure with the last
lines of its log. Colour only when stdout is a terminal. The JSON field names are an interface
(README, "Inspecting a workflow"): add fields, never rename them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sfgen.backend import every
from sfgen.explog import tail
from sfgen.state import STATES, ExperimentState, Workflow, plural, summary

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLOURS = {"done": "32", "failed": "31", "running": "33", "bold": "1", "dim": "2"}
_MAX_RUNNING = 20  # listed in the overview; --state=running lists all
_MAX_FAILED = 10  # shown with their log tails in the overview; --failed shows all
_LABEL_WIDTH = 44


def to_json(workflow: Workflow, listed: list[ExperimentState], counted: list[ExperimentState]) -> str:
    """``{"workflow_dir", "run", "experiments": [...], "summary": {...}}``; summary counts ``counted``."""
    experiments = [
        {
            "name": state.spec.name,
            "rule": state.spec.rule,
            "state": state.state,
            "gpu": state.field("gpu"),
            "host": state.field("host"),
            "slurm_job_id": state.slurm_job_id,
            "ngc_job_id": state.ngc_job_id,
            "job_state": state.job_state,
            "start": state.field("start"),
            "end": state.field("end"),
            "duration_s": state.field("duration_s"),
            "exit_code": state.exit_code,
            "reason": state.field("reason"),
            "log": state.spec.log,
            "job_log": state.job_log,
            "marker": state.spec.marker,
            "progress": state.progress.to_json() if state.progress else None,
        }
        for state in listed
    ]
    # One experiment per line: json's C encoder does each line (with indent it is the Python one, 20x slower:
    # a second at 10,000 experiments), and `sfgen status --json | grep NAME` finds an experiment's fields.
    lines = ",\n  ".join(json.dumps(experiment, ensure_ascii=False) for experiment in experiments)
    head = {"workflow_dir": str(workflow.directory.resolve()), "run": workflow.run_name}
    return (json.dumps(head, ensure_ascii=False)[:-1] + f', "experiments": [\n  {lines}\n ],\n'
            f' "summary": {json.dumps(summary(counted))}}}')


@dataclass
class Row:
    """One configuration: experiments that differ only by their seed, or one experiment without a seed."""

    label: str
    seeded: bool
    states: list[ExperimentState] = field(default_factory=list)


def rows(states: list[ExperimentState]) -> list[Row]:
    """Group experiments by their parameters without ``seed`` (as compiled: ``ExperimentSpec.params``);
    label each group by the parameters that vary between groups (and the experiment's base name when a
    run has several)."""
    groups: dict[tuple[Any, ...], tuple[list[tuple[str, str]], Row]] = {}
    for state in states:
        spec = state.spec
        params = spec.params or {}
        seeded = "seed" in params
        kept = tuple((key, value) for key, value in params.items() if key != "seed")
        key = (spec.root_dir, kept) if seeded else (spec.rule,)
        if key not in groups:
            shown = [("", os.path.basename(spec.root_dir).rstrip("_") or spec.root_dir), *kept]
            groups[key] = (shown, Row(safe(spec.name), seeded))
        groups[key][1].states.append(state)
    seeded_params = [params for params, row in groups.values() if row.seeded]
    values: dict[str, set[str | None]] = {}
    for params in seeded_params:
        for key, value in params:
            values.setdefault(key, set()).add(value)
    for params in seeded_params:
        present = dict(params)
        for key in values:
            values[key].add(present.get(key))
    varying = {key for key, seen in values.items() if len(seen) > 1}
    for params, row in groups.values():
        if row.seeded:
            shown = [value if key == "" else f"{key}={value}" for key, value in params if key in varying]
            row.label = safe(" ".join(shown) or params[0][1])
    return [row for _, row in groups.values()]


class Style:
    """ANSI colour when ``on``; plain text otherwise (pipes, files, NO_COLOR, TERM=dumb)."""

    def __init__(self, on: bool):
        self.on = on

    @staticmethod
    def for_stdout() -> Style:
        return Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb")

    def __call__(self, text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if self.on and colour != "pending" else text


def safe(text: str) -> str:
    """``text`` with control characters (escape sequences, line breaks) shown as ``\\xNN``: names and
    values come from the run module and must not drive the terminal or break the layout."""
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def count(number: float) -> str:
    """A frame count in at most 3 digits and a unit: ``950``, ``12.3K``, ``1.23M``, ``10B``."""
    value, unit = float(number), ""
    for bigger in ("K", "M", "B"):
        if value < 999.5:
            break
        value, unit = value / 1000, bigger
    digits = 0 if not unit else 2 if value < 9.995 else 1 if value < 99.95 else 0
    text = f"{value:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if digits else text) + unit


def reward_text(reward: float) -> str:
    return f"{reward:.2f}" if abs(reward) < 100 else f"{reward:.0f}"


def frames_text(progress: Any) -> str:
    """``1.23M/10M frames (12.3%)``, or ``1.23M frames`` without a target (a ``sfgen.progress.Progress``)."""
    if progress.target_frames:
        return f"{count(progress.frames)}/{count(progress.target_frames)} frames ({progress.fraction * 100:.1f}%)"
    return f"{count(progress.frames)} frames"


def progress_text(progress: Any) -> str:
    """``1.23M/10M frames (12.3%), 4,096 fps, reward 12.35``: what is known of a ``sfgen.progress.Progress``."""
    parts = [frames_text(progress)]
    if progress.fps is not None:
        parts.append(f"{progress.fps:,.0f} fps")
    if progress.reward is not None:
        parts.append(f"reward {reward_text(progress.reward)}")
    return ", ".join(parts)


def mean_reward(states: list[ExperimentState]) -> float | None:
    """The mean of the experiments' latest rewards, over those that reported one."""
    rewards = [state.progress.reward for state in states if state.progress and state.progress.reward is not None]
    return sum(rewards) / len(rewards) if rewards else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "?"


def _elapsed(iso: str | None) -> str:
    try:
        start = datetime.fromisoformat(iso or "")
    except ValueError:
        return ""
    return f" ({duration((datetime.now(start.tzinfo) - start).total_seconds())} ago)"


def gpu_and_host(state: ExperimentState) -> list[str]:
    """``["GPU 1", "on node07"]``, as far as the latest attempt's record knows them."""
    machine = []
    if state.field("gpu") is not None:
        machine.append(f"GPU {state.field('gpu')}")
    if state.field("host"):
        machine.append(f"on {state.field('host')}")
    return machine


def where(state: ExperimentState) -> str:
    """Where the latest attempt ran or runs, and when: ``GPU 1 on host, since ...`` or ``Slurm job 12 PENDING``."""
    machine = gpu_and_host(state)
    parts = [" ".join(machine)] if machine else []
    for each in every():
        if each.job_id_field and (job_id := getattr(state, each.job_id_field, None)):
            parts.append(f"{each.job_label} {job_id}" + (f" {state.job_state}" if state.job_state else ""))
    if state.state == "running" and state.field("start"):
        parts.append(f"since {_when(state.field('start'))}{_elapsed(state.field('start'))}")
    elif state.state == "running" and not parts:
        parts.append("starting, or waiting for a free slot")
    elif state.state in ("done", "failed") and state.field("start"):
        parts.append(f"{_when(state.field('start'))}, took {duration(state.field('duration_s'))}")
    return ", ".join(parts)


class TextView:
    def __init__(self, workflow: Workflow, style: Style, width: int):
        self.workflow = workflow
        self.style = style
        self.width = width
        self.out: list[str] = []

    def summary(self, counted: list[ExperimentState], total: int, patterns: list[str]) -> None:
        counts = summary(counted)
        scope = plural(counts["total"], "experiment")
        if patterns:
            scope = f"{counts['total']} of {total} experiments match {' '.join(map(repr, patterns))}"
        numbers = ", ".join(self.style(f"{counts[s]} {s}", s) if counts[s] else f"0 {s}" for s in STATES)
        self.out.append(f"{safe(self.workflow.run_name or 'workflow')}: {safe(scope)}: {numbers}")

    def _row_status(self, row: Row) -> str:
        counts = summary(row.states)
        if not row.seeded:
            state = row.states[0]
            extra = f" (exit {state.exit_code})" if state.state == "failed" and state.exit_code is not None else ""
            parts = [self.style(state.state + extra, state.state)]
        else:
            done = f"{counts['done']}/{counts['total']} seeds done"
            parts = [self.style(done, "done") if counts["done"] == counts["total"] else done]
            parts += [self.style(f"{counts[s]} {s}", s) for s in ("failed", "running", "pending") if counts[s]]
        reward = mean_reward(row.states)
        if reward is not None:
            parts.append(f"{'mean ' if row.seeded else ''}reward {reward_text(reward)}")
        return ", ".join(parts)

    def rows(self, states: list[ExperimentState]) -> None:
        """One line per configuration, its counts beside its label: labels are padded to a common column
        up to _LABEL_WIDTH; a longer label pushes its own counts right rather than onto a line of their own."""
        grouped = rows(states)
        width = min(max(len(row.label) for row in grouped), _LABEL_WIDTH)
        self.out.append("")
        for row in grouped:
            self.out.append(f"  {row.label:<{width}}  {self._row_status(row)}")

    def section(self, state_name: str, states: list[ExperimentState], limit: int | None) -> None:
        """Each experiment in ``state_name``: where and when; failures also with their log and its tail."""
        if not states:
            return
        self.out.append("")
        self.out.append(self.style(f"{state_name} ({len(states)}):", state_name))
        for state in states[:limit]:
            details = safe(where(state))
            if state.state == "failed":
                exit_text = f"exit {state.exit_code}" if state.exit_code is not None else "no exit code recorded"
                if state.field("reason"):
                    exit_text = state.field("reason")
                if state.field("interrupted"):
                    exit_text += ", interrupted"
                details = f"{exit_text}; {details}" if details else exit_text
            plain_name = safe(state.spec.name)
            name = self.style(plain_name, "bold")
            line = f"  {name}  {details}" if details else f"  {name}"
            if details and len(plain_name) + len(details) + 4 > self.width:
                line = f"  {name}\n      {details}"
            self.out.append(line)
            if state.state == "running" and state.progress:
                self.out.append(f"      {progress_text(state.progress)}")
            if state.state == "failed":
                self._failure_log(state)
        if limit is not None and len(states) > limit:
            more = len(states) - limit
            flag = "--failed" if state_name == "failed" else f"--state={state_name}"
            self.out.append(f"  ... and {more} more: sfgen status {flag}")

    def _failure_log(self, state: ExperimentState) -> None:
        log = self.workflow.directory / (state.field("log") or state.spec.log)
        self.out.append(f"      log: {safe(str(log))}")
        lines = tail(log, width=self.width - 8)
        if not lines and state.job_log:
            log = self.workflow.directory / state.job_log
            self.out.append(f"      Slurm log: {safe(str(log))}")
            lines = tail(log, width=self.width - 8)
        for line in lines or ["(it printed nothing)"]:
            self.out.append(self.style(f"      | {line}", "dim"))

    def text(self) -> str:
        return "\n".join(self.out) + "\n"


def to_text(
    workflow: Workflow,
    listed: list[ExperimentState],
    counted: list[ExperimentState],
    patterns: list[str],
    only: list[str] | None,
    style: Style,
) -> str:
    """The overview (no ``only``): summary, seed-grouped rows, running, failures with log tails.
    With ``only`` (states): summary, then every experiment in those states."""
    width = shutil.get_terminal_size().columns if style.on else 80
    view = TextView(workflow, style, max(width, 60))
    view.summary(counted, len(workflow.specs), patterns)
    by_state = {name: [s for s in listed if s.state == name] for name in STATES}
    if only is None:
        if listed:
            view.rows(listed)
        view.section("running", by_state["running"], _MAX_RUNNING)
        view.section("failed", by_state["failed"], _MAX_FAILED)
        if by_state["failed"] or by_state["pending"]:
            view.out += ["", "the next run (snakemake or sfgen run) starts the failed and pending experiments"]
    else:
        for name in ("failed", "running", "done", "pending"):
            if name in only:
                view.section(name, by_state[name], None)
        if not listed:
            view.out.append(f"no {' or '.join(only)} experiments")
    return view.text()
