"""Local execution through the real CLI and real Snakemake: limits, GPU pinning, failures, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import pytest

from conftest import (
    PROBE, alive, clean_env, experiment_of, option_of, probe_cmd, probe_records, run_cli, run_snakemake, start_logged,
    start_snakemake, still_running, undeclared, wait_for,
)


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
    assert not undeclared(marker)
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
    failures = list((wf / "markers").glob("*.failed"))
    assert len(failures) == 1
    failure = json.loads(failures[0].read_text())
    assert failure["exit_code"] == 3 and "see_4" in failure["name"]
    assert failure["interrupted"] is False  # it failed on its own
    assert not undeclared(failure)
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
    assert len(records) == 4
    assert sorted({r["cuda"] for r in records}) == ["2", "5"]
    assert max(max_overlap(records, key=lambda r: r["cuda"]).values()) == 1


def test_experiments_per_gpu_minus_one_leaves_cuda_visible_devices_alone(project):
    run = write_sweep(project, seeds=3, sleep=0.1)
    compile_sweep(project, run, "--experiments_per_gpu=-1", "--num_gpus=4", "--pause_between=0")
    wf = project.root / "wf"
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env(CUDA_VISIBLE_DEVICES="7,3")).returncode == 0
    records = probe_records(project.probes)
    assert len(records) == 3 and {r["cuda"] for r in records} == {"7,3"}
    reset = run_cli("reset", "--yes", "probe", cwd=wf)
    assert reset.returncode == 0 and "reset 3 experiments" in reset.stdout, reset.stdout + reset.stderr
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    again = probe_records(project.probes)[3:]
    assert len(again) == 3 and {r["cuda"] for r in again} == {None}


def test_env_vars_are_set_after_cuda_visible_devices(project):
    run = write_sweep(project, seeds=2, sleep=0, env_vars={"PROBE_X": "a b $(c)", "CUDA_VISIBLE_DEVICES": "9"})
    compile_sweep(project, run, "--experiments_per_gpu=1", "--pause_between=0")
    assert run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env()).returncode == 0
    records = probe_records(project.probes)
    assert len(records) == 2
    for record in records:
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
    markers = list((project.root / "wf" / "markers").glob("*.done"))
    assert len(markers) == 2
    for marker in markers:
        recorded = json.loads(marker.read_text())
        assert recorded["argv"][0] == sys.executable and recorded["cmd"].startswith("python3 ")


def test_pause_between_spaces_starts(project):
    run = write_sweep(project, seeds=3, sleep=0)
    compile_sweep(project, run, "--max_parallel=3", "--pause_between=1.5")
    assert run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env()).returncode == 0
    starts = [r["start"] for r in probe_records(project.probes)]
    assert len(starts) == 3
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
    log = project.root / "run.log"
    if how.endswith("to-snakemake"):
        compile_sweep(project, run, "--max_parallel=5", "--pause_between=0")
        proc = start_snakemake("--profile", "profiles/local", cwd=out, log=log, env=clean_env())
    else:
        proc = start_logged(
            [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--out=wf", "--max_parallel=5", "--pause_between=0"],
            project.root, log, clean_env(),
        )
    # all five start; the two short ones finish, the three long ones (with a child each) run
    def long_runs():
        return [r for r in probe_records(project.probes) if "--sleep=120" in r["argv"]]

    wait_for(lambda: still_running(proc, log) and len(long_runs()) == 3 and len(probe_records(project.probes)) == 5,
             what="all five experiments to start")
    short = [r["child_pid"] for r in probe_records(project.probes) if "--sleep=0.2" in r["argv"]]
    assert len(short) == 2
    pids = [r["pid"] for r in long_runs()] + [r["child_pid"] for r in long_runs()]
    assert len(alive(pids)) == 6
    wait_for(lambda: not alive(short), timeout=10, what="the children the two short experiments left behind to be stopped")
    # Snakemake has seen the two short ones finish (test_an_interrupt_just_after_an_experiment_finished_keeps_its_marker
    # covers an interrupt while a launcher is ending); sfgen run keeps Snakemake's output in logs/snakemake-*.log
    def snakemake_output() -> str:
        return log.read_text() + "".join(path.read_text() for path in out.glob("logs/snakemake-*.log"))

    wait_for(lambda: "2 of 6 steps" in snakemake_output(), timeout=30, what="Snakemake to report 2 of 6 steps done")
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT if how.startswith("sigint") else signal.SIGTERM)
    wait_for(lambda: not alive(pids), timeout=15, what="every process of the interrupted experiments to end")
    assert time.monotonic() - sent < 10
    assert proc.wait(timeout=30) != 0
    done = {p.name for p in (out / "markers").glob("*.done")}
    assert len(done) == 2

    # the rerun starts exactly the three unfinished ones
    before = len(probe_records(project.probes))
    rerun = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/local"], cwd=out, env=clean_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(probe_records(project.probes)) == before + 3, what="the rerun to start the three unfinished ones")
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
    records = probe_records(project.probes)
    assert len(records) == 3 and {r["cuda"] for r in records} == {"0"}
    assert all("--train_dir=./td/probe_run/probe_x" in r["argv"] for r in records)
    again = subprocess.run(command, cwd=project.root, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode != 0
    assert [experiment_of(r) for r in probe_records(project.probes)[3:]] == ["01_probe_see_1_exi_3_sle_0"]


def _experiments(project, name: str, *experiments: tuple[str, str, list[dict]]) -> Path:
    """A run of several experiments, each (name, command, params)."""
    lines = ",\n    ".join(
        f"Experiment({exp!r}, {cmd!r}, ParamList({params!r}).generate_params(randomize=False))" for exp, cmd, params in experiments
    )
    return project.write_run(
        name,
        "from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList\n"
        f"RUN_DESCRIPTION = RunDescription({name!r}, experiments=[\n    {lines},\n])\n",
    )


def test_an_edited_command_leaves_finished_experiments_done_and_compile_names_them(project):
    """README: recompiling with an edited command leaves finished experiments done, and compile says which
    ones changed; `sfgen reset NAME` redoes one, with the new command."""
    seeds = [{"seed": 0}, {"seed": 1}]
    run = _experiments(project, "edit", ("a", probe_cmd(project.probes), seeds), ("b", probe_cmd(project.probes), seeds[:1]))
    compile_sweep(project, run, "--pause_between=0")
    wf = project.root / "wf"
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    assert sorted(experiment_of(r) for r in probe_records(project.probes)) == ["00_a_see_0", "00_b_see_0", "01_a_see_1"]

    # the user edits b's command and recompiles
    _experiments(project, "edit", ("a", probe_cmd(project.probes), seeds), ("b", probe_cmd(project.probes, "--lr=0.5"), seeds[:1]))
    recompiled = compile_sweep(project, run, "--pause_between=0")
    assert "1 finished experiments now have a different command (00_b_see_0); they stay done" in recompiled.stdout
    assert "sfgen reset" in recompiled.stdout
    rerun = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr
    assert len(probe_records(project.probes)) == 3  # nothing ran again
    assert "--lr=0.5" not in json.loads((wf / "markers" / "exp_00_b_see_0.done").read_text())["cmd"]

    # the README's way to redo it: reset, and the next run uses the edited command
    assert run_cli("reset", "00_b_see_0", cwd=wf).returncode == 0
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    again = probe_records(project.probes)[3:]
    assert len(again) == 1 and experiment_of(again[0]) == "00_b_see_0" and "--lr=0.5" in again[0]["argv"]
    assert "different command" not in compile_sweep(project, run, "--pause_between=0").stdout


def test_profiles_are_written_only_where_missing_so_a_users_edits_stay(project):
    run = write_sweep(project, seeds=1, sleep=0)
    first = compile_sweep(project, run, "--pause_between=0")
    wf = project.root / "wf"
    assert sorted(p.name for p in (wf / "profiles").iterdir()) == ["local", "ngc", "slurm"]
    local = wf / "profiles" / "local" / "config.yaml"
    packaged = {name: (files("sfgen") / "profiles" / name / "config.yaml").read_text() for name in ("local", "ngc", "slurm")}
    assert local.read_text() == packaged["local"], first.stdout
    edited = packaged["local"] + "printshellcmds: true  # my edit: show the launcher's command line\n"
    local.write_text(edited)
    shutil.rmtree(wf / "profiles" / "ngc")

    compile_sweep(project, run, "--pause_between=0")
    assert local.read_text() == edited  # kept
    assert (wf / "profiles" / "ngc" / "config.yaml").read_text() == packaged["ngc"]  # missing: written again
    assert (wf / "profiles" / "slurm" / "config.yaml").read_text() == packaged["slurm"]
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "launcher.py" in result.stdout + result.stderr  # the run used the edited profile


def test_an_experiment_ignoring_sigint_and_sigterm_is_killed_after_kill_timeout(project):
    """README: an interrupt sends SIGINT/SIGTERM first and SIGKILL after kill_timeout seconds; the failure
    record says whether the attempt was interrupted."""
    never = project.root / "never"
    run = _experiments(
        project, "stubborn",
        ("fails", probe_cmd(project.probes), [{"exit": 3}]),
        ("stubborn", probe_cmd(project.probes, "--ignore_signals=1", f"--hold={never}"), [{"seed": 0}]),
    )
    compile_sweep(project, run, "--kill_timeout=3", "--max_parallel=2", "--pause_between=0")
    wf = project.root / "wf"
    log = project.root / "snakemake.log"
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())
    try:
        failed_on_its_own = wf / "markers" / "exp_00_fails_exi_3.failed"
        wait_for(lambda: still_running(proc, log) and failed_on_its_own.exists() and len(probe_records(project.probes)) == 2,
                 what="both experiments to run")
        wait_for(lambda: "Error in rule exp_00_fails_exi_3" in log.read_text(), what="Snakemake to see the failure")
        pid = next(r["pid"] for r in probe_records(project.probes) if option_of(r, "ignore_signals"))

        def signals() -> list[str]:
            return next(r for r in probe_records(project.probes) if r["pid"] == pid)["signals"]

        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "SIGTERM" in signals(), timeout=10, what="the experiment to get SIGTERM (which it ignores)")
        wait_for(lambda: not alive([pid]), timeout=30, what="the experiment to be killed")
        took = time.monotonic() - sent
    finally:
        never.touch()
    assert 2.5 <= took < 13, f"killed {took:.1f} s after the interrupt, with kill_timeout=3"
    assert signals() == ["SIGTERM"]
    assert proc.wait(timeout=60) != 0
    assert not list((wf / "markers").glob("*.done"))
    stopped = json.loads((wf / "markers" / "exp_00_stubborn_see_0.failed").read_text())
    assert stopped["exit_code"] == 128 + signal.SIGKILL and stopped["interrupted"] is True
    own = json.loads(failed_on_its_own.read_text())
    assert own["exit_code"] == 3 and own["interrupted"] is False
    assert f"exit {128 + signal.SIGKILL}" in (wf / "logs" / "exp_00_stubborn_see_0.log").read_text()


def test_gpu_choice_most_free_slots_ties_to_the_lower_id(project):
    """As in Sample Factory: each start takes the GPU with the most free slots, ties to the lower id. Another
    workflow on the same slot dir holds one slot of GPU 0, so the next starts go to 1, 2, 0, 1 (a policy
    taking the lowest GPU with a free slot would give 0, 1, 1, 2; round robin 0, 1, 2, 0)."""
    slots, release = project.root / "shared-slots", project.root / "release"
    held = probe_cmd(project.probes, f"--hold={release}")
    procs = []
    try:
        for name, count in (("other", 1), ("sweep", 4)):
            run = _experiments(project, name, ("e", held, [{"seed": i} for i in range(count)]))
            compile_sweep(project, run, f"--out=wf_{name}", "--num_gpus=3", "--experiments_per_gpu=2", "--max_parallel=4",
                          "--pause_between=1", f"--slot_dir={slots}")
        logs = [project.root / "other.log", project.root / "sweep.log"]
        procs.append(start_snakemake("--profile", "profiles/local", cwd=project.root / "wf_other", log=logs[0], env=clean_env()))
        wait_for(lambda: still_running(procs[0], logs[0]) and len(probe_records(project.probes)) == 1,
                 what="the other workflow's experiment to start")
        procs.append(start_snakemake("--profile", "profiles/local", cwd=project.root / "wf_sweep", log=logs[1], env=clean_env()))
        wait_for(lambda: still_running(procs[1], logs[1]) and len(probe_records(project.probes)) == 5,
                 what="the sweep's four experiments to start")
    finally:
        release.touch()
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    records = probe_records(project.probes)  # in start order, spaced by pause_between
    assert len(records) == 5
    assert [r["cuda"] for r in records] == ["0", "1", "2", "0", "1"]


def test_an_interrupt_just_after_an_experiment_finished_keeps_its_marker(project):
    """README: a marker exists only whole and only after exit 0, and a finished experiment is never rerun by
    itself; an interrupt stops the experiments still running and writes no marker for them. Here one
    experiment finishes while another runs, and Snakemake gets SIGTERM the moment the marker appears. The
    moment is a race, hit in most tries while the bug lasts: five tries, each must keep the marker."""
    run = _experiments(
        project, "race",
        ("quick", probe_cmd(project.probes), [{"seed": 0}]),
        ("long", probe_cmd(project.probes, "--sleep=120"), [{"seed": 0}]),
    )
    compile_sweep(project, run, "--max_parallel=2", "--pause_between=0")
    wf = project.root / "wf"
    marker = wf / "markers" / "exp_00_quick_see_0.done"
    kept = []
    for attempt in range(5):
        if marker.exists():
            assert run_cli("reset", "00_quick_see_0", cwd=wf).returncode == 0
        proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / f"run{attempt}.log", env=clean_env())
        try:
            wait_for(marker.exists, timeout=60, interval=0.001, what="the quick experiment's marker")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        kept.append(marker.exists())
        if not kept[-1]:
            break
    assert kept == [True] * 5, f"the finished experiment's marker was deleted (kept: {kept})"
