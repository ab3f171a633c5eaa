"""Compile a run description into a workflow directory: the Snakefile and, where missing, the profiles.

Everything is checked before anything is written, and each file is written atomically, so a failed
compile leaves the directory as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from sfgen import slurm
from sfgen.exceptions import WorkflowExistsError
from sfgen.experiments import describe
from sfgen.loader import load_run
from sfgen.markers import read_record, write_atomic
from sfgen.ngc import template as ngc_template
from sfgen.options import with_defaults
from sfgen.snakefile import read_run_name, render
from sfgen.spec import ExperimentSpec

PROFILES = ("local", "slurm", "ngc")


@dataclass
class Compiled:
    """What a compile wrote and found: the experiments, and finished ones whose command changed since."""

    out: Path
    run_name: str
    specs: list[ExperimentSpec]
    changed: list[ExperimentSpec] = field(default_factory=list)
    new_profiles: list[str] = field(default_factory=list)


def _check_target(snakefile: Path, run_name: str, force: bool) -> None:
    if not snakefile.exists() or force:
        return
    existing = read_run_name(snakefile)
    if existing is None:
        raise WorkflowExistsError(
            f"{snakefile} was not written by sfgen: compile into another --out directory, or pass --force to replace it"
        )
    if existing != run_name:
        raise WorkflowExistsError(
            f"{snakefile} holds run '{existing}', not '{run_name}': compile into another --out directory, "
            "or pass --force to replace it"
        )


def _install_profiles(out: Path) -> list[str]:
    """Copy the packaged profiles that the directory does not have yet (a user's edits are kept)."""
    installed = []
    for name in PROFILES:
        target = out / "profiles" / name
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}."))
        try:
            with as_file(files("sfgen") / "profiles" / name) as source:
                shutil.copytree(source, staging, dirs_exist_ok=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        installed.append(name)
    return installed


def compile_workflow(
    run: str,
    out: Path,
    train_dir: str,
    experiment_suffix: str,
    options: dict[str, Any],
    compile_cmd: str,
    force: bool = False,
) -> Compiled:
    """Load ``run``, describe its experiments and write the workflow into ``out``."""
    description = load_run(run)
    specs = describe(description, train_dir, experiment_suffix)
    out = out.resolve()
    compiled_options = with_defaults({"workdir": os.path.relpath(os.getcwd(), out), **options})
    if compiled_options["ngc_job_template"] is not None:  # the Snakefile keeps the text: it runs as compiled
        compiled_options["ngc_job_template"] = ngc_template.embed(compiled_options["ngc_job_template"], specs, compiled_options)
    compiled_options = slurm.compile_options(compiled_options, out)  # template text, #SBATCH lines, checks
    snakefile = out / "Snakefile"
    _check_target(snakefile, description.run_name, force)
    text = render(specs, compiled_options, description.run_name, run, compile_cmd)

    out.mkdir(parents=True, exist_ok=True)
    new_profiles = _install_profiles(out)
    write_atomic(snakefile, text)
    changed = []
    for spec in specs:
        marker = read_record(out / spec.marker)
        if marker is not None and marker.get("cmd") != spec.cmd:
            changed.append(spec)
    return Compiled(out, description.run_name, specs, changed, new_profiles)
