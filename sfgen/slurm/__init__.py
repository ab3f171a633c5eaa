"""Slurm backend: Snakemake's slurm executor plugin, with Sample Factory's sbatch templates and options.

Modules: ``flags`` (which sbatch flags sfgen and the plugin set), ``resources`` (options -> the plugin's
resources), ``template`` (SF's sbatch templates, run inside the job), ``session`` (status command, timeout
resubmission and re-attach, decided when Snakemake starts), ``pack`` and ``bundle`` (several experiments
in one job: submitted, and run inside it), ``jobs`` (squeue, scancel), ``backend`` and ``job`` (the two
sides of ``sfgen.backend``'s interface).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from sfgen.layout import SLURM_LOG_DIR, slurm_bundle_log, slurm_job_log
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
    """``--slurm_print_only``: print what would be submitted, per Slurm job, submit nothing, write nothing."""
    options = compile_options(options, Path.cwd())
    workdir = os.path.abspath(os.path.join(os.getcwd(), options["workdir"]))
    text = options.get("slurm_sbatch_template")
    if text is None:
        how = "runs"
    elif template.SbatchTemplate(text).form == "v1":
        how = "runs the template's prelude, then"
    else:
        how = "runs the template, $CMD being"
    per_job = options["slurm_experiments_per_job"]
    if per_job == 1:
        resources = rule_resources(options)
        flags = shlex.join(sbatch_flags(resources))
        print(
            f"sfgen: print only, nothing submitted or written: {len(specs)} experiments, each one Slurm job that "
            "Snakemake's slurm executor (snakemake --profile profiles/slurm) would submit as:"
        )
        for index, spec in enumerate(specs):
            print(f"[{index + 1}/{len(specs)}] {spec.name}  (rule {spec.rule})")
            print(f"  sbatch {flags} --output {shlex.quote(str(slurm_job_log(log_dir(options), spec.rule, '%j')))}")
            print(f"  resources: {', '.join(f'{k}={v}' for k, v in resources.items())}")
            print(f"  in {workdir} {how}: {_command(spec)}")
            print(f"  its output: {spec.log} in the workflow dir")
        return 0
    from sfgen.slurm.bundle import pinned
    from sfgen.slurm.pack import bundle_resources, chunks

    by_rule = {spec.rule: spec for spec in specs}
    bundles = chunks(sorted(by_rule), per_job)
    print(
        f"sfgen: print only, nothing submitted or written: {len(specs)} experiments in {len(bundles)} Slurm jobs of "
        f"at most {per_job} (when all are submitted at once), as snakemake --profile profiles/slurm would submit them:"
    )
    for index, rules in enumerate(bundles):
        print(f"[{index + 1}/{len(bundles)}] one Slurm job, {len(rules)} experiments at once")
        asked = bundle_resources(options, len(rules))
        gpus = [str(gpu) for gpu in range(asked.get("gpu", 0))]
        print(f"  sbatch {shlex.join(sbatch_flags(asked))} --output "
              f"{shlex.quote(str(slurm_bundle_log(log_dir(options), '%j')))}")
        print(f"  resources: {', '.join(f'{k}={v}' for k, v in asked.items())}")
        for rule, gpu in zip(rules, pinned(rules, gpus, options["experiments_per_gpu"])):
            spec = by_rule[rule]
            where = f"on the job's GPU {gpu}" if gpu is not None else "with all of the job's GPUs"
            print(f"  - {spec.name}  (rule {rule}), {where}")
            print(f"    in {workdir} {how}: {_command(spec)}")
            print(f"    its output: {spec.log} in the workflow dir")
    return 0


def _command(spec: ExperimentSpec) -> str:
    env = "".join(f"{key}={shlex.quote(str(value))} " for key, value in (spec.env_vars or {}).items())
    return f"{env}{spec.cmd}"
