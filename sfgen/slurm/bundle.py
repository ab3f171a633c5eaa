"""Inside a Slurm job that packs several experiments: start every experiment's launcher at once, each
pinned to one of the job's GPUs, and wait for them all.

Run by the job ``sfgen.slurm.pack`` submits, as ``python -S .../sfgen/slurm/bundle.py SNAKEFILE
OPTIONS_JSON RULE...``. Slurm lists the job's GPUs in ``CUDA_VISIBLE_DEVICES``; with experiments_per_gpu
> 0 the i-th experiment gets the (i mod G)-th of them, so no GPU runs more than ceil(K / G), which compile
checked is at most experiments_per_gpu; with -1 every experiment sees all of them. Each launcher does for
its experiment exactly what it does in a job of its own (log, marker, failure record, its whole process
tree), so bundle-mates never share a fate: one failing leaves the others' markers. A signal to the job
(its time limit, scancel) reaches every launcher, and a launcher stops its experiment if this runner
dies; ``sfgen cancel NAME`` stops one experiment alone through a request file naming this job, which
this runner looks for every second. The job exits 0 only if every experiment did, so Slurm shows a
bundle with a failure as FAILED; Snakemake's side then counts each experiment by its own marker
(``sfgen.slurm.session``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

if __name__ == "__main__":  # run as a file with -S: sfgen is imported from the directory holding it
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sfgen import proctree
from sfgen.slots import gpu_ids
from sfgen.slurm.job import cancelled

LAUNCHER = Path(__file__).resolve().parent.parent / "launcher.py"
_POLL_S = 1.0  # how often cancel requests are looked for


def pinned(rules: list[str], gpus: list[str], per_gpu: int) -> list[str | None]:
    """Each experiment's GPU, round robin over the job's GPUs; None (all visible) without pinning."""
    if per_gpu <= 0 or not gpus:
        return [None] * len(rules)
    return [gpus[index % len(gpus)] for index in range(len(rules))]


def gpus_asked(gpus_per_job: int, per_gpu: int, size: int) -> int:
    """The GPUs a bundle of ``size`` asks for (``sfgen.slurm.pack``): a part-filled one only those its
    experiments fill at ``per_gpu`` each; with ``per_gpu`` -1 all of the job's, which all of them share."""
    return min(gpus_per_job, -(-size // per_gpu)) if per_gpu > 0 else gpus_per_job


def main(argv: list[str]) -> int:
    """``argv``: SNAKEFILE OPTIONS_JSON RULE..., as ``sfgen.slurm.pack`` submits them."""
    if len(argv) < 3:
        print(f"usage: python -S {__file__} SNAKEFILE OPTIONS_JSON RULE... (run by sfgen's Slurm bundles)",
              file=sys.stderr)
        return 2
    snakefile, options_json, rules = argv[0], argv[1], argv[2:]
    options = json.loads(options_json)
    per_gpu = int(options.get("experiments_per_gpu", -1))
    # the job's GPUs as Slurm lists them, mapped as a local run maps a parent CUDA_VISIBLE_DEVICES
    asked = gpus_asked(int(options["slurm_gpus_per_job"]), per_gpu, len(rules))
    gpus = gpu_ids(asked, os.environ.get("CUDA_VISIBLE_DEVICES")) if per_gpu > 0 else []
    placement = pinned(rules, gpus, per_gpu)
    launchers: dict[str, subprocess.Popen] = {}
    stopped: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopped.append(signum)
        for launcher in launchers.values():
            with suppress(OSError):
                launcher.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    job_id = os.environ.get("SLURM_JOB_ID", "")
    where = ", ".join(f"{rule} on GPU {gpu}" if gpu is not None else rule for rule, gpu in zip(rules, placement))
    noun = "experiment" if len(rules) == 1 else "experiments"
    print(f"sfgen: Slurm job {job_id or '?'} on {os.uname().nodename} runs {len(rules)} {noun}: "
          f"{where}", file=sys.stderr, flush=True)
    workflow_dir = Path(snakefile).parent
    for rule, gpu in zip(rules, placement):
        if stopped or cancelled(workflow_dir, rule, job_id):
            continue
        env = dict(os.environ)
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        launchers[rule] = subprocess.Popen(
            [sys.executable, "-S", str(LAUNCHER), snakefile, options_json, rule],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=proctree.stopped_with_parent(signal.SIGTERM),
        )
    asked: set[str] = set()  # stopped at sfgen cancel's request: signalled once
    while any(launcher.poll() is None for launcher in launchers.values()):
        for rule, launcher in launchers.items():
            if rule not in asked and launcher.poll() is None and cancelled(workflow_dir, rule, job_id):
                asked.add(rule)
                with suppress(OSError):
                    launcher.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):  # back at once when it ends (the last one: the job ends)
            next(launcher for launcher in launchers.values() if launcher.poll() is None).wait(_POLL_S)
    codes = [launcher.returncode for launcher in launchers.values()] + [1] * (len(rules) - len(launchers))
    failed = [code for code in codes if code != 0]
    if stopped:
        return 128 + stopped[0]
    return (failed[0] if failed[0] > 0 else 128 - failed[0]) if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
