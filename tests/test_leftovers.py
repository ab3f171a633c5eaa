"""Nothing an experiment starts outlives it, a launcher that dies takes its experiment along, and every way a
launcher can fail is recorded (issue 14: D1, D10, D15), through the real CLI and Snakemake."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import psutil
from conftest import (
    alive, clean_env, probe_cmd, probe_records, run_cli, run_snakemake, start_logged, start_snakemake, wait_for,
)

LEAVER = textwrap.dedent('''
    """A trainer that leaves processes behind: a double-forked setsid daemon and a child in its own
    process group, both writing their pids to --pids, then exits 0 at once."""
    import os, subprocess, sys, time
    pids = sys.argv[1].split("=", 1)[1]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], process_group=0)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(pids + ".daemon", "w") as out:
                out.write(str(os.getpid()))
            time.sleep(300)
        os._exit(0)
    with open(pids + ".child", "w") as out:
        out.write(str(child.pid))
    while not os.path.exists(pids + ".daemon"):
        time.sleep(0.01)
''')


def sweep(project, name: str, cmd: str, count: int) -> Path:
    return project.write_run(f"sweep_{name}", f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription({name!r}, experiments=[
            Experiment("e", {cmd!r}, ParamList([{{"seed": i}} for i in range({count})]).generate_params()),
        ])
    """)


def left_behind(pid_files: list[Path]) -> list[int]:
    return alive([int(path.read_text()) for path in pid_files])


def test_daemons_and_detached_children_are_stopped_when_the_experiment_ends_and_free_the_slot(project) -> None:
    (project.root / "leaver.py").write_text(LEAVER)
    cmd = f"{sys.executable} {project.root / 'leaver.py'} --pids={project.root / 'pids'}"
    run = sweep(project, "leaver", cmd, 2)
    # one GPU slot: the second experiment can start only once the first's slot (held by its leftovers) is free
    result = run_cli("run", f"--run={run}", "--out=wf", "--num_gpus=1", "--experiments_per_gpu=1",
                     "--max_parallel=1", "--pause_between=0", cwd=project.root, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    pid_files = sorted(project.root.glob("pids.*"))
    assert [path.suffix for path in pid_files] == [".child", ".daemon"]  # both experiments wrote the same names
    assert left_behind(pid_files) == []
    logs = sorted((project.root / "wf" / "logs").glob("exp_*.log"))
    assert len(logs) == 2
    assert all("stopped processes the experiment left running" in log.read_text() for log in logs)
    status = json.loads(run_cli("status", "--json", cwd=project.root / "wf").stdout)
    assert [row["state"] for row in status["experiments"]] == ["done", "done"]


def test_a_launcher_killed_takes_its_experiment_along_and_the_next_run_runs_it_once(project) -> None:
    run = sweep(project, "orphan", probe_cmd(project.probes, "--sleep=300"), 1)
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    first = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "first.log", env=clean_env())
    try:
        record = wait_for(lambda: probe_records(project.probes), what="the experiment to start")[0]
        launcher = psutil.Process(record["pid"]).parent()
        assert "launcher.py" in " ".join(launcher.cmdline())
        launcher.kill()
        wait_for(lambda: not alive([record["pid"]]), timeout=10, what="the experiment to stop with its launcher")
        assert first.wait(timeout=60) != 0
    finally:
        if first.poll() is None:
            first.kill()
    status = json.loads(run_cli("status", "--json", cwd=wf).stdout)
    assert [row["state"] for row in status["experiments"]] == ["pending"]  # not running: nothing holds its lock


def test_a_launcher_that_cannot_work_records_why_and_status_says_failed(project) -> None:
    run = sweep(project, "broken", probe_cmd(project.probes), 1)
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    (wf / "not_a_dir").write_text("")
    result = run_snakemake("--profile", "profiles/local", "--config", "slot_dir=not_a_dir/slots", cwd=wf, env=clean_env())
    assert result.returncode != 0 and probe_records(project.probes) == []
    assert "sfgen's launcher failed: NotADirectoryError" in result.stderr
    status = json.loads(run_cli("status", "--json", cwd=wf).stdout)
    assert len(status["experiments"]) == 1
    row = status["experiments"][0]
    assert row["state"] == "failed" and "NotADirectoryError" in row["reason"], row


def test_a_launcher_that_cannot_write_markers_records_its_failure_elsewhere(project) -> None:
    """The experiment itself makes markers/ unusable (as a read-only or vanished directory would be): its
    launcher cannot write the marker nor the failure record there, and records the failure in .sfgen."""
    breaker = project.root / "breaker.py"
    breaker.write_text("import os, sys\nos.rename('markers', 'markers.gone')\nopen('markers', 'w').close()\n")
    run = sweep(project, "nomarkers", f"{sys.executable} {breaker}", 1)
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--workdir=.",
                   cwd=project.root).returncode == 0
    wf = project.root / "wf"
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode != 0
    assert not (wf / "markers").is_dir()
    status = json.loads(run_cli("status", "--json", cwd=wf).stdout)
    assert len(status["experiments"]) == 1
    row = status["experiments"][0]
    assert row["state"] == "failed" and "sfgen's launcher failed" in row["reason"], row
    assert "sfgen's launcher failed" in (wf / row["log"]).read_text()


def test_a_local_run_leaves_no_wakeup_fifo_behind(project) -> None:
    run = sweep(project, "fifo", probe_cmd(project.probes), 6)
    result = run_cli("run", f"--run={run}", "--out=wf", "--num_gpus=1", "--experiments_per_gpu=1",
                     "--max_parallel=1", "--pause_between=0", cwd=project.root, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(probe_records(project.probes)) == 6
    slots = os.stat(project.root / "wf" / ".sfgen" / "slots")
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"sfgen-{os.getuid()}"
    assert not (runtime / f"slots-{slots.st_dev}-{slots.st_ino}.fifo").exists()


def test_sfgen_run_killed_takes_its_snakemake_along_and_the_next_run_is_not_refused(project) -> None:
    release = project.root / "release"
    run = sweep(project, "headless", probe_cmd(project.probes, f"--hold={release}"), 2)
    argv = [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--out=wf", "--pause_between=0"]
    first = start_logged(argv, project.root, project.root / "first.log", clean_env())
    try:
        records = wait_for(lambda: len(probe_records(project.probes)) == 2 and probe_records(project.probes),
                           what="both experiments to start")
        snakemake = [p for p in psutil.Process(first.pid).children() if "snakemake" in " ".join(p.cmdline())]
        assert len(snakemake) == 1
        first.kill()  # kill -9 of sfgen run alone
        first.wait(timeout=10)
        wait_for(lambda: alive([snakemake[0].pid]) == [], timeout=30, what="its Snakemake to stop")
        wait_for(lambda: alive([r["pid"] for r in records]) == [], timeout=30, what="the experiments to stop")
    finally:
        if first.poll() is None:
            first.kill()
    release.touch()
    second = run_cli(*argv[3:], cwd=project.root, timeout=120)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "another Snakemake" not in second.stderr
    assert len(probe_records(project.probes)) == 4 and len(list((project.root / "wf" / "markers").glob("*.done"))) == 2
