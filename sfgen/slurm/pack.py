"""Packing (``slurm_experiments_per_job=K``): the experiments Snakemake hands over are submitted K to a
Slurm job, one ``sbatch`` per bundle, instead of one job each.

Snakemake's own job groups would bundle them too, but a group fails as a whole: a failed member costs its
bundle-mates their outputs, and a retry reruns all of them. So each experiment keeps its rule, and only
the submission is shared: Snakemake's executor is asked before it submits (``sfgen.snakemake_internals``),
the bundle goes out as one job running ``sfgen/slurm/bundle.py`` (each experiment's own launcher, pinned
to one of the job's GPUs), and every member is reported to the slurm plugin with the bundle's job id. The
plugin then follows the job as its own; when it ends, each member counts by its own marker (a failed job
with the marker is a success, ``sfgen.slurm.session``), so a rerun or a timeout retry submits only the
experiments without one, packed again.

The bundle's members are written down before ``sbatch`` (``.sfgen/slurm-bundles/TOKEN.json``, the job's
comment ``sfgen_bundle_TOKEN``): a Snakemake killed at any moment leaves every live bundle findable by
``squeue`` for re-attach, status and cancel (``sfgen.slurm.jobs``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sfgen import layout
from sfgen.explog import now
from sfgen.markers import write_record
from sfgen.slurm import bundle
from sfgen.slurm.jobs import BUNDLE_COMMENT
from sfgen.slurm.resources import rule_resources, sbatch_flags
from sfgen.snakemake_internals import Attach

# The job script: it runs its arguments (the bundle runner's argv), so nothing is pasted into shell source.
SCRIPT = '#!/bin/sh\n# sfgen: a Slurm job running several experiments (sfgen/slurm/bundle.py)\nexec "$@"\n'
SUBMIT_TIMEOUT_S = 60


def chunks(rules: list[str], per_job: int) -> list[list[str]]:
    return [rules[start : start + per_job] for start in range(0, len(rules), per_job)]


def bundle_resources(config: dict[str, Any], size: int) -> dict[str, Any]:
    """What a bundle of ``size`` experiments asks for: the whole job's resources, but a part-filled bundle (a
    sweep's last, a rerun's few) holds no idle GPU: only those its experiments fill (``bundle.gpus_asked``),
    and memory in that share."""
    resources = rule_resources(config)
    gpus = resources.get("gpu", 0)
    needed = bundle.gpus_asked(gpus, int(config["experiments_per_gpu"]), size)
    if needed < gpus:
        resources["gpu"] = needed
        if "mem_mb" in resources:
            resources["mem_mb"] = -(-int(resources["mem_mb"]) * needed // gpus)
    return resources


def bundle_argv(snakefile: Path, options_json: str, rules: list[str]) -> list[str]:
    """What the job runs: the bundle runner with this interpreter, the Snakefile, the launchers' options."""
    return [sys.executable, "-S", bundle.__file__, str(snakefile), options_json, *rules]


class Packer:
    """Submits the experiments Snakemake is about to run in bundles of ``per_job``."""

    def __init__(self, snakefile: Path, workdir: Path, run_name: str, log_dir: Path, config: dict[str, Any],
                 options_json: str):
        self.snakefile = snakefile
        self.workflow_dir = snakefile.parent
        self.workdir = workdir
        self.run_name = run_name
        self.log_dir = log_dir
        self.per_job = int(config["slurm_experiments_per_job"])
        self.config = config
        self.options_json = options_json

    def submit(self, rules: list[str]) -> list[tuple[list[str], Attach | str]]:
        """Every rule in a bundle of at most ``per_job``: each bundle's job, or why sbatch refused it."""
        return [(members, self._submit(members)) for members in chunks(sorted(rules), self.per_job)]

    def _submit(self, rules: list[str]) -> Attach | str:
        token = uuid.uuid4().hex[:16]
        record = self.workflow_dir / layout.slurm_bundle(token)
        write_record(record, {"rules": rules, "submitted": now()})
        log = layout.slurm_bundle_log(self.log_dir, "%j")
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            "sbatch", "--parsable", "--job-name", self.run_name, "--output", str(log), "--export=ALL",
            "--comment", f"{BUNDLE_COMMENT}{token}", "-D", str(self.workdir),
            *sbatch_flags(bundle_resources(self.config, len(rules))),
            "/dev/stdin", *bundle_argv(self.snakefile, self.options_json, rules),
        ]
        try:
            result = subprocess.run(argv, input=SCRIPT, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # it may have been queued all the same: the record stays, so a live job is found and followed
            return f"sbatch did not answer within {SUBMIT_TIMEOUT_S} s"
        except OSError as error:
            record.unlink(missing_ok=True)
            return f"cannot run sbatch: {error.strerror}"
        job_id = result.stdout.strip().split(";")[0]
        if result.returncode != 0 or not re.fullmatch(r"\d+", job_id):
            record.unlink(missing_ok=True)
            said = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
            return f"sbatch refused the job: {said}"
        noun = "experiment" if len(rules) == 1 else "experiments"
        print(f"sfgen: Slurm job {job_id} runs {len(rules)} {noun}: {', '.join(rules)}", file=sys.stderr, flush=True)
        return Attach(job_id, layout.slurm_bundle_log(self.log_dir, job_id))
