"""Training progress, read from the end of each experiment's log: what Sample Factory itself prints.

Both generations (SF1 ``algorithms/appo/appo.py``, SF2 ``algo/runners/runner.py``) log, every 5 s,
through colorlog on stderr (``[%(asctime)s][%(process)05d] %(message)s``, wrapped in colour codes)::

    Fps is (10 sec: 4096.0, 60 sec: 4000.2, 300 sec: nan). Total num frames: 1234567. Throughput: ...
    Avg episode reward: [(0, '12.345'), (1, '10.000')]

Why read it this way: ``sfgen status`` reads every experiment's log at 10,000 experiments, and a log may
be gigabytes. Only its end is read: the last 64 KiB (one ``pread``, about 25 us), where a running
experiment's last report is (SF reports every 5 s); an SF log with a long shutdown after its last report (profiles of
every worker) is read up to 2 MiB back, and a log that shows no Sample Factory line at its end (another
trainer) no further. A log's size does not matter. Nothing here writes.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

_FRAMES = b"Total num frames: "
_REWARD = b"Avg episode reward: ["
_NEAR = 64 * 1024  # read from any log
_FAR = 2 * 1024 * 1024  # read from a log whose end shows Sample Factory's own lines but no report
_SF_LINE = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]\[\d+\] ")  # colorlog's prefix
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FPS_LINE = re.compile(r"Fps is \(([^)]*)\)\. Total num frames: (\d+)")
_WINDOW = re.compile(r"(\d+) sec: ([-+0-9.naif]+)")
_REWARDS = re.compile(r"\((\d+), '([^']*)'\)")
_ASCTIME = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
_TARGET = re.compile(r"(?:^|\s)--train_for_env_steps[= ](\S+)")


@dataclass
class Progress:
    """The latest report of an experiment's training, as ``sfgen status --json`` gives it."""

    frames: int
    target_frames: int | None  # --train_for_env_steps of its command
    fps: float | None  # over the longest of SF's windows (10 s, 60 s, 300 s) that has a value
    policy_rewards: dict[str, float]  # the average episode reward of each policy that reported one
    updated: str  # when SF printed it (its own timestamp, local time), else when the log last changed

    @property
    def fraction(self) -> float | None:
        return round(self.frames / self.target_frames, 4) if self.target_frames else None

    @property
    def reward(self) -> float | None:
        """Policy 0's reward; the mean over the policies when several train (population-based training)."""
        values = list(self.policy_rewards.values())
        return round(sum(values) / len(values), 4) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "target_frames": self.target_frames,
            "fraction": self.fraction,
            "fps": self.fps,
            "reward": self.reward,
            "policy_rewards": self.policy_rewards,
            "updated": self.updated,
        }


def target_frames(cmd: str) -> int | None:
    """``--train_for_env_steps`` of a command (Sample Factory's own default, 1e10, is not assumed)."""
    match = _TARGET.search(cmd)
    if not match:
        return None
    try:
        return int(float(match.group(1).strip("'\"")))
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _line_at(data: bytes, position: int) -> str:
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    line = data[start : end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    return _ANSI.sub("", line.rsplit("\r", 1)[-1])


def _tail(fd: int, size: int) -> tuple[bytes, int]:
    """The end of the log that holds its last report, and where in it that report is (-1: none). Most
    logs need one read of the last 64 KiB; an SF log with a long shutdown after its report, one of 2 MiB."""
    data = os.pread(fd, min(size, _NEAR), max(0, size - _NEAR))
    found = data.rfind(_FRAMES)
    if found < 0 and size > _NEAR and _SF_LINE.search(data):
        data = os.pread(fd, min(size, _FAR), max(0, size - _FAR))
        found = data.rfind(_FRAMES)
    return data, found


def read_progress(path: Path | str, target: int | None) -> Progress | None:
    """The last progress report in the log at ``path``; None when it has none near its end."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        data, found = _tail(fd, info.st_size)
    except OSError:
        return None
    finally:
        os.close(fd)
    if found < 0:
        return None
    line = _line_at(data, found)
    match = _FPS_LINE.search(line)
    if not match:
        return None
    reward_at = data.rfind(_REWARD)
    windows = [(int(seconds), _number(value)) for seconds, value in _WINDOW.findall(match.group(1))]
    fps = next((value for _, value in sorted(windows, reverse=True) if value is not None), None)
    rewards = {policy: value for policy, text in _REWARDS.findall(_line_at(data, reward_at) if reward_at >= 0 else "")
               if (value := _number(text)) is not None}
    stamp = _ASCTIME.search(line)
    when = datetime.fromisoformat(stamp.group(1)) if stamp else datetime.fromtimestamp(info.st_mtime)
    return Progress(int(match.group(2)), target, fps, rewards, when.astimezone().isoformat(timespec="seconds"))


def add_progress(workflow_dir: Path, states: list[Any]) -> None:
    """Set ``progress`` on each of ``states`` (``sfgen.state.ExperimentState``) whose log shows some.
    The logs directory is listed once, so experiments that never ran cost nothing."""
    from sfgen.layout import LOGS

    try:
        with os.scandir(workflow_dir / LOGS) as entries:
            logs = {entry.name for entry in entries}
    except OSError:
        return
    base = f"{workflow_dir}/"
    for state in states:
        spec = state.spec
        if f"{spec.rule}.log" in logs:
            state.progress = read_progress(base + spec.log, target_frames(spec.cmd))
