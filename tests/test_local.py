"""Local execution through the real CLI and real Snakemake: limits, GPU pinning, failures, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import PROBE, clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake


def write_sweep(project, seeds: int = 6, fail: tuple[int, ...] = (), sleep: float = 0.5, env_vars=None, name="sweep") -> Path:
    params = [{"seed": i, "exit": 3 if i in fail else 0, "sleep": sleep} for i in range(seeds)]
    return project.write_run(
        name,
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList

        RUN_DESCRIPTION = RunDescription("probe_run", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False),
                       env_vars={env_vars!r}),
        ])
        """,
    )


def compile_sweep(project, run: Path, *options: str, env=None) -> subprocess.CompletedProcess:
    result = run_cli("compile", f"--run={run}", "--out=wf", *options, cwd=project.root, env=env or clean_env())
    assert result.returncode == 0, result.stderr
    return result


def max_overlap(records: list[dict], key=lambda r: None) -> dict:
    """The largest number of runs alive at one instant, per ``key``."""
    events = []
    for record in records:
        events += [(record["start"], 1, key(record)), (record["end"], -1, key(record))]
    current: dict = {}
    peak: dict = {}
    for _, delta, group in sorted(events, key=lambda e: (e[0], e[1])):
        current[group] = current.get(group, 0) + delta
        peak[group] = max(peak.get(group, 0), current[group])
    return peak


def test_compile_then_snakemake_runs_everything_once_and_nothing_the_second_time(project):
    run = write_sweep(project, seeds=4, sleep=0.1)
    compile_sweep(project, run, "--pause_between=0")
    wf = project.root / "wf"
    first = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert first.returncode == 0, first.stderr
    assert sorted(experiment_of(r) for r in probe_records(project.probes)) == [f"0{i}_probe_see_{i}_exi_0_sle_0.1" for i in range(4)]
    second = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout + second.stderr
    assert len(probe_records(project.probes)) == 4
    marker = json.loads(next((wf / "markers").glob("*.done")).read_text())
    assert marker["exit_code"] == 0 and marker["sfgen_version"] and marker["host"] and marker["start"] and marker["end"]
    assert (project.root / "train_dir").exists() is False  # the probe writes nothing there; the cwd is the project
    assert probe_records(project.probes)[0]["cwd"] == str(project.root)


def test_limits_gpu_pinning_failure_and_rerun_of_only_the_failed(project):
    run = write_sweep(project, seeds=7, fail=(4,), sleep=1.0)
    compile_sweep(project, run, "--num_gpus=2", "--experiments_per_gpu=2", "--max_parallel=3", "--pause_between=0")
    wf = project.root / "wf"
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode != 0
    records = probe_records(project.probes)
    assert len(records) == 7
    assert all(r["cuda"] in ("0", "1") for r in records)
    assert max(max_overlap(records).values()) == 3
    assert max(max_overlap(records, key=lambda r: r["cuda"]).values()) <= 2
    done = sorted(p.name for p in (wf / "markers").glob("*.done"))
    assert len(done) == 6 and not any("see_4" in name for name in done)
    failure = json.loads(next((wf / "markers").glob("*.failed")).read_text())
    assert failure["exit_code"] == 3 and "see_4" in failure["name"]
    assert "exit 3" in (wf / failure["log"]).read_text()

    rerun = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert rerun.returncode != 0
    again = probe_records(project.probes)[7:]
    assert [experiment_of(r) for r in again] == ["04_probe_see_4_exi_3_sle_1.0"]


def test_parent_cuda_visible_devices_maps_slot_gpus_to_listed_ids(project):
    run = write_sweep(project, seeds=4, sleep=0.5)
    compile_sweep(project, run, "--num_gpus=2", "--experiments_per_gpu=1", "--max_parallel=4", "--pause_between=0")
    result = run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env(CUDA_VISIBLE_DEVICES="2,5"))
    assert result.returncode == 0, result.stderr
    records = probe_records(project.probes)
    assert sorted({r["cuda"] for r in records}) == ["2", "5"]
    assert max(max_overlap(records, key=lambda r: r["cuda"]).values()) == 1


