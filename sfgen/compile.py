"""Compile a run description into a workflow directory: the Snakefile and, where missing, the profiles.

Everything is checked before anything is written, each file is written atomically, and what a compile
wrote is removed again if a later write fails, so a failed compile leaves the directory as it was. A
workflow that a Snakemake is running is never recompiled: its launchers read their commands from the
Snakefile, so the experiments still to start would run the new commands.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from sfgen import backend
from sfgen.exceptions import WorkflowExistsError, WorkflowRunningError, WorkflowWriteError
from sfgen.experiments import describe
from sfgen.layout import SNAKEMAKE_LOCK
from sfgen.loader import load_run
from sfgen.markers import read_record, write_atomic
from sfgen.options import with_defaults
from sfgen.slots import try_lock
from sfgen.snakefile import read_run_name, render
from sfgen.spec import ExperimentSpec


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


@contextmanager
def _not_running(out: Path) -> Iterator[None]:
    """Refuse a workflow that a Snakemake is running, and hold its lock while the block writes, so that
    none starts meanwhile."""
    path = out / SNAKEMAKE_LOCK
    fd = None
    if path.exists():  # no Snakemake ever ran it otherwise; a compile creates no state of its own
        fd = try_lock(path)
        if fd is None:
            holder = path.read_text(errors="replace").strip() or "?"
            raise WorkflowRunningError(
                f"Snakemake (pid {holder}) is running the workflow in {out}, and a recompile would change its "
                "experiments' commands under it: wait for it to end (or stop it), then compile again"
            )
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _profiles() -> list[str]:
    """One profile per backend, named after it (``profiles/local``, ``profiles/slurm``, ...)."""
    return [each.name for each in backend.every()]


def _install_profiles(out: Path) -> list[str]:
    """Copy the packaged profiles that the directory does not have yet (a user's edits are kept)."""
    installed = []
    for name in _profiles():
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


def _write(out: Path, text: str) -> list[str]:
    """Write the profiles where missing and the Snakefile; return the profiles installed. If a write fails,
    remove what this call made (profiles, directories), so the directory is as it was."""
    made = [directory for directory in (out / "profiles", out, *out.parents) if not directory.exists()]
    missing = [name for name in _profiles() if not (out / "profiles" / name).exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        installed = _install_profiles(out)
        write_atomic(out / "Snakefile", text)
    except BaseException as error:
        for name in missing:
            shutil.rmtree(out / "profiles" / name, ignore_errors=True)
        for directory in made:  # deepest first
            with suppress(OSError):
                directory.rmdir()
        if isinstance(error, OSError):
            raise WorkflowWriteError(
                f"cannot write the workflow into {out}: {error.strerror or error}: "
                "make it writable (or free space there), or compile into another --out"
            ) from error
        raise
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
    for each in backend.every():  # templates embedded: the workflow runs as compiled
        compiled_options = each.compile_options(compiled_options, specs, out)
    snakefile = out / "Snakefile"
    _check_target(snakefile, description.run_name, force)
    text = render(specs, compiled_options, description.run_name, run, compile_cmd)
    with _not_running(out):
        new_profiles = _write(out, text)
    changed = []
    for spec in specs:
        marker = read_record(out / spec.marker)
        if marker is not None and marker.get("cmd") != spec.cmd:
            changed.append(spec)
    return Compiled(out, description.run_name, specs, changed, new_profiles)
