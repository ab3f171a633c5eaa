"""Slurm backend: Snakemake's slurm executor plugin, with Sample Factory's sbatch templates and options.

Modules: ``flags`` (which sbatch flags sfgen and the plugin set), ``resources`` (options -> the plugin's
resources), ``template`` (SF's sbatch templates, run inside the job), ``session`` (status command and
timeout resubmission, decided when Snakemake starts).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from sfgen.layout import SLURM_LOG_DIR
from sfgen.slurm import template
from sfgen.slurm.flags import check_extra
from sfgen.slurm.resources import rule_resources, sbatch_flags
from sfgen.spec import ExperimentSpec



def compile_options(options: dict[str, Any], out: Path | None) -> dict[str, Any]:
    """Options checked and made self-contained for the Snakefile: the template's text in place of its
    file, its ``#SBATCH`` lines applied, slurm_extra checked, slurm_workdir relative to ``out`` (where
    Snakemake runs) as workdir is. Raises a one-line error for anything that would fail at submission."""
    result = template.embed(options) if options.get("slurm_sbatch_template") is not None else dict(options)
    if result.get("slurm_extra"):
        check_extra(result["slurm_extra"])
    if result.get("slurm_workdir") is not None and out is not None:
        result["slurm_workdir"] = os.path.relpath(os.path.abspath(result["slurm_workdir"]), out)
    return result


def log_dir(options: dict[str, Any]) -> str:
    """Where Slurm's job logs go, relative to the workflow dir: slurm_workdir, where every job's log is kept
    as Sample Factory's --slurm_workdir kept its scripts' output (``sfgen.slurm.session`` tells the plugin),
    else the plugin's default."""
    return options["slurm_workdir"] if options.get("slurm_workdir") is not None else str(SLURM_LOG_DIR)


def print_submissions(specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
    """``--slurm_print_only``: print what would be submitted per experiment, submit nothing, write nothing."""
    options = compile_options(options, Path.cwd())
    resources = rule_resources(options)
    flags = shlex.join(sbatch_flags(resources))
    workdir = os.path.abspath(os.path.join(os.getcwd(), options["workdir"]))
    text = options.get("slurm_sbatch_template")
    if text is None:
        how = "runs"
    elif template.SbatchTemplate(text).form == "v1":
        how = "runs the template's prelude, then"
    else:
        how = "runs the template, $CMD being"
    print(
        f"sfgen: print only, nothing submitted or written: {len(specs)} experiments, each one Slurm job that "
        "Snakemake's slurm executor (snakemake --profile profiles/slurm) would submit as:"
    )
    for index, spec in enumerate(specs):
        log = f"{log_dir(options)}/rule_{spec.rule}/%j.log"
        print(f"[{index + 1}/{len(specs)}] {spec.name}  (rule {spec.rule})")
        print(f"  sbatch {flags} --output {shlex.quote(log)}")
        print(f"  resources: {', '.join(f'{k}={v}' for k, v in resources.items())}")
        env = "".join(f"{key}={shlex.quote(str(value))} " for key, value in (spec.env_vars or {}).items())
        print(f"  in {workdir} {how}: {env}{spec.cmd}")
        print(f"  its output: {spec.log} in the workflow dir")
    return 0
