"""Several experiments to a Slurm job (``--slurm_experiments_per_job``), on the real test cluster (4 GPUs).

The issue's check: 8 experiments at 4 per job, 2 GPUs per job and 2 experiments per GPU make exactly 2
jobs; every experiment sees one GPU of its own job's allocation, no GPU runs more than 2 at once, a
failing experiment leaves its 3 bundle-mates done, and the rerun submits one job that runs only it. Then
the crash case: Snakemake killed with bundles running, the rerun follows them, and ``sfgen cancel`` stops
one experiment of a bundle while its mate goes on; a bundle Slurm stops resubmits only its unfinished
experiment; Ctrl-C cancels a bundle.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import alive, clean_env, experiment_of, probe_records, run_cli, run_snakemake, undeclared
from test_slurm_reattach import kill_9, start_snakemake, wait_for, write_sweep

from tests import slurm_cluster as cluster_module
from tests.slurm_cluster import SlurmCluster

slurm_cluster = cluster_module.slurm_cluster  # the session fixture


def bundles(wf: Path, jobs: list[dict]) -> dict[str, list[str]]:
    """job id -> the experiments it packs, from the records their comments name (the next run's start
    removes those of ended jobs)."""
    found = {}
    for job in jobs:
        token = job["rule"].removeprefix("sfgen_bundle_")
        found[job["id"]] = json.loads((wf / ".sfgen" / "slurm-bundles" / f"{token}.json").read_text())["rules"]
    return found


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


@dataclass
class Packed:
    wf: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    jobs_first: list[dict]
    jobs_second: list[dict]
    records_first: list[dict]
    records_second: list[dict]
    job_gpus: dict[str, str]
    bundles: dict[str, list[str]]  # job id -> its experiments' rules


@pytest.fixture(scope="module")
def packed(slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> Packed:
    """Eight experiments (seed 5 fails), four per job on two GPUs, run twice with profiles/slurm."""
    root = tmp_path_factory.mktemp("packed")
    run = write_sweep(root, [{"seed": i, "sleep": 3, "exit": 3 if i == 5 else 0} for i in range(8)])
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_partition=gpu", "--slurm_gpus_per_job=2",
        "--slurm_cpus_per_gpu=1", "--experiments_per_gpu=2", "--slurm_experiments_per_job=4", cwd=root, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf = root / "wf"
    first = run_snakemake("--profile", "profiles/slurm", cwd=wf, env=env, timeout=240)
    jobs_first, records_first = slurm_cluster.jobs_in(wf), probe_records(root / "probes")
    packs = bundles(wf, jobs_first)
    second = run_snakemake("--profile", "profiles/slurm", cwd=wf, env=env, timeout=240)
    jobs_second = slurm_cluster.jobs_in(wf)
    packs.update(bundles(wf, jobs_second[len(jobs_first) :]))
    job_gpus = {record["slurm"]["SLURM_JOB_ID"]: record["slurm"]["SLURM_JOB_GPUS"] for record in records_first}
    return Packed(wf, first, second, jobs_first, jobs_second, records_first, probe_records(root / "probes"),
                  job_gpus, packs)


def test_eight_experiments_at_four_per_job_are_two_jobs_of_two_gpus(packed: Packed, slurm_cluster: SlurmCluster) -> None:
    assert len(packed.jobs_first) == 2, packed.first.stderr[-3000:]
    for job in packed.jobs_first:
        shown = slurm_cluster.run("scontrol", "show", "job", job["id"]).stdout
        assert "TresPerJob=gres:gpu:2" in shown and "Partition=gpu" in shown, shown
        assert len(packed.bundles[job["id"]]) == 4
    assert len(packed.records_first) == 8  # each experiment ran once
    assert {record["slurm"]["SLURM_JOB_ID"] for record in packed.records_first} == {job["id"] for job in packed.jobs_first}


def test_each_experiment_sees_one_gpu_of_its_own_job_and_no_gpu_runs_more_than_two(packed: Packed) -> None:
    for record in packed.records_first:
        allocation = record["slurm"]["SLURM_JOB_GPUS"].split(",")
        assert len(allocation) == 2 and record["cuda"] in allocation, record
    by_gpu: dict[str, list[tuple[float, float]]] = {}
    for record in packed.records_first:
        by_gpu.setdefault(record["cuda"], []).append((record["start"], record["end"]))
    assert len(by_gpu) == 4  # both jobs' GPUs used, two experiments on each
    assert all(len(runs) == 2 and most_at_once(runs) <= 2 for runs in by_gpu.values()), by_gpu
    markers = [json.loads(path.read_text()) for path in (packed.wf / "markers").glob("*.done")]
    assert all(marker["gpu"] in packed.job_gpus[marker["slurm_job_id"]].split(",") for marker in markers)
    assert all(not undeclared(marker) for marker in markers)


def test_a_failing_experiment_leaves_its_three_bundle_mates_done(packed: Packed) -> None:
    assert packed.first.returncode != 0, "a failed experiment must fail the run"
    failed = [record for record in packed.records_first if "see_5" in experiment_of(record)]
    assert len(failed) == 1
    job = failed[0]["slurm"]["SLURM_JOB_ID"]
    mates = [experiment_of(r) for r in packed.records_first if r["slurm"]["SLURM_JOB_ID"] == job and r is not failed[0]]
    assert len(mates) == 3
    done = {path.name for path in (packed.wf / "markers").glob("*.done")}
    assert len(done) == 7 and all(any(mate in name for name in done) for mate in mates), done
    rule = next(job["rule"] for job in packed.jobs_first if job["state"] == "FAILED")
    failure = next((packed.wf / "markers").glob("*see_5*.failed"))
    assert json.loads(failure.read_text())["exit_code"] == 3 and rule.startswith("sfgen_bundle_")
    # sfgen status (after the rerun): every experiment names its job and node; bundle-mates share them
    rows = json.loads(run_cli("status", "--json", cwd=packed.wf).stdout)["experiments"]
    assert all(row["slurm_job_id"] and row["host"] for row in rows), rows
    shared: dict[str, list[str]] = {}
    for row in rows:
        shared.setdefault(row["slurm_job_id"], []).append(row["name"])
    rerun_job = packed.jobs_second[-1]["id"]
    assert shared[rerun_job] == [experiment_of(failed[0])]
    failed_row = next(row for row in rows if row["state"] == "failed")  # Slurm's log of its (failed) job
    assert failed_row["job_log"] == f".snakemake/slurm_logs/bundles/{rerun_job}.log"
    assert f"Slurm job {rerun_job} on " in (packed.wf / failed_row["job_log"]).read_text()
    assert sorted(len(names) for job, names in shared.items() if job != rerun_job) == [3, 4]


def test_the_rerun_submits_one_job_that_runs_only_the_failed_experiment(packed: Packed, slurm_cluster: SlurmCluster) -> None:
    assert packed.second.returncode != 0
    new = packed.jobs_second[len(packed.jobs_first) :]
    assert len(new) == 1, packed.second.stderr[-3000:]
    assert len(packed.bundles[new[0]["id"]]) == 1 and "see_5" in packed.bundles[new[0]["id"]][0]
    # one experiment at two per GPU asks for one GPU, not the job's two
    assert re.search(r"TresPerJob=gres:gpu:1\s", slurm_cluster.run("scontrol", "show", "job", new[0]["id"]).stdout)
    again = packed.records_second[len(packed.records_first) :]
    assert [experiment_of(r) for r in again] == [experiment_of(r) for r in packed.records_first if "see_5" in experiment_of(r)]


def test_a_killed_snakemake_s_bundles_are_followed_and_one_experiment_of_a_bundle_cancelled_alone(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """kill -9 of Snakemake while two bundles of two run; the rerun follows both (no submission), then
    ``sfgen cancel`` stops seed 0 while its bundle-mate seed 1 goes on to finish."""
    hold = tmp_path / "release"
    run = write_sweep(tmp_path, [{"seed": i, "hold": str(hold)} for i in range(4)])
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_gpus_per_job=1", "--slurm_cpus_per_gpu=1",
        "--experiments_per_gpu=2", "--slurm_experiments_per_job=2", cwd=tmp_path, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf, probes = tmp_path / "wf", tmp_path / "probes"
    first = start_snakemake(wf, env, tmp_path / "first.log")
    try:
        wait_for(lambda: len(probe_records(probes)) == 4, 90, "four experiments running in two jobs")
        kill_9(first)
    finally:
        if first.poll() is None:
            kill_9(first)
    jobs = slurm_cluster.jobs_in(wf)
    assert len(jobs) == 2 and {job["state"] for job in jobs} == {"RUNNING"}
    rerun = start_snakemake(wf, env, tmp_path / "rerun.log")
    try:
        wait_for(lambda: "following them" in (tmp_path / "rerun.log").read_text(), 60, "the rerun to follow the jobs")
        cancelled = run_cli("cancel", "--yes", "00_probe_see_0*", cwd=wf, env=env)
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        wait_for(lambda: list((wf / "markers").glob("exp_00_*.failed")), 30, "seed 0 to stop")
        time.sleep(1)
        assert {job["state"] for job in slurm_cluster.jobs_in(wf)} == {"RUNNING"}  # its mate goes on
        hold.write_text("")
        assert rerun.wait(240) == 1, (tmp_path / "rerun.log").read_text()[-3000:]
    finally:
        hold.write_text("")
        if rerun.poll() is None:
            kill_9(rerun)
    said = (tmp_path / "rerun.log").read_text()
    assert "sfgen: 4 experiments still queued/running in Slurm from an earlier run (jobs " in said
    assert len(slurm_cluster.jobs_in(wf)) == 2  # nothing submitted again
    records = probe_records(probes)
    assert len(records) == 4 and len({experiment_of(r) for r in records}) == 4  # each ran once
    assert sorted("end" in r for r in records) == [False, True, True, True]  # seed 0 stopped, the others finished
    assert sorted(path.name[:6] for path in (wf / "markers").glob("*.done")) == ["exp_01", "exp_02", "exp_03"]
    failure = json.loads(next((wf / "markers").glob("exp_00_*.failed")).read_text())
    assert failure["interrupted"] is True


def test_a_bundle_stopped_by_slurm_resubmits_only_its_unfinished_experiment(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    """With a time limit, Snakemake resubmits what Slurm stopped; of a bundle, only what had not finished."""
    hold = tmp_path / "release"
    run = write_sweep(tmp_path, [{"seed": 0}, {"seed": 1, "hold": str(hold)}])
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_gpus_per_job=1", "--slurm_cpus_per_gpu=1",
        "--slurm_experiments_per_job=2", "--slurm_runtime=10", "--slurm_timeout_retries=1", cwd=tmp_path, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf, probes = tmp_path / "wf", tmp_path / "probes"
    snakemake = start_snakemake(wf, env, tmp_path / "run.log")
    try:
        wait_for(lambda: len(probe_records(probes)) == 2 and list((wf / "markers").glob("exp_00_*.done")), 90,
                 "seed 0 done and seed 1 running")
        slurm_cluster.run("scancel", slurm_cluster.jobs_in(wf)[0]["id"])  # as Slurm does at the time limit
        wait_for(lambda: len(slurm_cluster.jobs_in(wf)) == 2, 120, "the resubmission")
        hold.write_text("")
        assert snakemake.wait(240) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        hold.write_text("")
        if snakemake.poll() is None:
            kill_9(snakemake)
    jobs = slurm_cluster.jobs_in(wf)
    assert [job["state"] for job in jobs] == ["CANCELLED", "COMPLETED"]
    runs = sorted(experiment_of(record) for record in probe_records(probes))
    assert len(runs) == 3 and runs.count(runs[-1]) == 2 and "see_1" in runs[-1]  # seed 0 once, seed 1 twice
    assert len(list((wf / "markers").glob("*.done"))) == 2


def test_ctrl_c_cancels_a_bundle_and_stops_every_experiment_in_it(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    hold = tmp_path / "release"
    run = write_sweep(tmp_path, [{"seed": i, "hold": str(hold)} for i in range(2)])
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_gpus_per_job=1", "--slurm_cpus_per_gpu=1",
        "--slurm_experiments_per_job=2", cwd=tmp_path, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf, probes = tmp_path / "wf", tmp_path / "probes"
    snakemake = start_snakemake(wf, env, tmp_path / "run.log")
    try:
        wait_for(lambda: len(probe_records(probes)) == 2, 90, "both experiments running in one job")
        snakemake.send_signal(signal.SIGINT)
        assert snakemake.wait(60) != 0
    finally:
        hold.write_text("")
        if snakemake.poll() is None:
            kill_9(snakemake)
    jobs = slurm_cluster.jobs_in(wf)
    assert len(jobs) == 1 and slurm_cluster.wait_for_state(jobs[0]["id"]) == "CANCELLED"
    assert wait_for(lambda: not alive(record["pid"] for record in probe_records(probes)), 30, "the experiments to stop")
    rows = json.loads(run_cli("status", "--json", cwd=wf, env=env).stdout)["experiments"]
    assert [row["state"] for row in rows] == ["failed", "failed"] and not list((wf / "markers").glob("*.done"))
