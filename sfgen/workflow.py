"""What the generated Snakefile calls while Snakemake parses it: options, its experiments, the launch
command, the resources and limits. What runs when the workflow starts and ends is ``sfgen.hooks``.

Rules are made in a loop (``name:`` directive) so Snakemake's per-job cost does not grow with the sweep.
Inside a cluster job (``--mode remote``) only the job's own target rule is made, so a job starts as fast
as a one-rule workflow.
"""

from __future__ import annotations

import gc
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from sfgen import backend, launch, snakemake_internals
from sfgen.exceptions import SfgenError
from sfgen.layout import MARKERS
from sfgen.markers import read_record
from sfgen.options import RUNTIME_OPTIONS, validated
from sfgen.snakefile import decode_block
from sfgen.spec import ExperimentSpec


def pause_garbage_collection() -> None:
    """Stop the cyclic GC while rules and the DAG are built: its gen-2 passes over the growing heap cost
    more than the rules themselves at 10,000 experiments. ``on_start`` turns it back on."""
    gc.disable()
    snakemake_internals.quiet_noise()


def configure(workflow: Any, config: dict[str, Any], compiled: dict[str, Any]) -> None:
    """Fill ``config`` with the compiled options where ``--config`` did not set them, checked (a bad value or
    an unknown key ends Snakemake with one line), and let the backend whose executor runs the workflow set
    its limits (a local run: max_parallel and the GPU slots)."""
    for key, value in compiled.items():
        config.setdefault(key, value)
    try:
        config.update(validated(config))
        for each in backend.every():
            each.configure(workflow, config)
    except SfgenError as error:  # Snakemake would print it with a traceback: one line, as the CLI does
        raise SystemExit(f"sfgen: error: {error}") from None


def _target_rules(argv: list[str]) -> set[str] | None:
    """Rules named by ``--target-jobs RULE:...`` on this process's command line (a cluster job)."""
    if "--target-jobs" not in argv:
        return None
    targets = set()
    for arg in argv[argv.index("--target-jobs") + 1 :]:
        if arg.startswith("--"):
            break
        targets.add(arg.split(":", 1)[0])
    return targets


def _set_aside_corrupt_markers(workflow_dir: Path) -> None:
    """A marker that is not a whole record (truncated, hand-edited) does not count as done: rename it so
    Snakemake reruns the experiment, and say so."""
    try:
        entries = list(os.scandir(workflow_dir / MARKERS))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.endswith(".done") and read_record(entry.path) is None:
            os.replace(entry.path, entry.path + ".corrupt")
            print(f"sfgen: warning: {entry.path} is not a valid completion marker: "
                  "the experiment will run again (kept as .corrupt)", file=sys.stderr)


def experiments(workflow: Any, block: str) -> list[ExperimentSpec]:
    """The experiments to make rules for: all of them, or inside a cluster job only its target."""
    targets = _target_rules(sys.argv) if workflow.remote_exec else None
    if targets:
        prefixes = tuple(json.dumps({"rule": rule})[:-1] + "," for rule in targets)
        block = "\n".join(line for line in block.split("\n") if line.startswith(prefixes))
    else:
        _set_aside_corrupt_markers(Path(workflow.main_snakefile).parent)
    return decode_block(block)


def launch_command(workflow: Any, config: dict[str, Any]) -> str:
    """The shell words that start the launcher for a rule (its name is appended by the rule): the file
    ``sfgen/launch.py`` run with ``-S``, the workflow's Snakefile and the options its jobs need, with the
    Snakefile's stamp as parsed: a launcher refuses to run an experiment from a Snakefile recompiled since
    (compile refuses while Snakemake holds the workflow's lock, which it takes only after parsing)."""
    snakefile = os.path.abspath(workflow.main_snakefile)
    options = {name: config[name] for name in RUNTIME_OPTIONS if name in config}
    options[launch.STAMP] = launch.stamp(Path(snakefile))
    return shlex.join([sys.executable, "-S", launch.__file__, snakefile, json.dumps(options, sort_keys=True)])


def resources(config: dict[str, Any]) -> dict[str, Any]:
    """Resources of every experiment rule: what each backend's executor needs to know (a local job slot,
    Slurm's GPUs and CPUs, ...); an executor ignores the others'."""
    merged: dict[str, Any] = {}
    for each in backend.every():
        merged.update(each.resources(config))
    return merged
