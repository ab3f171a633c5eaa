"""What the generated Snakefile calls while Snakemake parses it: options, its experiments and their
corrupt markers, the launch command, the resources and limits. Parsing changes no file. What runs when
the workflow starts and ends is ``sfgen.hooks``.

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

from sfgen import backend, launcher, set_aside, snakemake_internals
from sfgen.exceptions import SfgenError
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


def experiments(workflow: Any, block: str) -> list[ExperimentSpec]:
    """The experiments to make rules for: all of them, or inside a cluster job only its target."""
    targets = _target_rules(sys.argv) if workflow.remote_exec else None
    if targets:
        prefixes = tuple(json.dumps({"rule": rule})[:-1] + "," for rule in targets)
        block = "\n".join(line for line in block.split("\n") if line.startswith(prefixes))
    return decode_block(block)


def corrupt_markers(workflow: Any, specs: list[ExperimentSpec]) -> set_aside.CorruptMarkers:
    """The experiments' corrupt markers, to set aside in jobs of their own (``sfgen.set_aside``), found
    without changing a file. None inside a cluster job: Snakemake runs only its experiment there, and
    set-aside jobs are local."""
    if workflow.remote_exec:
        return set_aside.CorruptMarkers([], {})
    return set_aside.find(Path(workflow.main_snakefile).parent, specs)


def set_aside_command() -> str:
    """The shell words that set a corrupt marker aside (MARKER KEPT appended by the rule): the file
    ``sfgen/set_aside.py`` run with ``-S``, as the launcher is."""
    return shlex.join([sys.executable, "-S", set_aside.__file__])


def launch_command(workflow: Any, config: dict[str, Any]) -> str:
    """The shell words that start the launcher for a rule (its name is appended by the rule): the file
    ``sfgen/launcher.py`` run with ``-S``, the workflow's Snakefile and the options its jobs need, with the
    Snakefile's stamp as parsed: a launcher refuses to run an experiment from a Snakefile recompiled since
    (compile refuses while Snakemake holds the workflow's lock, which it takes only after parsing)."""
    snakefile = os.path.abspath(workflow.main_snakefile)
    return shlex.join([sys.executable, "-S", launcher.__file__, snakefile, job_options(workflow, config)])


def job_options(workflow: Any, config: dict[str, Any]) -> str:
    """The options every launcher gets (JSON): the run's options and the Snakefile's stamp."""
    options = {name: config[name] for name in RUNTIME_OPTIONS if name in config}
    options[launcher.STAMP] = launcher.stamp(Path(workflow.main_snakefile))
    return json.dumps(options, sort_keys=True)


def resources(config: dict[str, Any]) -> dict[str, Any]:
    """Resources of every experiment rule: what each backend's executor needs to know (a local job slot,
    Slurm's GPUs and CPUs, ...); an executor ignores the others'."""
    merged: dict[str, Any] = {}
    for each in backend.every():
        merged.update(each.resources(config))
    return merged
