"""Shared helpers: run the real ``sfgen`` CLI and real Snakemake in temporary workflow directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

TESTS = Path(__file__).resolve().parent
PROBE = TESTS / "probe.py"
# Set by .ci/run: a test that would skip (no Slurm cluster, no Sample Factory to compare with) fails instead.
REQUIRE_ALL = "SFGEN_REQUIRE_ALL"
T = TypeVar("T")


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL) == "1"


def _no_skip(report) -> None:
    if report.skipped and require_all() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but {REQUIRE_ALL}=1 (as in .ci/run) allows no skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under SFGEN_REQUIRE_ALL=1 no test may skip, whatever skipped it: CI cannot pass with a backend untested.
    (An expected failure, xfail, is reported as skipped too: it stays as it is.)"""
    outcome = yield
    _no_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """... nor a whole module (``pytest.importorskip``, a module-level ``pytest.skip``)."""
    outcome = yield
    _no_skip(outcome.get_result())


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, what: str = "the condition", interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something true, and return that; fail naming ``what`` at the deadline.
    How tests synchronise with processes: on an event (a file appears, a state is reached), never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def still_running(proc: subprocess.Popen, log: Path | None = None) -> bool:
    """For ``wait_for`` predicates on a process that must not end yet: fail at once (with its log's tail)
    instead of at the deadline when it ended."""
    if proc.poll() is not None:
        tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
        raise AssertionError(f"{' '.join(map(str, proc.args))} ended early, exit code {proc.returncode}:\n{tail}")
    return True


def alive(pids) -> list[int]:
    """The processes of ``pids`` still running (a zombie has ended, it is just not reaped yet)."""
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living


def start_logged(argv: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start ``argv`` with its stdout and stderr in ``log`` (read it with ``log.read_text()`` while it runs)."""
    with open(log, "w") as handle:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                stderr=subprocess.STDOUT, **kwargs)


def start_snakemake(*args: str, cwd: Path, log: Path, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return start_logged([sys.executable, "-m", "snakemake", *args], cwd, log, env, **kwargs)


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``sfgen ARGS`` as a user runs it (through ``python -m sfgen``)."""
    return subprocess.run(
        [sys.executable, "-m", "sfgen", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_snakemake(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def probe_cmd(probe_dir: Path, *extra: str) -> str:
    """The command of a test experiment that records itself into ``probe_dir``."""
    return " ".join([sys.executable, str(PROBE), f"--probe_dir={probe_dir}", *extra])


def undeclared(record: dict) -> set[str]:
    """Fields of a marker or failure record that its type (``sfgen.markers.Record``) does not declare."""
    from sfgen.markers import Record

    return set(record) - set(Record.__annotations__)


def probe_records(probe_dir: Path) -> list[dict]:
    """Every recorded run, in start order."""
    records = [json.loads(path.read_text()) for path in probe_dir.glob("*.json")]
    return sorted(records, key=lambda record: record["start"])


def option_of(record: dict, name: str) -> str | None:
    """The value of ``--NAME=VALUE`` in a probe record's argv."""
    return next((arg.split("=", 1)[1] for arg in record["argv"] if arg.startswith(f"--{name}=")), None)


def experiment_of(record: dict) -> str:
    return next(arg.split("=", 1)[1] for arg in record["argv"] if arg.startswith("--experiment="))


@pytest.fixture
def project(tmp_path: Path):
    """A project directory with a ``write_run(name, body)`` helper and a probe dir."""

    class Project:
        root = tmp_path
        probes = tmp_path / "probes"

        def write_run(self, name: str, body: str) -> Path:
            path = tmp_path / f"{name}.py"
            path.write_text(textwrap.dedent(body))
            return path

    Project.probes.mkdir()
    return Project()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES" and not k.startswith("SFGEN_")}
    env.update(extra)
    return env
