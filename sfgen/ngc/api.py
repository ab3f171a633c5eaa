"""The ngc CLI as sfgen uses it: calls to it, and job ids and states read from its JSON or text output.

Different CLI versions print the job at the top level of the JSON or under ``"job"``; the text form has
``Id: N`` and ``Status: S`` lines. All three are read. States are grouped as Snakemake's cluster-generic
status protocol wants them: running, success, failed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNNING = frozenset({"CREATED", "QUEUED", "STARTING", "RUNNING", "PENDING_TERMINATION"})
SUCCESS = "FINISHED_SUCCESS"
FAILED = frozenset(
    {"FAILED", "FAILED_RUN_LIMIT_EXCEEDED", "KILLED_BY_USER", "KILLED_BY_SYSTEM", "KILLED_BY_ADMIN", "TASK_LOST"}
)
_SCOPE_OPTIONS = ("--org", "--team", "--ace")  # where the job lives: info and kill need the same
_POLL_S = 0.1  # how often a call in progress is checked for its deadline and for being abandoned


class NoAnswer(Exception):
    """ngc did not answer in time (or the call was abandoned) and was killed: what it did is unknown."""


@dataclass
class JobInfo:
    status: str
    exit_code: int | None = None
    created: str | None = None
    started: str | None = None
    ended: str | None = None


def _json_job(output: str) -> dict[str, Any] | None:
    try:
        data = json.loads(output)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return data if "id" in data or not isinstance(data.get("job"), dict) else data["job"]


def _text_field(output: str, label: str) -> str | None:
    match = re.search(rf"^\s*{label}:\s*(.*?)\s*$", output, re.MULTILINE)
    return match.group(1) if match else None


def job_id(output: str) -> str | None:
    """The job id that ``ngc batch run`` printed (``.id``, ``.job.id`` or ``Id: N``), None if there is none."""
    job = _json_job(output)
    ident = job.get("id") if job is not None else _text_field(output, "Id")
    return str(ident) if ident is not None and re.fullmatch(r"\d+", str(ident)) else None


def job_info(output: str) -> JobInfo | None:
    """The state of a job from ``ngc batch info`` output, None if the output shows none."""
    job = _json_job(output)
    if job is not None:
        status = job.get("jobStatus") if isinstance(job.get("jobStatus"), dict) else {}
        if not isinstance(status.get("status"), str):
            return None
        code = status.get("exitCode")
        return JobInfo(
            status["status"],
            code if isinstance(code, int) else None,
            status.get("createdDate") or job.get("createdDate"),
            status.get("startedAt"),
            status.get("endedAt"),
        )
    state = _text_field(output, "Status")
    if not state:
        return None
    code = _text_field(output, "Exit Code")
    return JobInfo(
        state.split()[0],
        int(code) if code and re.fullmatch(r"-?\d+", code) else None,
        _text_field(output, "Created at"),
        _text_field(output, "Started at"),
        _text_field(output, "Ended at"),
    )


def verdict(status: str) -> str | None:
    """running, success or failed for an NGC state; None for a state this sfgen does not know."""
    if status in RUNNING:
        return "running"
    if status == SUCCESS:
        return "success"
    if status in FAILED:
        return "failed"
    return None


def scope_options(argv: list[str]) -> list[str]:
    """``--org/--team/--ace`` of a submitting command, for the info and kill calls about its job."""
    scope = []
    for index, word in enumerate(argv):
        name, has_value, _ = word.partition("=")
        if name in _SCOPE_OPTIONS:
            if has_value:
                scope.append(word)
            elif index + 1 < len(argv):
                scope += [word, argv[index + 1]]
    return scope


def job_name(argv: list[str]) -> str | None:
    """The ``--name``/``-n`` a submitting command gives its job, to look it up with ``ngc batch list``."""
    for index, word in enumerate(argv):
        name, has_value, value = word.partition("=")
        if name in ("--name", "-n"):
            return value if has_value else (argv[index + 1] if index + 1 < len(argv) else None)
    return None


def info_command(ngc: str, job: str, scope: list[str]) -> list[str]:
    return [ngc, "batch", "info", job, *scope, "--format_type", "json"]


def kill_command(ngc: str, job: str, scope: list[str]) -> list[str]:
    return [ngc, "batch", "kill", job, *scope]


def call(
    argv: list[str], timeout: float, cwd: Path | None = None, abandon: Callable[[], str | None] | None = None
) -> subprocess.CompletedProcess:
    """Run ngc without a shell and in a session of its own, so a Ctrl-C meant for Snakemake cannot cut it short,
    and wait ``timeout`` seconds at most: an API that never answers must not hold up the run. Past the deadline,
    or as soon as ``abandon()`` gives a reason, ngc's whole process group is killed and NoAnswer raised."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=_POLL_S)
            return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            pass
        reason = abandon() if abandon is not None else None
        if reason is None and time.monotonic() >= deadline:
            reason = f"no answer within {timeout:g} s"
        if reason is not None:
            _kill_group(proc)
            raise NoAnswer(reason)


def grace_after(event: Callable[[], bool], grace_s: float, what: str) -> Callable[[], str | None]:
    """An ``abandon`` for ``call``: once ``event()`` has happened (the run is being stopped), the call may take
    ``grace_s`` more, time for an answer that is on its way, then is given up, naming ``what`` happened."""
    since: list[float] = []

    def abandon() -> str | None:
        if not since and event():
            since.append(time.monotonic())
        if since and time.monotonic() - since[0] > grace_s:
            return f"{what}, and no answer within {grace_s:g} s after"
        return None

    return abandon


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ngc and whatever it started in its group (the unreaped leader keeps the group id from being reused)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def last_line(result: subprocess.CompletedProcess) -> str:
    """The most telling line of a failed call, for a one-line message."""
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {result.returncode}"