def test_experiments_per_gpu_minus_one_leaves_cuda_visible_devices_alone(project):
    run = write_sweep(project, seeds=3, sleep=0.1)
    compile_sweep(project, run, "--experiments_per_gpu=-1", "--num_gpus=4", "--pause_between=0")
    wf = project.root / "wf"
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env(CUDA_VISIBLE_DEVICES="7,3")).returncode == 0
    assert {r["cuda"] for r in probe_records(project.probes)} == {"7,3"}
    run_cli("reset", "--yes", "probe", cwd=wf)
    for marker in (wf / "markers").glob("*.done"):
        marker.unlink()
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    assert {r["cuda"] for r in probe_records(project.probes)[3:]} == {None}


def test_env_vars_are_set_after_cuda_visible_devices(project):
    run = write_sweep(project, seeds=2, sleep=0, env_vars={"PROBE_X": "a b $(c)", "CUDA_VISIBLE_DEVICES": "9"})
    compile_sweep(project, run, "--experiments_per_gpu=1", "--pause_between=0")
    assert run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env()).returncode == 0
    for record in probe_records(project.probes):
        assert record["env"] == {"PROBE_X": "a b $(c)", "CUDA_VISIBLE_DEVICES": "9"}


def test_python_runs_with_the_interpreter_of_the_run_as_in_sample_factorys_runner(project):
    """SF's local runner replaces a first word starting with "python" by its own interpreter (the sweep's
    virtualenv); so does sfgen, whatever `python3` on PATH is."""
    fake = project.root / "fakebin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho not the sweep interpreter >&2\nexit 7\n")
    (fake / "python3").chmod(0o755)
    run = project.write_run(
        "py_sweep",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid

        RUN_DESCRIPTION = RunDescription("probe_run", experiments=[
            Experiment("probe", "python3 {PROBE} --probe_dir={project.probes}", ParamGrid([("seed", [1, 2])]).generate_params()),
        ])
        """,
    )
    env = {**clean_env(), "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    compile_sweep(project, run, "--pause_between=0", env=env)
    result = run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=env)
    assert result.returncode == 0, result.stderr
    records = probe_records(project.probes)
    assert len(records) == 2 and {r["executable"] for r in records} == {sys.executable}
    for marker in (project.root / "wf" / "markers").glob("*.done"):
        recorded = json.loads(marker.read_text())
        assert recorded["argv"][0] == sys.executable and recorded["cmd"].startswith("python3 ")


def test_pause_between_spaces_starts(project):
    run = write_sweep(project, seeds=3, sleep=0)
    compile_sweep(project, run, "--max_parallel=3", "--pause_between=1.5")
    assert run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env()).returncode == 0
    starts = [r["start"] for r in probe_records(project.probes)]
    assert all(b - a >= 1.45 for a, b in zip(starts, starts[1:])), starts


def test_config_overrides_compiled_options_at_run_time(project):
    run = write_sweep(project, seeds=3, sleep=0.5)
    compile_sweep(project, run, "--max_parallel=3", "--pause_between=0")
    result = run_snakemake("--profile", "profiles/local", "--config", "max_parallel=1", cwd=project.root / "wf", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert max(max_overlap(probe_records(project.probes)).values()) == 1


def test_one_rule_per_experiment_and_running_a_single_rule(project):
    run = write_sweep(project, seeds=3, sleep=0)
    compile_sweep(project, run, "--pause_between=0")
    wf = project.root / "wf"
    rules = run_snakemake("--list-rules", cwd=wf).stdout.split()
    assert rules == ["all", "exp_00_probe_see_0_exi_0_sle_0", "exp_01_probe_see_1_exi_0_sle_0", "exp_02_probe_see_2_exi_0_sle_0"]
    assert run_snakemake("--profile", "profiles/local", "exp_01_probe_see_1_exi_0_sle_0", cwd=wf, env=clean_env()).returncode == 0
    assert [experiment_of(r) for r in probe_records(project.probes)] == ["01_probe_see_1_exi_0_sle_0"]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _alive(pids) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("how", ["sigint-to-sfgen-run", "sigterm-to-sfgen-run", "sigint-to-snakemake", "sigterm-to-snakemake"])
def test_interrupt_stops_every_experiment_tree_and_the_rerun_resumes(project, how):
    params = [{"seed": i, "sleep": 0.2 if i < 2 else 120, "spawn": 1} for i in range(5)]
    run = project.write_run(
        "sweep",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("probe_run", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
        ])
        """,
    )
    out = project.root / "wf"
    if how.endswith("to-snakemake"):
        compile_sweep(project, run, "--max_parallel=5", "--pause_between=0")
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/local"], cwd=out, env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--out=wf", "--max_parallel=5", "--pause_between=0"],
            cwd=project.root, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    # all five start; the two short ones finish, the three long ones (with a child each) run
    def long_runs():
        return [r for r in probe_records(project.probes) if "--sleep=120" in r["argv"]]

    _wait_for(lambda: len(long_runs()) == 3 and len(probe_records(project.probes)) == 5)
    short = [r["child_pid"] for r in probe_records(project.probes) if "--sleep=0.2" in r["argv"]]
    pids = [r["pid"] for r in long_runs()] + [r["child_pid"] for r in long_runs()]
    assert len(_alive(pids)) == 6
    _wait_for(lambda: not _alive(short), timeout=10)  # what a finished experiment leaves behind is stopped
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT if how.startswith("sigint") else signal.SIGTERM)
    _wait_for(lambda: not _alive(pids), timeout=15)
    assert time.monotonic() - sent < 10
    assert proc.wait(timeout=30) != 0
    done = {p.name for p in (out / "markers").glob("*.done")}
    assert len(done) == 2

    # the rerun starts exactly the three unfinished ones
    before = len(probe_records(project.probes))
    rerun = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/local"], cwd=out, env=clean_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(probe_records(project.probes)) == before + 3)
    started = sorted(experiment_of(r) for r in probe_records(project.probes)[before:])
    assert started == sorted(experiment_of(r) for r in long_runs()[:3])
    rerun.send_signal(signal.SIGTERM)
    rerun.wait(timeout=30)


