"""Corrupt completion markers: found, read-only, while Snakemake parses the Snakefile; set aside by a job.

A marker that is not a whole record (truncated, hand-edited) does not count as done. Parsing only finds
them, so ``snakemake -n`` and ``--list-rules`` change no file. For each, the Snakefile makes a local rule
whose job runs this file (``python -S .../set_aside.py MARKER KEPT``: renames the marker and says so) and
whose output, the kept name, rule ``all`` asks for (Snakemake runs a job for a missing file only when a
job that runs needs it) and the experiment's rule takes as input: Snakemake runs the experiment, whose
marker exists, again after it. A ``shell:`` job, not ``run:``: Snakemake spawns a ``run:`` job as a second
Snakemake that parses the whole Snakefile again.

Every kept name of an experiment stays an input of its rule while the file exists: Snakemake records a
job's inputs with its output, and with the profiles' ``input`` rerun trigger it would run the experiment
again (a no-op job, or a Slurm submission) in the next run if the input left the rule.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container
from pathlib import Path
from typing import NamedTuple

if __name__ == "__main__":  # run as a file with -S: sfgen is imported from the directory holding it
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sfgen.layout import MARKERS
from sfgen.markers import read_record
from sfgen.spec import ExperimentSpec


class SetAside(NamedTuple):
    """A corrupt marker and the local rule that sets it aside."""

    rule: str  # "_set_aside_" + the experiment's rule: an experiment's rule never starts with "_"
    marker: str  # markers/RULE.done
    kept: str  # the free name it is renamed to, markers/RULE.done.corrupt[-NS]


class CorruptMarkers(NamedTuple):
    """What parsing found in ``markers/``."""

    set_aside: list[SetAside]
    inputs: dict[str, list[str]]  # rule -> its kept names, earlier ones and this run's: its rule's input


def find(workflow_dir: Path, specs: list[ExperimentSpec]) -> CorruptMarkers:
    """The experiments' corrupt markers and kept names, in one listing of ``markers/`` and one read of
    each marker; nothing is changed."""
    try:
        with os.scandir(workflow_dir / MARKERS) as listing:
            entries = {entry.name: entry for entry in listing}
    except FileNotFoundError:
        return CorruptMarkers([], {})
    corrupt: list[tuple[str, os.DirEntry]] = []
    inputs: dict[str, list[str]] = {}
    for name, entry in entries.items():
        rule, done, suffix = name.partition(".done")
        if not done or name.startswith("."):  # not a marker, or write_atomic's temporary file
            continue
        if not suffix:
            if read_record(entry.path) is None:
                corrupt.append((rule, entry))
        elif suffix == ".corrupt" or suffix.startswith(".corrupt-"):
            inputs.setdefault(rule, []).append(f"{MARKERS}/{name}")
    if not corrupt:
        return CorruptMarkers([], inputs)
    rules = {spec.rule for spec in specs}  # a marker of no experiment is never looked at
    set_aside = []
    for rule, entry in corrupt:
        if rule in rules:
            kept = f"{MARKERS}/{_free_name(entry, entries)}"
            set_aside.append(SetAside(f"_set_aside_{rule}", f"{MARKERS}/{entry.name}", kept))
            inputs.setdefault(rule, []).append(kept)
    return CorruptMarkers(set_aside, inputs)


def _free_name(marker: os.DirEntry, taken: Container[str]) -> str:
    """``RULE.done.corrupt``; when an earlier corrupt marker is kept under it, ``RULE.done.corrupt-NS``
    with this one's mtime in ns (counted up while taken): an earlier one is never overwritten."""
    name = marker.name + ".corrupt"
    if name not in taken:
        return name
    ns = marker.stat().st_mtime_ns
    while f"{name}-{ns}" in taken:
        ns += 1
    return f"{name}-{ns}"


def main(argv: list[str]) -> int:
    """``argv``: MARKER KEPT, relative to the workflow dir (the job's working directory)."""
    if len(argv) != 2:
        print(f"usage: python -S {__file__} MARKER KEPT (run by sfgen's Snakefile)", file=sys.stderr)
        return 2
    marker, kept = argv
    try:
        os.replace(marker, kept)
    except OSError as error:
        print(f"sfgen: error: cannot set aside the corrupt marker {os.path.abspath(marker)}: {error}", file=sys.stderr)
        return 1
    print(f"sfgen: warning: {os.path.abspath(marker)} is not a valid completion marker: "
          f"the experiment will run again (kept as {kept[len(marker):]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
