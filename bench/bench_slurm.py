"""Submitting experiments to Slurm: sfgen's workflow through Snakemake's slurm executor vs. plain sbatch.

Against the local single-node test cluster (tests/slurm_cluster.py; root, slurm-wlm and munge needed),
for each K of --per-job (experiments packed per Slurm job, --slurm_experiments_per_job):
  sfgen      `sfgen compile` of N experiments, then `snakemake --profile profiles/slurm --jobs N`, timed from
             Snakemake's start until its log has reported all N experiments submitted (the DAG, the
             status-command probe and every sbatch call included), parsed from the log as it is written,
             with the number of sbatch calls it took (at most ceil(N / K));
  sbatch     as many plain `sbatch --wrap` calls in a row as sfgen made jobs, with the same resources.
Every job is submitted with --hold, so nothing runs: this 2-core machine would otherwise spend its CPU
on the jobs' own Snakemake starts while the submitting Snakemake works. The held jobs are cancelled at
the end (squeue still lists them for the cluster's MinJobAge, 1 h; its MaxJobCount is 10,000).
Not a test: prints the numbers; record runs in bench/RESULTS.md.
Usage: python bench/bench_slurm.py [--n 1000] [--per-job 1,4,8] [--keep DIR] [--max-jobs-per-timespan 1000/1s]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slurm_cluster import SlurmCluster, cluster_session

RUN_MODULE = """\
from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid
RUN_DESCRIPTION = RunDescription("bench_slurm", experiments=[
    Experiment("noop", "true", ParamGrid([("seed", list(range({n})))]).generate_params(randomize=False)),
])
"""
RESOURCES = ["-p", "gpu", "--gpus=1", "--cpus-per-gpu=1"]
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")  # the plugin, one experiment per job
SUBMITTED_PACKED = re.compile(r"^sfgen: Slurm job \d+ runs (\d+) experiment")  # sfgen.slurm.pack
RUN_ID = re.compile(r"SLURM run ID: (\S+)")


def sfgen_submission(cluster: SlurmCluster, scratch: Path, n: int, per_job: int, extra: list[str]) -> dict[str, float]:
    """Seconds from Snakemake's start to its first and to its last submission, and how many it made."""
    env = cluster.run_env()
    (scratch / "run.py").write_text(RUN_MODULE.format(n=n))
    subprocess.run(
        [sys.executable, "-m", "sfgen", "compile", "--run=run.py", f"--out=wf{per_job}", "--slurm_partition=gpu",
         "--slurm_cpus_per_gpu=1", "--slurm_extra=--hold", f"--slurm_experiments_per_job={per_job}"],
        cwd=scratch, env=env, check=True, capture_output=True,
    )
    command = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--jobs", str(n), *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=scratch / f"wf{per_job}", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    first = last = None
    count, submissions, run_id = 0, 0, None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if run_id is None and (match := RUN_ID.search(line)):
                run_id = match.group(1)
            submitted = SUBMITTED.search(line) or SUBMITTED_PACKED.search(line)
            if submitted:
                count += int(submitted.group(1)) if submitted.re is SUBMITTED_PACKED else 1
                submissions += 1
                now = time.perf_counter() - started
                first = first if first is not None else now
                last = now
                if count >= n:
                    break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # held jobs never end; Snakemake would wait for them
        proc.wait()
        if run_id:
            cluster.run("scancel", f"--name={run_id}", check=False)
    if count != n or first is None or last is None:
        raise RuntimeError(f"only {count} of {n} experiments seen submitted; see {scratch / f'wf{per_job}' / '.snakemake' / 'log'}")
    return {"first": first, "all": last, "submissions": submissions}


def sbatch_submission(cluster: SlurmCluster, scratch: Path, n: int) -> float:
    """Seconds for N plain `sbatch --wrap` calls, one after the other."""
    name = f"bench-wrap-{uuid.uuid4().hex[:8]}"
    env = cluster.run_env()
    started = time.perf_counter()
    try:
        command = ["sbatch", "--parsable", "--hold", f"--job-name={name}", "--output=/dev/null", *RESOURCES]
        command.append("--wrap=true")
        for _ in range(n):
            subprocess.run(command, cwd=scratch, env=env, check=True, capture_output=True)
        return time.perf_counter() - started
    finally:
        cluster.run("scancel", f"--name={name}", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="experiments to submit (default 1000)")
    parser.add_argument("--per-job", default="1,4,8", help="experiments per Slurm job to measure (default 1,4,8)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--max-jobs-per-timespan", help="passed to snakemake (its default, 100/1s, caps the submission rate)"
    )
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="sfgen-bench-slurm-"))
    scratch.mkdir(parents=True, exist_ok=True)
    n = args.n
    extra = ["--max-jobs-per-timespan", args.max_jobs_per_timespan] if args.max_jobs_per_timespan else []
    limit = args.max_jobs_per_timespan or "100/1s (Snakemake's default)"
    print(f"experiments: {n}, in held 1-GPU jobs on the local test cluster; max-jobs-per-timespan {limit}")
    print("K = experiments per job | sbatch calls (ceil(N/K)) | sfgen: all submitted after | plain sbatch, as many "
          "calls | ratio")
    try:
        with cluster_session() as cluster:
            for per_job in (int(each) for each in args.per_job.split(",")):
                sfgen = sfgen_submission(cluster, scratch, n, per_job, extra)
                plain = sbatch_submission(cluster, scratch, int(sfgen["submissions"]))
                print(f"K={per_job:<3} | {sfgen['submissions']:>5.0f} ({-(-n // per_job)}) | {sfgen['all']:6.1f} s "
                      f"(first after {sfgen['first']:.1f} s: start, DAG, status probe) | {plain:6.1f} s | "
                      f"{sfgen['all'] / plain:.2f}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
