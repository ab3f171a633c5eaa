"""Hostile values, unsafe names, crashes, concurrent runs and corrupt markers, through the real CLI and
real Snakemake on the local profile (the Slurm and NGC paths have their own tests)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from conftest import (
    alive, clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake, start_snakemake, still_running,
    wait_for,
)

HOSTILE = [
    "two words", "it's", 'say "hi"', "$(touch pwned1)", "`touch pwned2`", "a;touch pwned3", "{x}", "{{x}}", "%s",
    "tab\there", "back\\slash", "ends with \\", "naïve ✓ 日本", "new\nline", "'''", '"""', "-- --x=1", "",
]


def _sweep(project, values, env_vars=None, name="hostile"):
    params = [{"v": v} for v in values]
    return project.write_run(
        name,
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("hostile", experiments=[
            Experiment("e", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False),
                       env_vars={env_vars!r}),
        ])
        """,
    )


def test_hostile_values_reach_the_program_literally_and_nothing_is_executed(project):
    env_vars = {"PROBE_HOSTILE": "$(touch pwned4); `touch pwned5` 'q' \"d\" \\ \n{x}"}
    run = _sweep(project, HOSTILE, env_vars)
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--max_parallel=4", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    records = probe_records(project.probes)
    assert len(records) == len(HOSTILE)
    received = sorted(arg for r in records for arg in r["argv"] if arg.startswith("--v="))
    assert received == sorted(f"--v={v}" for v in HOSTILE)
    assert all(r["env"]["PROBE_HOSTILE"] == env_vars["PROBE_HOSTILE"] for r in records)
    assert not list(project.root.rglob("pwned*")) and not list(wf.rglob("pwned*"))
    assert len(list((wf / "markers").glob("*.done"))) == len(HOSTILE)


def test_names_that_collide_when_made_safe_get_distinct_rules_and_markers(project):
    run = _sweep(project, ["0.5", "0_5", "0-5"], name="collide")
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    rules = run_snakemake("--list-rules", cwd=wf).stdout.split()[1:]
    assert len(set(rules)) == 3 and rules[0] == "exp_00_e_v_0_5"
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    assert len(list((wf / "markers").glob("*.done"))) == 3 and len(probe_records(project.probes)) == 3


def test_a_name_over_255_bytes_is_refused(project):
    run = _sweep(project, ["x" * 300], name="long")
    result = run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root)
    assert result.returncode == 1 and "over 255 bytes" in result.stderr and not (project.root / "wf").exists()


def _start(wf: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/local"], cwd=wf, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _long_sweep(project, sleeps):
    params = [{"seed": i, "sleep": s} for i, s in enumerate(sleeps)]
    run = project.write_run(
        "long",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("long", experiments=[
            Experiment("e", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False))])
        """,
    )
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--max_parallel=4", cwd=project.root).returncode == 0
    return project.root / "wf"


def test_kill_9_of_snakemake_stops_its_experiments_and_the_next_run_redoes_them(project):
    wf = _long_sweep(project, [0.1, 300, 300])
    first = _start(wf)
    wait_for(lambda: len(probe_records(project.probes)) == 3, what="the three experiments to start")
    running = [r["pid"] for r in probe_records(project.probes) if "--sleep=300" in r["argv"]]
    assert len(running) == 2
    wait_for(lambda: len(list((wf / "markers").glob("*.done"))) == 1, what="the short experiment's marker")
    first.kill()
    first.wait()
    wait_for(lambda: not alive(running), 15, what="the launchers to stop their experiments after Snakemake died")
    assert len(list((wf / "markers").glob("*.done"))) == 1

    second = _start(wf)  # starts (no stale lock) and runs exactly the two unfinished ones
    wait_for(lambda: len(probe_records(project.probes)) == 5, what="the next run to start the two unfinished ones")
    assert sorted(experiment_of(r) for r in probe_records(project.probes)[3:]) == ["01_e_see_1_sle_300", "02_e_see_2_sle_300"]
    second.send_signal(signal.SIGINT)
    second.wait(timeout=60)


def test_a_second_snakemake_on_a_running_workflow_is_refused(project):
    wf = _long_sweep(project, [300])
    first = _start(wf)
    wait_for(lambda: len(probe_records(project.probes)) == 1, what="the experiment to start")
    second = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert second.returncode != 0
    assert "another Snakemake" in second.stdout + second.stderr
    assert first.poll() is None and len(probe_records(project.probes)) == 1
    first.send_signal(signal.SIGINT)
    first.wait(timeout=60)


def test_two_workflows_sharing_a_slot_dir_share_the_gpus(project, tmp_path):
    slots = tmp_path / "shared-slots"
    for name in ("a", "b"):
        params = [{"seed": i, "sleep": 1} for i in range(3)]
        run = project.write_run(
            name,
            f"""
            from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
            RUN_DESCRIPTION = RunDescription({name!r}, experiments=[
                Experiment("e", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False))])
            """,
        )
        assert run_cli("compile", f"--run={run}", f"--out=wf_{name}", "--num_gpus=1", "--experiments_per_gpu=1",
                       "--max_parallel=3", "--pause_between=0", f"--slot_dir={slots}", cwd=project.root).returncode == 0
    procs = [_start(project.root / f"wf_{name}") for name in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stdout.read()
    records = probe_records(project.probes)
    assert len(records) == 6 and {r["cuda"] for r in records} == {"0"}
    spans = sorted((r["start"], r["end"]) for r in records)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), "two experiments shared the one slot"


