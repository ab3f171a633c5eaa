"""Shared helpers: run the real ``sfgen`` CLI and real Snakemake in temporary workflow directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROBE = TESTS / "probe.py"


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


def probe_records(probe_dir: Path) -> list[dict]:
    """Every recorded run, in start order."""
    records = [json.loads(path.read_text()) for path in probe_dir.glob("*.json")]
    return sorted(records, key=lambda record: record["start"])


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
