"""``sfgen cancel`` from another terminal: a whole sweep, or some experiments, locally and on the test Slurm
cluster; nothing keeps running, nothing is marked done, the next run redoes what was stopped."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import alive, clean_env, experiment_of, probe_cmd, probe_records, run_cli, start_snakemake, wait_for

from tests import slurm_cluster as cluster_module
from tests.slurm_cluster import SlurmCluster

slurm_cluster = cluster_module.slurm_cluster  # the session fixture


def compile_sleepers(project, count: int, *options: str) -> Path:
    run = project.write_run("sleepers", f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("sleepers", experiments=[
            Experiment("e", {probe_cmd(project.probes, "--sleep=300", "--spawn=1")!r},
                       ParamList([{{"seed": i}} for i in range({count})]).generate_params()),
        ])
    """)
    result = run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", f"--max_parallel={count}", *options,
                     cwd=project.root)
    assert result.returncode == 0, result.stderr
    return project.root / "wf"


def states(wf: Path, env: dict[str, str] | None = None) -> dict[str, dict]:
    document = json.loads(run_cli("status", "--json", cwd=wf, env=env).stdout)
    return {row["name"]: row for row in document["experiments"]}


def pids_of(records: list[dict]) -> list[int]:
    return [pid for record in records for pid in (record["pid"], record["child_pid"])]


def test_cancel_without_patterns_stops_the_running_sweep_like_ctrl_c(project) -> None:
    wf = compile_sleepers(project, 3)
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "run.log", env=clean_env())
    try:
        records = wait_for(lambda: len(probe_records(project.probes)) == 3 and probe_records(project.probes),
                           what="three experiments running")
        result = run_cli("cancel", cwd=wf, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"sent Ctrl-C (SIGINT) to Snakemake (pid {proc.pid})" in result.stdout
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(records) == 3
    wait_for(lambda: alive(pids_of(records)) == [], timeout=30, what="the experiments and their children to end")
    assert list((wf / "markers").glob("*.done")) == []
    rows = states(wf)
    assert len(rows) == 3 and {row["state"] for row in rows.values()} <= {"failed", "pending"}
    assert run_cli("cancel", cwd=wf).returncode == 1  # nothing left to cancel: said, exit 1


def test_cancel_with_a_pattern_stops_just_those_experiments(project) -> None:
    wf = compile_sleepers(project, 2)
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "run.log", env=clean_env())
    try:
        records = wait_for(lambda: len(probe_records(project.probes)) == 2 and probe_records(project.probes),
                           what="two experiments running")
        by_name = {next(a for a in r["argv"] if a.startswith("--experiment=")).split("=", 1)[1]: r for r in records}
        assert len(by_name) == 2
        target = sorted(by_name)[0]
        result = run_cli("cancel", target, cwd=wf)
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: alive(pids_of([by_name[target]])) == [], timeout=30, what="the cancelled experiment to end")
        rows = wait_for(lambda: (rows := states(wf))[target]["state"] == "failed" and rows, what="it to count failed")
        failure = json.loads((wf / rows[target]["marker"].replace(".done", ".failed")).read_text())
        assert failure["interrupted"] is True
        other = sorted(by_name)[1]
        assert rows[other]["state"] == "running" and alive(pids_of([by_name[other]])) == pids_of([by_name[other]])
        assert run_cli("cancel", cwd=wf).returncode == 0  # then the rest, with Snakemake
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(lambda: alive(pids_of(records)) == [], timeout=30, what="every experiment to end")


def test_cancelling_many_asks_first_and_refuses_without_a_terminal(project) -> None:
    wf = compile_sleepers(project, 6)
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "run.log", env=clean_env())
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 6, what="six experiments running")
        result = run_cli("cancel", "e_see", cwd=wf)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "sfgen: error: refusing to cancel 6 experiments without confirmation (stdin is not a terminal): pass --yes"
        ]
        assert proc.poll() is None and len(states(wf)) == 6
        assert run_cli("cancel", "--yes", "e_see", cwd=wf).returncode == 0
        assert proc.wait(timeout=60) != 0  # every experiment failed: the run ends
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cancel_on_slurm_scancels_one_job_then_stops_the_run(slurm_cluster: SlurmCluster, project) -> None:
    env = slurm_cluster.run_env(clean_env())
    wf = compile_sleepers(project, 2, "--slurm_gpus_per_job=1", "--slurm_cpus_per_gpu=1")
    proc = start_snakemake("--profile", "profiles/slurm", cwd=wf, log=project.root / "run.log", env=env)
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 2, timeout=90, what="both experiments running in Slurm")
        rows = states(wf, env)
        assert len(rows) == 2
        first, second = sorted(rows)
        result = run_cli("cancel", first, cwd=wf, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        state = slurm_cluster.wait_for_state(rows[first]["slurm_job_id"], timeout=60)
        assert state == "CANCELLED"
        assert slurm_cluster.job_state(rows[second]["slurm_job_id"]) == "RUNNING"
        assert run_cli("cancel", cwd=wf, env=env, timeout=180).returncode == 0
        assert proc.wait(timeout=120) != 0
        assert slurm_cluster.wait_for_state(rows[second]["slurm_job_id"], timeout=60) == "CANCELLED"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list((wf / "markers").glob("*.done")) == []
    records = probe_records(project.probes)
    assert len(records) == 2
    wait_for(lambda: alive(pids_of(records)) == [], timeout=30, what="the experiments to end with their jobs")


def test_a_cancelled_experiment_is_not_run_again_by_the_runs_time_limit_retries(slurm_cluster: SlurmCluster, project) -> None:
    """With slurm_runtime, Snakemake retries what Slurm stopped (a time limit); an experiment stopped with
    sfgen cancel, running or still queued, stays stopped: its retry ends at once without running it."""
    env = slurm_cluster.run_env(clean_env())
    wf = compile_sleepers(project, 2, "--slurm_gpus_per_job=4", "--slurm_cpus_per_gpu=1", "--slurm_runtime=10",
                          "--slurm_timeout_retries=1")  # one job holds all four GPUs: the other waits behind it
    log = project.root / "run.log"
    proc = start_snakemake("--profile", "profiles/slurm", cwd=wf, log=log, env=env)
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 1, timeout=90, what="one experiment running")
        rows = states(wf, env)
        running = experiment_of(probe_records(project.probes)[0])
        queued = next(name for name in rows if name != running)
        assert slurm_cluster.job_state(rows[queued]["slurm_job_id"]) == "PENDING"
        for name in (queued, running):
            assert run_cli("cancel", name, cwd=wf, env=env).returncode == 0
            assert slurm_cluster.wait_for_state(rows[name]["slurm_job_id"], timeout=60) == "CANCELLED"
        assert proc.wait(timeout=240) != 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(slurm_cluster.jobs_in(wf)) == 4  # Snakemake retried each once; each retry ended at once
    assert [experiment_of(record) for record in probe_records(project.probes)] == [running]  # never again
    after = states(wf, env)
    assert after[queued]["state"] == "failed" and after[queued]["exit_code"] is None
    assert f"cancelled with sfgen cancel before it started (Slurm job {rows[queued]['slurm_job_id']})" in after[queued]["reason"]
    stopped = json.loads((wf / "markers" / f"{after[running]['rule']}.failed").read_text())
    assert after[running]["state"] == "failed" and stopped["interrupted"] is True
    assert log.read_text().count("cancelled with sfgen cancel earlier in this run: not run again") == 2