def _files(wf: Path) -> dict[str, bytes]:
    """Every file of the workflow dir and its contents, but Snakemake's own state dir: a dry run writes
    .snakemake/iocache/latest.pkl (and its empty subdirectories), --list-rules .snakemake/log/DATE.snakemake.log."""
    return {str(p.relative_to(wf)): p.read_bytes() for p in sorted(wf.rglob("*"))
            if p.is_file() and p.relative_to(wf).parts[0] != ".snakemake"}


def _nothing_to_do(wf: Path) -> bool:
    dry = run_snakemake("--profile", "profiles/local", "-n", cwd=wf, env=clean_env())
    return dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr


def test_a_corrupt_marker_counts_as_not_done_with_a_warning(project):
    wf = _long_sweep(project, [0, 0])
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0
    markers = sorted((wf / "markers").glob("*.done"))
    assert len(markers) == 2
    marker = markers[0]
    marker.write_text('{"name": "trunc')

    # looking changes no file: the corrupt marker is set aside by a job of the run, not while parsing
    before = _files(wf)
    dry = run_snakemake("-n", cwd=wf, env=clean_env())
    assert dry.returncode == 0 and f"_set_aside_{marker.stem}" in dry.stdout and marker.stem in dry.stdout
    listed = run_snakemake("--list-rules", cwd=wf, env=clean_env())
    assert listed.returncode == 0 and f"_set_aside_{marker.stem}" in listed.stdout.split()
    assert _files(wf) == before and "not a valid completion marker" not in dry.stderr + listed.stderr

    rerun = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert rerun.returncode == 0
    assert "not a valid completion marker" in rerun.stderr
    assert [experiment_of(r) for r in probe_records(project.probes)[2:]] == ["00_e_see_0_sle_0"]
    assert json.loads(marker.read_text())["exit_code"] == 0
    # the corrupt one is kept aside, as the warning says, not deleted
    corrupt = marker.with_name(marker.name + ".corrupt")
    assert corrupt.read_text() == '{"name": "trunc'
    assert f"{marker} is not a valid completion marker" in rerun.stderr and "kept as .corrupt" in rerun.stderr
    assert sorted(p.name for p in (wf / "markers").iterdir()) == sorted([*(m.name for m in markers), corrupt.name])
    assert _nothing_to_do(wf)  # Snakemake recorded the kept name as the experiment's input: it still is one

    # corrupt again, without Snakemake's records (.snakemake/ gone, as in a copied workflow dir: no "set of
    # input files has changed" reruns it): the first one kept stays as it is, the second is kept beside it,
    # named by its mtime
    shutil.rmtree(wf / ".snakemake")
    marker.write_text("garbage")
    mtime_ns = marker.stat().st_mtime_ns
    again = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert again.returncode == 0
    assert [experiment_of(r) for r in probe_records(project.probes)[3:]] == ["00_e_see_0_sle_0"]
    assert json.loads(marker.read_text())["exit_code"] == 0
    second = marker.with_name(f"{marker.name}.corrupt-{mtime_ns}")
    assert corrupt.read_text() == '{"name": "trunc' and second.read_text() == "garbage"
    assert f"{marker} is not a valid completion marker" in again.stderr and f"kept as .corrupt-{mtime_ns}" in again.stderr
    assert _nothing_to_do(wf)


def test_an_experiment_that_outlived_its_launcher_is_waited_for_never_started_twice(project):
    """README: an experiment process that still holds its lock (its launcher was killed, and it ignored the
    SIGTERM a killed launcher leaves it) is waited for, never started twice on a GPU slot; the run after it
    ends runs it again (it wrote no marker)."""
    release = project.root / "release"
    run = project.write_run(
        "orphan",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("orphan", experiments=[
            Experiment("e", {probe_cmd(project.probes, f"--hold={release}", "--ignore_signals=1")!r},
                       ParamList([{{"seed": 0}}]).generate_params())])
        """,
    )
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--num_gpus=1", "--experiments_per_gpu=1",
                   cwd=project.root).returncode == 0
    wf = project.root / "wf"
    first = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "first.log", env=clean_env())
    second = None
    try:
        orphan = wait_for(lambda: still_running(first, project.root / "first.log") and probe_records(project.probes),
                          what="the experiment to start")[0]
        launcher = psutil.Process(orphan["pid"]).parent()
        assert "launcher.py" in " ".join(launcher.cmdline())
        launcher.kill()  # the launcher dies, its experiment goes on
        assert first.wait(timeout=60) != 0
        assert alive([orphan["pid"]]) == [orphan["pid"]]
        status = json.loads(run_cli("status", "--json", cwd=wf).stdout)
        assert [row["state"] for row in status["experiments"]] == ["running"]  # it holds its lock

        log = project.root / "second.log"
        second = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())
        wait_for(lambda: still_running(second, log)
                 and "an earlier run of this experiment is still running (on " in log.read_text(),
                 what="the next run's launcher to wait for the orphan")
        assert len(probe_records(project.probes)) == 1 and second.poll() is None
    finally:
        release.touch()  # the orphan ends
    assert second.wait(timeout=60) == 0
    records = probe_records(project.probes)
    assert len(records) == 2
    assert records[1]["start"] >= records[0]["end"], "the experiment ran twice at once"
    assert [r["cuda"] for r in records] == ["0", "0"]
    assert json.loads((wf / "markers" / "exp_00_e_see_0.done").read_text())["pid"] == records[1]["pid"]
