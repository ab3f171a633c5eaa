"""The local Slurm test cluster really schedules GPU jobs, and Snakemake's slurm executor runs on it.

Why: the Slurm backend tests rely on this cluster behaving like a real GPU
cluster (one ``CUDA_VISIBLE_DEVICES`` id per 1-GPU job, four at once, states
visible to ``squeue`` without accounting) and on the Snakemake profile in
``SNAKEMAKE_PROFILE`` being sufficient for ``snakemake --executor slurm``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests import slurm_cluster as cluster_module
from tests.slurm_cluster import SNAKEMAKE_PROFILE, SlurmCluster, start_cluster

# The session fixture (a conftest may import it instead; then drop this line).
slurm_cluster = cluster_module.slurm_cluster


def test_one_gpu_job_sees_one_gpu_and_cluster_is_reused(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job = slurm_cluster.sbatch(
        f"--partition={slurm_cluster.partition}",
        "--gpus=1",
        "--output=job.log",
        "--wrap",
        "echo $CUDA_VISIBLE_DEVICES > out",
        cwd=tmp_path,
    )
    assert slurm_cluster.wait_for_state(job) == "COMPLETED", (tmp_path / "job.log").read_text()
    assert (tmp_path / "out").read_text().strip() in {"0", "1", "2", "3"}

    again = start_cluster(slurm_cluster.state_dir)  # healthy -> reused, not restarted
    assert not again.started and again.startup_seconds < 5


def test_four_gpu_jobs_run_concurrently_with_distinct_gpus(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    # Each job records its GPU, then holds it until the test creates "go"
    # (at most 60 s), so all four are RUNNING at the same time.  They take 2
    # CPUs each: 8 advertised CPUs on this 2-core machine.
    script = 'echo "$CUDA_VISIBLE_DEVICES" > gpu.$SLURM_JOB_ID; for i in $(seq 600); do [ -e go ] && exit 0; sleep 0.1; done; exit 1'
    jobs = [
        slurm_cluster.sbatch(
            "--gpus=1", "--cpus-per-gpu=2", "--mem=500", "--output=%j.log", "--wrap", script, cwd=tmp_path
        )
        for _ in range(4)
    ]
    fifth = slurm_cluster.sbatch(
        "--gpus=1", "--cpus-per-gpu=1", "--hold", "--output=%j.log", "--wrap", "true", cwd=tmp_path
    )
    try:
        for job in jobs:
            slurm_cluster.wait_for_state(job, {"RUNNING"})
        running = slurm_cluster.run("squeue", "--noheader", "--states=RUNNING", "--format=%i").stdout.split()
        assert set(jobs) <= set(running)
        shown = slurm_cluster.run("scontrol", "show", "job", jobs[0]).stdout
        assert "JobState=RUNNING" in shown and "TresPerJob=gres:gpu:1" in shown, shown

        # A fifth 1-GPU job cannot start while the four hold all GPUs.
        slurm_cluster.run("scontrol", "release", fifth)
        deadline = time.monotonic() + 15
        squeue_fifth = ["squeue", "--noheader", "--jobs", fifth, "--format=%T %r"]
        while (state := slurm_cluster.run(*squeue_fifth).stdout.split()) != ["PENDING", "Resources"]:
            assert state[0] == "PENDING" and time.monotonic() < deadline, state
            time.sleep(0.2)

        (tmp_path / "go").touch()
        states = [slurm_cluster.wait_for_state(job) for job in jobs]
        assert states == ["COMPLETED"] * 4, [(tmp_path / f"{job}.log").read_text() for job in jobs]
        assert slurm_cluster.wait_for_state(fifth) == "COMPLETED"
    finally:
        slurm_cluster.run("scancel", *jobs, fifth, check=False)
    gpus = sorted((tmp_path / f"gpu.{job}").read_text().strip() for job in jobs)
    assert gpus == ["0", "1", "2", "3"]


def test_sacct_fails_without_accounting(slurm_cluster: SlurmCluster) -> None:
    """No slurmdbd: sacct errors out, so status checks must use squeue."""
    res = slurm_cluster.run("sacct", "--noheader", check=False)
    assert res.returncode != 0
    assert "accounting storage is disabled" in (res.stdout + res.stderr)


def test_snakemake_slurm_executor_runs_a_gpu_rule(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(
            f"""
            rule all:
                input: "gpu.txt"

            rule gpu:
                output: "gpu.txt"
                resources:
                    gpu=1,
                    cpus_per_gpu=1,
                    slurm_partition="{slurm_cluster.partition}",
                    runtime=5,
                shell: "echo $CUDA_VISIBLE_DEVICES $SLURM_JOB_ID > {{output}}"
            """
        )
    )
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text("".join(f"{key}: {value}\n" for key, value in SNAKEMAKE_PROFILE.items()))
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(profile)],
        cwd=tmp_path,
        env=slurm_cluster.run_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    gpu, job_id = (tmp_path / "gpu.txt").read_text().split()
    assert gpu in {"0", "1", "2", "3"}
    assert slurm_cluster.job_state(job_id) == "COMPLETED"
    assert elapsed < 60, f"one-job workflow took {elapsed:.1f}s"
    print(f"snakemake --executor slurm, one job: {elapsed:.1f}s")
