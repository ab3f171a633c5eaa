"""`sfgen status --watch` through the real CLI, while real Snakemake runs the stand-in SF trainer: redrawn in place
on an 80x24 terminal until `q`, plain snapshots through a pipe until every experiment has ended."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from conftest import clean_env, run_cli, start_logged, start_snakemake, still_running, wait_for
from test_progress import RUNNING, compile_sweep, held_and_reported

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def held_sweep(tmp_path):
    """The progress tests' sweep with its held experiment running; released and ended afterwards."""
    release = tmp_path / "release"
    wf = compile_sweep(tmp_path, release)
    log = tmp_path / "snakemake.log"
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())
    try:
        wait_for(lambda: still_running(proc, log) and held_and_reported(wf), timeout=120,
                 what="3 experiments done and the held one at its last report")
        yield wf, release, proc
    finally:
        release.touch()
        proc.wait(timeout=60)


def test_plain_snapshots_through_a_pipe_until_every_experiment_has_ended(held_sweep, tmp_path):
    wf, release, proc = held_sweep
    output = tmp_path / "watch.out"
    watch = start_logged([sys.executable, "-m", "sfgen", "status", "--watch", "0.2"], wf, output)
    try:
        wait_for(lambda: still_running(watch, output) and output.read_text().count("running (1):") >= 2,
                 timeout=60, what="two snapshots with the held experiment running")
        release.touch()
        assert watch.wait(timeout=60) == 0  # it ends by itself once every experiment has ended
    finally:
        if watch.poll() is None:
            watch.kill()
    assert proc.wait(timeout=60) == 0
    text = output.read_text()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) > 12 and all(len(line) <= 80 for line in lines)
    snapshots = text.split("\n\nsweep  4 experiments  ")
    assert len(snapshots) >= 3
    running = next(snapshot for snapshot in snapshots if "running (1):" in snapshot).splitlines()
    assert running[1] == f"[{'#' * 55}{'>' * 18}]  75%"
    assert running[2].startswith("3 done, 0 failed, 1 running, 0 pending  elapsed ")
    assert running[2].endswith(", ETA 31m08s")  # 7.5M frames to go at 4,014 fps
    at = running.index("running (1):")
    assert running[at + 1].startswith(f"  {RUNNING} ") and running[at + 1].endswith(" s")
    assert running[at + 2] == "    ##........ 2.5M/10M frames (25.0%), 4,014 fps, reward 7.50"
    last = snapshots[-1].rstrip("\n").splitlines()
    assert last[1] == f"[{'#' * 73}] 100%"
    assert last[2].startswith("4 done, 0 failed, 0 running, 0 pending  elapsed ") and last[2].endswith(", done")
    assert last[-1] == "best reward 10.50: 00_sf2_see_0"


def _read(leader: int, output: bytearray) -> bool:
    """Read what the terminal shows; True once every process holding it has closed it."""
    while select.select([leader], [], [], 0.05)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: closed
            return True
        if not chunk:
            return True
        output.extend(chunk)
    return False


def test_redraws_in_place_on_an_80_column_terminal_and_q_quits(held_sweep):
    wf, _, _ = held_sweep
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
    watch = subprocess.Popen([sys.executable, "-m", "sfgen", "status", "--watch", "0.2"], cwd=wf, env=env,
                             stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = bytearray()
    try:
        wait_for(lambda: _read(leader, output) or output.count(b"\x1b[H") >= 4, timeout=60, what="three frames")
        os.write(leader, b"q")
        assert watch.wait(timeout=30) == 0
        wait_for(lambda: _read(leader, output), timeout=30, what="the terminal to be released")
    finally:
        os.close(leader)
        if watch.poll() is None:
            watch.kill()
    text = output.decode()
    assert text.startswith("\x1b[?25l\x1b[H\x1b[2J") and text.endswith("\x1b[?25h")  # cursor hidden, then back
    frames = text.split("\x1b[H")[2:]  # each redraw starts at the top left corner, overwriting the last
    assert len(frames) >= 3
    shown = [_ESCAPE.sub("", line) for line in frames[-1].split("\r\n")]
    assert len(shown) <= 24 and all(len(line) <= 79 for line in shown)
    assert shown[0].startswith("sweep  4 experiments  ")
    assert shown[2].startswith("3 done, 0 failed, 1 running, 0 pending")
    assert f"\x1b[1m  {RUNNING}\x1b[0m" in frames[-1] and "\x1b[33m1 running\x1b[0m" in frames[-1]
    assert "2.5M/10M frames (25.0%), 4,014 fps, reward 7.50" in frames[-1]
    assert shown[-2].endswith("q or Ctrl-C quits")


def test_options_that_do_not_go_with_watch_are_one_line_errors(tmp_path):
    wf = compile_sweep(tmp_path, tmp_path / "release")
    for args, words in [
        (("--watch", "0"), "--watch takes seconds between refreshes, more than 0 (got 0)"),
        (("--watch", "--json"), "--watch shows its own view: leave out --json, --failed and --state"),
        (("--watch=5", "--failed"), "--watch shows its own view"),
        (("--watch", "1", "nosuchname"), "no experiment matches 'nosuchname'"),
    ]:
        result = run_cli("status", *args, cwd=wf)
        assert result.returncode == 1 and result.stdout == "", (args, result.stdout)
        assert result.stderr.count("\n") == 1 and words in result.stderr, (args, result.stderr)
