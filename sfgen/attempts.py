"""Every attempt of every experiment, from the header lines sfgen writes into its log.

The launcher opens each attempt with ``==== sfgen TIME start NAME on HOST CUDA_VISIBLE_DEVICES=GPU`` (or
``... every GPU visible``) and closes it with ``==== sfgen TIME exit CODE after S s``; an NGC run notes ``submitted NAME as NGC job ID``,
then ``NGC job ID ended STATUS`` or ``...: killed NGC job ID``. Markers and failure records keep only the
latest attempt, so the log is the one place that has them all.

Why a cache: a log may be gigabytes, and the HTML report is meant to be regenerated every minute. Logs
only grow, so what was scanned is kept in ``.sfgen/attempts.json`` (the attempts found, and where the
scan stopped, per log, with the log's inode): a later scan reads only what was appended since. A log
that was replaced or truncated is scanned again from its start. The cache is a convenience: a workflow
directory that cannot be written (a read-only view from another machine) is scanned whole every time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfgen.explog import PREFIX
from sfgen.layout import ATTEMPTS_CACHE, LOGS
from sfgen.markers import read_record, write_record
from sfgen.spec import ExperimentSpec

_VERSION = 1
_HEADER = PREFIX.encode()
_CHUNK = 1 << 20
_CARRY = 4096  # a header line is far shorter: one cut by a chunk's end starts within this many bytes of it
_START = re.compile(r"(\S+) start (.*) on (\S+) (?:CUDA_VISIBLE_DEVICES=(\S*)|every GPU visible)$")
_EXIT = re.compile(r"(\S+) exit (-?\d+) after ([0-9.]+) s$")
_SUBMITTED = re.compile(r"(\S+) submitted .* as NGC job (\S+?):")
_NGC_ENDED = re.compile(r"(\S+) NGC job (\S+) ended (\S+)")
_NGC_KILLED = re.compile(r"(\S+) .*: killed NGC job (\S+)$")


@dataclass
class Attempt:
    """One run of an experiment: from its start header to its exit header (``end`` None until then)."""

    start: str
    host: str | None
    gpu: str | None
    end: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    ngc_job_id: str | None = None
    ngc_status: str | None = None


def _apply(attempts: list[Attempt], line: str) -> None:
    """Update ``attempts`` with one header line (the text after ``==== sfgen ``)."""
    if match := _START.match(line):
        gpu = match.group(4)  # None: every GPU visible (older logs say CUDA_VISIBLE_DEVICES=None)
        attempts.append(Attempt(match.group(1), match.group(3), None if gpu in (None, "None") else gpu))
    elif match := _EXIT.match(line):
        if attempts and attempts[-1].end is None:
            attempts[-1].end, attempts[-1].exit_code = match.group(1), int(match.group(2))
            attempts[-1].duration_s = float(match.group(3))
    elif match := _SUBMITTED.match(line):
        attempts.append(Attempt(match.group(1), "NGC", None, ngc_job_id=match.group(2)))
    elif (match := _NGC_ENDED.match(line)) or (match := _NGC_KILLED.match(line)):
        status = match.group(3) if match.re is _NGC_ENDED else "KILLED_BY_USER"
        for attempt in reversed(attempts):
            if attempt.ngc_job_id == match.group(2) and attempt.end is None:
                attempt.end, attempt.ngc_status = match.group(1), status
                attempt.exit_code = int(status != "FINISHED_SUCCESS")
                break


def _scan(path: str, offset: int, attempts: list[Attempt]) -> tuple[int, int] | None:
    """Read the log from ``offset``, adding to ``attempts``; its inode and where to go on next time (the
    start of a line not yet ended), or None if it cannot be read."""
    try:
        handle = open(path, "rb")
    except OSError:
        return None
    with handle:
        inode = os.fstat(handle.fileno()).st_ino
        handle.seek(offset)
        carry = b""
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            found = data.find(_HEADER, 0, cut)
            while found >= 0:
                end = data.find(b"\n", found)
                _apply(attempts, data[found + len(_HEADER) : end].decode("utf-8", errors="replace"))
                found = data.find(_HEADER, end, cut)
            carry = data[cut:][-_CARRY:]
            offset += len(chunk)
        return inode, offset - len(carry)


def _load_cache(workflow_dir: Path) -> dict[str, Any]:
    cache = read_record(workflow_dir / ATTEMPTS_CACHE)
    return cache["logs"] if cache and cache.get("version") == _VERSION and isinstance(cache.get("logs"), dict) else {}


def read_attempts(workflow_dir: Path, specs: list[ExperimentSpec]) -> dict[str, list[Attempt]]:
    """Every attempt of each experiment in ``specs`` that has a log, by rule, oldest first."""
    try:
        with os.scandir(workflow_dir / LOGS) as entries:
            logs = {entry.name: (entry.inode(), entry.stat().st_size) for entry in entries}
    except OSError:
        return {}
    cached = _load_cache(workflow_dir)
    kept = {rule: entry for rule, entry in cached.items() if f"{rule}.log" in logs}
    found: dict[str, list[Attempt]] = {}
    base = f"{workflow_dir}/"
    for spec in specs:
        inode, size = logs.get(f"{spec.rule}.log", (None, 0))
        if inode is None:
            continue
        entry = kept.get(spec.rule)
        if entry and entry["inode"] == inode and entry["offset"] <= size:
            attempts, offset = [Attempt(**attempt) for attempt in entry["attempts"]], entry["offset"]
        else:  # never scanned, or another file now (replaced, truncated): from its start
            attempts, offset = [], 0
        if offset < size or entry is None:
            scanned = _scan(base + spec.log, offset, attempts)
            if scanned is None:
                continue
            inode, offset = scanned
        found[spec.rule] = attempts
        kept[spec.rule] = {"inode": inode, "offset": offset, "attempts": [vars(a) for a in attempts]}
    if kept != cached:
        try:
            write_record(workflow_dir / ATTEMPTS_CACHE, {"version": _VERSION, "logs": kept}, durable=False)
        except OSError:
            pass  # a directory this user cannot write: the next report scans again
    return found