def test_max_parallel_above_snakemakes_thread_pool_runs_that_many(project):
    run = write_sweep(project, seeds=8, sleep=2.0)
    compile_sweep(project, run, "--max_parallel=8", "--pause_between=0")
    result = run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert max(max_overlap(probe_records(project.probes)).values()) == 8


def test_sample_factorys_command_line_runs_reports_failures_and_resumes(project):
    """`python -m sfgen.run` with Sample Factory's options: exit non-zero naming the failed experiment and its
    log; the same command again runs only that one."""
    run = write_sweep(project, seeds=3, fail=(1,), sleep=0)
    command = [
        sys.executable, "-m", "sfgen.run", f"--run={run}", "--runner=processes", "--train_dir=./td",
        "--experiment_suffix=x", "--num_gpus=1", "--experiments_per_gpu=2", "--max_parallel=2",
        "--pause_between=0", "--slurm_print_only=False", "--ngc_print_only=False",
    ]
    first = subprocess.run(command, cwd=project.root, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode != 0
    assert "FAILED 01_probe_see_1_exi_3_sle_0 (exit 3); log: " in first.stdout
    assert str(project.root / "logs" / "exp_01_probe_see_1_exi_3_sle_0.log") in first.stdout
    assert {r["cuda"] for r in probe_records(project.probes)} == {"0"}
    assert all("--train_dir=./td/probe_run/probe_x" in r["argv"] for r in probe_records(project.probes))
    again = subprocess.run(command, cwd=project.root, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode != 0
    assert [experiment_of(r) for r in probe_records(project.probes)[3:]] == ["01_probe_see_1_exi_3_sle_0"]
