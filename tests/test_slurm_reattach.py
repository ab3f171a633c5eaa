"""Crash-safe Slurm runs, on the real single-node test cluster (tests/slurm_cluster.py).

Snakemake on a login node dies (``kill -9``) while its jobs are queued or running; the next run, through
``snakemake --profile profiles/slurm`` or ``sfgen run --runner=slurm``, must follow those jobs instead
of submitting their experiments again. The probe trainer records every execution, and squeue (which keeps
finished jobs for an hour on the test cluster) every job submitted from the workflow: each experiment
runs exactly once, in exactly one job, and every marker is there at the end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import clean_env, experiment_of, probe_cmd, probe_records, run_cli, undeclared

from tests import slurm_cluster as cluster_module
from tests.slurm_cluster import SlurmCluster

slurm_cluster = cluster_module.slurm_cluster  # the session fixture


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return value


def write_sweep(root: Path, params: list[dict]) -> Path:
    probes = root / "probes"
    probes.mkdir(exist_ok=True)
    path = root / "sweep.py"
    path.write_text(textwrap.dedent(f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("crash", experiments=[
            Experiment("probe", {probe_cmd(probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
        ])
    """))
    return path


def start_snakemake(wf: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm"],
            cwd=wf, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def kill_9(proc: subprocess.Popen) -> None:
    """As a crash or a reboot of the login node would: the process and its children, with no chance to clean up
    (children first: Snakemake gets SIGTERM, and would cancel its jobs, when ``sfgen run`` above it dies)."""
    procs = [*reversed(psutil.Process(proc.pid).children(recursive=True)), psutil.Process(proc.pid)]
    for process in procs:
        process.send_signal(signal.SIGKILL)
    proc.wait(10)


def compile_sweep(root: Path, env: dict[str, str], params: list[dict], gpus: int) -> Path:
    run = write_sweep(root, params)
    result = run_cli(
        "compile", f"--run={run}", "--out=wf", f"--slurm_gpus_per_job={gpus}", "--slurm_cpus_per_gpu=1",
        cwd=root, env=env,
    )
    assert result.returncode == 0, result.stderr
    return root / "wf"


def assert_each_ran_once(wf: Path, cluster: SlurmCluster, count: int, failed: int = 0) -> None:
    records = probe_records(wf.parent / "probes")
    assert len(records) == count, [experiment_of(r) for r in records]
    assert len({experiment_of(record) for record in records}) == count
    assert all("end" in record for record in records)  # none was stopped half-way
    assert len(list((wf / "markers").glob("*.done"))) == count - failed
    assert len(cluster.jobs_in(wf)) == count  # not one experiment was submitted twice


MOMENTS = {
    # the cluster is full (a blocker holds every GPU): the four jobs are only queued
    "queued": dict(gpus=1, sleeps=[2, 2, 2, 2], blocker=True),
    # two GPUs per job on a four-GPU node: two jobs run, two wait
    "running_and_queued": dict(gpus=2, sleeps=[12, 12, 12, 12], blocker=False),
    # the short experiment finished and wrote its marker an instant before Snakemake died
    "one_just_finished": dict(gpus=1, sleeps=[1, 15, 15, 15], blocker=False),
    # as "running_and_queued", and one of the followed experiments fails: failed, exactly as its own job
    "a_followed_one_fails": dict(gpus=2, sleeps=[12, 12, 12, 12], blocker=False, fails=1),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_rerun_after_kill_9_follows_the_live_jobs_and_runs_each_experiment_once(
    moment: str, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    setup = MOMENTS[moment]
    env = slurm_cluster.run_env(clean_env())
    params = [{"seed": index, "sleep": sleep, "exit": 3 if index == setup.get("fails") else 0}
              for index, sleep in enumerate(setup["sleeps"])]
    wf = compile_sweep(tmp_path, env, params, setup["gpus"])
    blocker = slurm_cluster.sbatch("--gpus=4", "--output=/dev/null", "--wrap", "sleep 300") if setup["blocker"] else None
    if blocker is not None:  # holding the GPUs before the experiments are submitted: none can start ahead of it
        slurm_cluster.wait_for_state(blocker, {"RUNNING"})
    first = start_snakemake(wf, env, tmp_path / "first.log")
    try:
        if moment == "queued":
            wait_for(lambda: len(slurm_cluster.jobs_in(wf)) == 4, 60, "four queued jobs")
            assert {job["state"] for job in slurm_cluster.jobs_in(wf)} == {"PENDING"}
        elif moment in ("running_and_queued", "a_followed_one_fails"):
            wait_for(lambda: sorted(job["state"] for job in slurm_cluster.jobs_in(wf)) == ["PENDING"] * 2 + ["RUNNING"] * 2,
                     60, "two running and two queued jobs")
        else:
            wait_for(lambda: list((wf / "markers").glob("exp_00_*.done")), 90, "the short experiment's marker")
        kill_9(first)
    finally:
        if first.poll() is None:
            kill_9(first)
    assert len(slurm_cluster.jobs_in(wf)) == 4
    rerun = start_snakemake(wf, env, tmp_path / "rerun.log")
    try:
        if blocker is not None:
            wait_for(lambda: "following them" in (tmp_path / "rerun.log").read_text(), 60, "the rerun to start")
            slurm_cluster.run("scancel", blocker)
        expected = 0 if setup.get("fails") is None else 1
        assert rerun.wait(240) == expected, (tmp_path / "rerun.log").read_text()[-3000:]
    finally:
        if rerun.poll() is None:
            kill_9(rerun)
    said = (tmp_path / "rerun.log").read_text()
    followed = 3 if moment == "one_just_finished" else 4
    assert f"sfgen: {followed} experiments still queued/running in Slurm from an earlier run (jobs " in said
    assert_each_ran_once(wf, slurm_cluster, 4, failed=0 if setup.get("fails") is None else 1)
    if setup.get("fails") is not None:
        rows = json.loads(run_cli("status", "--json", cwd=wf, env=env).stdout)["experiments"]
        assert len(rows) == 4
        assert [(row["state"], row["exit_code"]) for row in rows if row["state"] != "done"] == [("failed", 3)]
    notes = [line for path in (wf / "logs").glob("*.log") for line in path.read_text().splitlines() if "following Slurm job" in line]
    assert len(notes) == followed


def test_sfgen_run_after_kill_9_follows_the_live_jobs(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    env = slurm_cluster.run_env(clean_env())
    run = write_sweep(tmp_path, [{"seed": index, "sleep": 12} for index in range(4)])
    argv = [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--runner=slurm", "--out=wf",
            "--slurm_gpus_per_job=2", "--slurm_cpus_per_gpu=1", "--slurm_workdir=job_logs"]
    with open(tmp_path / "first.log", "wb") as out:
        first = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    wf = tmp_path / "wf"
    try:
        wait_for(lambda: len(slurm_cluster.jobs_in(wf)) == 4, 60, "four submitted jobs")
        kill_9(first)  # sfgen run and the Snakemake under it
    finally:
        if first.poll() is None:
            kill_9(first)
    second = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "4 experiments still queued/running in Slurm from an earlier run" in second.stdout + second.stderr
    assert_each_ran_once(wf, slurm_cluster, 4)
    # --slurm_workdir reaches the plugin from the workflow's options: every job's log is kept there
    kept = sorted(path.parent.name for path in (tmp_path / "job_logs").glob("rule_*/*.log"))
    assert len(kept) == 4, kept


def test_a_job_that_dies_before_the_launcher_is_failed_with_the_job_logs_tail(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """Two ways a job ends with nothing of the experiment run: the job's environment breaks before sfgen's
    launcher starts (here a site hook that exits, as a failing module load would), and a job cancelled
    while still queued. Both are failed, not pending, and say why."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent("""
        import os, sys
        if os.environ.get("SLURM_JOB_ID"):
            print("prelude: module load cuda/99 failed: no such module", file=sys.stderr)
            sys.exit(7)
    """))
    env = slurm_cluster.run_env(clean_env(PYTHONPATH=str(hooks)))
    wf = compile_sweep(tmp_path, env, [{"seed": 0}, {"seed": 1}], gpus=1)
    # Both jobs wait behind a blocker holding every GPU; exp_01's is cancelled while queued, then the blocker
    # goes and exp_00's starts (and its environment fails): no race with a job ending.
    blocker = slurm_cluster.sbatch("--gpus=4", "--output=/dev/null", "--wrap", "sleep 300")
    slurm_cluster.wait_for_state(blocker, {"RUNNING"})
    run = start_snakemake(wf, env, tmp_path / "run.log")
    try:
        def both_queued() -> list[dict]:
            jobs = slurm_cluster.jobs_in(wf)
            return jobs if len(jobs) == 2 and all(job["state"] == "PENDING" for job in jobs) else []

        queued = [job for job in wait_for(both_queued, 60, "both jobs queued") if "see_1" in job["rule"]]
        slurm_cluster.run("scancel", queued[0]["id"])
        slurm_cluster.wait_for_state(queued[0]["id"])
        slurm_cluster.run("scancel", blocker)
        assert run.wait(240) != 0
    finally:
        slurm_cluster.run("scancel", blocker)
        if run.poll() is None:
            kill_9(run)
    assert probe_records(tmp_path / "probes") == []
    status = run_cli("status", "--json", cwd=wf, env=env)
    assert status.returncode == 0, status.stderr
    experiments = json.loads(status.stdout)["experiments"]
    assert len(experiments) == 2
    assert [e["state"] for e in experiments] == ["failed", "failed"]
    cancelled, broken = sorted(experiments, key=lambda e: e["rule"] != queued[0]["rule"])
    assert broken["exit_code"] is None and "ended FAILED before the experiment could run" in broken["reason"]
    assert broken["job_log"] and (wf / broken["job_log"]).is_file()
    assert cancelled["slurm_job_id"] == queued[0]["id"] and "ended CANCELLED" in cancelled["reason"]

    assert "prelude: module load cuda/99 failed" in (wf / broken["job_log"]).read_text()
    assert cancelled["job_log"] is None  # it never started: Slurm wrote no log
    for experiment in experiments:  # the records Snakemake's side wrote: typed, and naming their job
        record = json.loads((wf / "markers" / f"{experiment['rule']}.failed").read_text())
        assert not undeclared(record) and record["job"] == f"Slurm job {record['slurm_job_id']}"
    text = run_cli("status", "--failed", cwd=wf, env=env).stdout
    assert f"Slurm job {cancelled['slurm_job_id']} ended CANCELLED before the experiment could run" in text
    assert f"Slurm log: {broken['job_log']}" in text and "| SystemExit: 7" in text  # the job log's tail


def test_a_second_snakemake_on_a_running_slurm_workflow_is_refused_and_leaves_the_first_s_job(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    env = slurm_cluster.run_env(clean_env())
    wf = compile_sweep(tmp_path, env, [{"seed": 0, "sleep": 120}], gpus=1)
    first = start_snakemake(wf, env, tmp_path / "first.log")
    try:
        wait_for(lambda: len(probe_records(tmp_path / "probes")) == 1, 60, "the experiment to run")
        second = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm"], cwd=wf, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0 and "another Snakemake" in second.stderr, second.stderr[-2000:]
        assert [job["state"] for job in slurm_cluster.jobs_in(wf)] == ["RUNNING"]  # nothing submitted or cancelled
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C: Snakemake cancels its job
        try:
            first.wait(60)
        except subprocess.TimeoutExpired:
            kill_9(first)
