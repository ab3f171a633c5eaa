"""Completion markers and failure records: small JSON files, written atomically.

A marker exists only for an experiment whose command exited 0; a failure record keeps the last failed
attempt. A marker that cannot be read (truncated, corrupt) counts as not done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sfgen import __version__
from sfgen.spec import ExperimentSpec


class Attempt(TypedDict, total=False):
    """What a marker or failure record keeps of one attempt. Each writer fills what it knows: the launcher
    (where and how it ran), NGC's programs and Snakemake's side of a Slurm run (what the cluster said)."""

    argv: list[str]  # as run: the experiment's words, or the sbatch template's command running them
    workdir: str
    host: str
    gpu: str | None  # the CUDA_VISIBLE_DEVICES it got; None: every GPU visible
    pid: int | None
    git_commit: str | None
    start: str | None  # ISO 8601 times; None: it never started
    end: str | None
    duration_s: float | None
    exit_code: int | None  # None: it never ran, or ended unseen
    interrupted: bool  # stopped by a signal (Ctrl-C, a cancel, a time limit), not failed on its own
    reason: str  # why, for a failure without an exit code of the experiment's own
    job: str | None  # how every view names its cluster job: "Slurm job 12", "NGC job 7"
    job_log: str | None  # the cluster's log of that job, relative to the workflow dir
    slurm_job_id: str | None
    slurm_run: str | None  # the Snakemake run that submitted it (its retry of a stopped experiment)
    ngc_job_id: str | None
    ngc_status: str | None
    ngc_submission: str  # a submission that failed or went unanswered: what happened, its output and argv
    ngc_output: str
    ngc_argv: list[str]
    submitted: str | None
    seen_ended: str


class Record(Attempt, total=False):
    """A marker or failure record: the experiment as compiled, then its attempt (``attempt_record``)."""

    name: str
    rule: str
    cmd: str
    root_dir: str
    env_vars: dict[str, Any] | None
    sfgen_version: str
    log: str


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never a part;
    ``durable``: on disk before the call returns (a marker must survive a crash of the machine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name beside it, made as tempfile.mkstemp would but with the umask's mode (and without
    # importing tempfile, which would cost every launcher's start more than this whole module)
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_record(path: Path, record: dict[str, Any], durable: bool = True) -> None:
    write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n", durable)


def read_record(path: Path | str) -> dict[str, Any] | None:
    """The record at ``path``; None if it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:  # plain open and bytes: `sfgen status` reads 10,000 of these
            record = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def attempt_record(spec: ExperimentSpec, **attempt: Unpack[Attempt]) -> Record:
    """The one shape of a marker and a failure record: the experiment as compiled, then what is known of
    the attempt (``argv`` as run, times, exit code, where, the cluster's job), whoever writes it (the
    launcher, the NGC status program, Snakemake's side of a Slurm run)."""
    return {
        "name": spec.name,
        "rule": spec.rule,
        "cmd": spec.cmd,
        "argv": spec.argv,
        "root_dir": spec.root_dir,
        "env_vars": spec.env_vars,
        **attempt,
        "sfgen_version": __version__,
        "log": spec.log,
    }
