"""`sfgen status` and `sfgen reset` through the real CLI, on workflows run by real Snakemake."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import (
    clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake, start_snakemake, still_running, wait_for,
)
from tests.slurm_cluster import slurm_cluster  # noqa: F401  (the session's real Slurm; skips where there is none)

BAD = "00_bad_lr_0.001"
BAD_CODE = "import sys\nfor i in range(1, 9): print(f'bad line {i}', flush=True)\nsys.exit(3)"


def write_demo(root: Path, probes: Path) -> Path:
    """2 learning rates x 3 seeds of the probe, plus one experiment without a seed that prints 8 lines and fails."""
    params = [{"lr": lr, "seed": seed} for lr in (0.1, 0.01) for seed in range(3)]
    bad_cmd = f"{sys.executable} -c {shlex.quote(BAD_CODE)}"
    path = root / "demo.py"
    path.write_text(textwrap.dedent(
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList

        RUN_DESCRIPTION = RunDescription("demo", experiments=[
            Experiment("probe", {probe_cmd(probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
            Experiment("bad", {bad_cmd!r}, ParamList([{{"lr": 0.001}}]).generate_params(randomize=False)),
        ])
        """
    ))
    return path


def compile_demo(root: Path, probes: Path) -> Path:
    result = run_cli("compile", f"--run={write_demo(root, probes)}", "--out=wf", "--pause_between=0", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "wf"


def status_json(wf: Path, *args: str) -> dict:
    result = run_cli("status", "--json", *args, cwd=wf)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def states(document: dict) -> dict[str, str]:
    return {row["name"]: row["state"] for row in document["experiments"]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The demo workflow after one local run: 6 done, the `bad` one failed. Tests only read it."""
    root = tmp_path_factory.mktemp("finished")
    (root / "probes").mkdir()
    wf = compile_demo(root, root / "probes")
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode != 0  # the bad one failed
    return wf


def test_fresh_workflow_shows_every_experiment_pending(project):
    wf = compile_demo(project.root, project.probes)
    result = run_cli("status", cwd=wf)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "demo: 7 experiments: 0 done, 0 failed, 0 running, 7 pending"
    document = status_json(wf)
    assert document["summary"] == {"done": 0, "failed": 0, "running": 0, "pending": 7, "total": 7}
    assert len(states(document)) == 7 and set(states(document).values()) == {"pending"}


def test_control_characters_in_names_never_reach_the_terminal(project):
    params = [{"tag": tag, "seed": seed} for tag in ("\x1b[2J\x1b[31mred\nline", "ok") for seed in range(2)]
    run = project.write_run(
        "hostile",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("hostile", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
            Experiment("plain", {probe_cmd(project.probes)!r}, ParamList([{{"tag": "\\x1b"}}]).generate_params()),
        ])
        """,
    )
    assert run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root).returncode == 0
    text = run_cli("status", cwd=project.root / "wf").stdout
    assert "\x1b" not in text
    assert [line.split() for line in text.splitlines()[2:5]] == [
        ["tag=\\x1b[2J\\x1b[31mred\\x0aline", "0/2", "seeds", "done,", "2", "pending"],
        ["tag=ok", "0/2", "seeds", "done,", "2", "pending"],
        ["00_plain_tag_\\x1b", "pending"],  # an experiment without a seed: its name escaped too
    ]
    names = [row["name"] for row in status_json(project.root / "wf")["experiments"]]
    assert names[0] == "00_probe_tag_\x1b[2J\x1b[31mred\nline_see_0"  # JSON keeps the exact name


def test_json_after_a_run_with_one_failure(finished):
    document = status_json(finished)
    assert document["summary"] == {"done": 6, "failed": 1, "running": 0, "pending": 0, "total": 7}
    assert document["run"] == "demo" and document["workflow_dir"] == str(finished.resolve())
    rows = {row["name"]: row for row in document["experiments"]}
    bad = rows[BAD]
    assert bad["state"] == "failed" and bad["exit_code"] == 3 and bad["rule"] == "exp_00_bad_lr_0_001"
    assert bad["log"] == "logs/exp_00_bad_lr_0_001.log" and (finished / bad["log"]).is_file()
    done = [row for row in rows.values() if row["state"] == "done"]
    assert len(done) == 6
    for row in done:
        assert (finished / row["marker"]).is_file()
        assert row["exit_code"] == 0 and row["host"] and row["start"] and row["end"] and row["duration_s"] >= 0
        assert row["slurm_job_id"] is None and row["ngc_job_id"] is None
    expected = {"name", "rule", "state", "gpu", "host", "slurm_job_id", "ngc_job_id", "job_state", "start", "end",
                "duration_s", "exit_code", "log", "job_log", "marker", "reason", "progress"}  # the README's table
    assert len(rows) == 7 and all(set(row) == expected for row in rows.values())


def test_text_view_groups_seeds_and_shows_the_failure_with_its_log_tail(finished):
    result = run_cli("status", cwd=finished)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "demo: 7 experiments: 6 done, 1 failed, 0 running, 0 pending"
    rows = [line.split() for line in lines[2:5]]
    assert rows == [
        ["lr=0.1", "3/3", "seeds", "done"],
        ["lr=0.01", "3/3", "seeds", "done"],
        [BAD, "failed", "(exit", "3)"],
    ]
    failures = result.stdout[result.stdout.index("failed (1):") :]
    assert BAD in failures and "exit 3" in failures
    assert "log: logs/exp_00_bad_lr_0_001.log" in failures
    tail = [line.strip() for line in failures.splitlines() if line.strip().startswith("|")]
    assert tail == [f"| bad line {i}" for i in range(4, 9)]
    assert len(lines) > 10 and all(len(line) <= 80 for line in lines)
    assert "\x1b" not in result.stdout  # piped: no colour


def test_text_view_is_coloured_on_a_terminal(finished):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sfgen", "status"], cwd=finished, stdout=follower, stderr=follower,
                            env={k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm"})
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=30)
    os.close(leader)
    assert b"\x1b[31m1 failed\x1b[0m" in output and b"\x1b[32m3/3 seeds done\x1b[0m" in output


def test_state_filters_and_name_patterns(finished):
    failed = run_cli("status", "--failed", cwd=finished)
    assert failed.returncode == 0
    assert BAD in failed.stdout and "bad line 8" in failed.stdout and "probe" not in failed.stdout
    done = run_cli("status", "--state=done", cwd=finished).stdout
    assert done.count("_probe_lr_") == 6 and BAD not in done
    document = status_json(finished, "--state=failed,pending")
    assert list(states(document)) == [BAD] and document["summary"]["total"] == 7
    matched = status_json(finished, "*lr_0.01_*")
    assert sorted(states(matched)) == [f"0{i}_probe_lr_0.01_see_{i - 3}" for i in range(3, 6)]
    assert matched["summary"] == {"done": 3, "failed": 0, "running": 0, "pending": 0, "total": 3}
    assert sorted(states(status_json(finished, "lr_0.1_"))) == [f"0{i}_probe_lr_0.1_see_{i}" for i in range(3)]
    nothing = run_cli("status", "--state=running", cwd=finished)
    assert nothing.returncode == 0 and "no running experiments" in nothing.stdout


def test_bad_input_is_one_line_and_non_zero(tmp_path, finished):
    for args, cwd, words in [
        (("status",), tmp_path, "no Snakefile"),
        (("status", "--state=finished"), finished, "unknown state 'finished'"),
        (("status", "nosuchname"), finished, "no experiment matches 'nosuchname'"),
        (("reset", "--yes", "nosuchname"), finished, "no experiment matches 'nosuchname'"),
    ]:
        result = run_cli(*args, cwd=cwd)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr


def test_corrupt_marker_counts_as_not_done_with_one_warning(finished, tmp_path):
    wf = tmp_path / "wf"
    shutil.copytree(finished, wf)
    marker = wf / "markers" / "exp_01_probe_lr_0_1_see_1.done"
    marker.write_text(marker.read_text()[:40])
    for args in ((), ("--json",)):
        result = run_cli("status", *args, cwd=wf)
        assert result.returncode == 0
        assert result.stderr.count("\n") == 1
        assert "warning" in result.stderr and "markers/exp_01_probe_lr_0_1_see_1.done" in result.stderr
    document = status_json(wf)
    assert states(document)["01_probe_lr_0.1_see_1"] == "pending" and document["summary"]["done"] == 5
    reset = run_cli("reset", "01_probe_lr_0.1_see_1", cwd=wf)
    assert reset.returncode == 0 and not marker.exists()
    assert run_cli("status", cwd=wf).stderr == ""


def test_reset_by_pattern_makes_the_next_run_redo_exactly_those(project):
    wf = compile_demo(project.root, project.probes)
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode != 0
    assert len(probe_records(project.probes)) == 6
    markers_before = sorted(p.name for p in (wf / "markers").iterdir())

    refused = subprocess.run([sys.executable, "-m", "sfgen", "reset", "probe"], cwd=wf, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "--yes" in refused.stderr and refused.stderr.count("\n") == 1
    assert sorted(p.name for p in (wf / "markers").iterdir()) == markers_before

    reset = run_cli("reset", "*lr_0.01_*", BAD, cwd=wf)  # 4 experiments: no confirmation needed
    assert reset.returncode == 0, reset.stderr
    for name in ["03_probe_lr_0.01_see_0", "04_probe_lr_0.01_see_1", "05_probe_lr_0.01_see_2", BAD]:
        assert f"reset {name} " in reset.stdout
    assert "removed markers/exp_00_bad_lr_0_001.failed" in reset.stdout
    document = status_json(wf)
    assert document["summary"] == {"done": 3, "failed": 0, "running": 0, "pending": 4, "total": 7}
    assert (wf / "logs" / "exp_03_probe_lr_0_01_see_0.log").exists()  # logs are kept

    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode != 0
    rerun = sorted(experiment_of(record) for record in probe_records(project.probes)[6:])
    assert rerun == ["03_probe_lr_0.01_see_0", "04_probe_lr_0.01_see_1", "05_probe_lr_0.01_see_2"]

    everything = run_cli("reset", "--yes", "probe", cwd=wf)  # the form tests/test_local.py relies on
    assert everything.returncode == 0 and "reset 6 experiments" in everything.stdout
    assert status_json(wf)["summary"]["pending"] == 6


def test_running_experiment_is_detected_while_it_runs(project):
    params = [{"seed": seed, "sleep": 120 if seed == 1 else 0} for seed in range(3)]
    run = project.write_run(
        "sleepy",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("sleepy", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
        ])
        """,
    )
    compiled = run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--num_gpus=2",
                       "--experiments_per_gpu=1", cwd=project.root)
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/local"], cwd=wf,
                            env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def running():
            assert proc.poll() is None, "snakemake ended early"
            document = status_json(wf)
            rows = [row for row in document["experiments"] if row["state"] == "running"]
            # the lock is taken a moment before the start record is written: wait for the record too
            started = document["summary"]["done"] == 2 and len(rows) == 1 and rows[0]["start"] is not None
            return document if started else None

        document = wait_for(running, what="one experiment running, with its start record, and two done")
        row = next(row for row in document["experiments"] if row["state"] == "running")
        assert row["name"] == "01_probe_see_1_sle_120"
        assert row["gpu"] in ("0", "1") and row["host"] and row["start"] and row["end"] is None
        text = run_cli("status", cwd=wf).stdout
        assert "running (1):" in text and f"01_probe_see_1_sle_120  GPU {row['gpu']} on" in text
        assert "1/1 seeds done" not in text and "0/1 seeds done, 1 running" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    after = status_json(wf)
    assert after["summary"]["running"] == 0 and states(after)["01_probe_see_1_sle_120"] == "failed"


def test_slurm_jobs_queued_or_running_count_as_running(project, slurm_cluster):  # noqa: F811
    """Real Slurm, real slurm executor: one job held in the queue (only squeue knows it), one running."""
    params = [{"seed": seed, "sleep": 120} for seed in range(2)]
    run = project.write_run(
        "onslurm",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("onslurm", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
        ])
        """,
    )
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    held, started = "00_probe_see_0_sle_120", "01_probe_see_1_sle_120"
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--executor", "slurm", "--jobs", "2", "--slurm-status-command", "squeue",
         "--default-resources", f"slurm_partition={slurm_cluster.partition}", "cpus_per_task=1", "runtime=10",
         "--set-resources", "exp_00_probe_see_0_sle_120:slurm_extra='--begin=now+3600'"],
        cwd=wf, env=slurm_cluster.run_env(clean_env()), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    job_ids: list[str] = []
    try:
        def both_running():
            assert proc.poll() is None, "snakemake ended early"
            document = status_json(wf)
            rows = {row["name"]: row for row in document["experiments"]}
            job_ids[:] = [row["slurm_job_id"] for row in rows.values() if row["slurm_job_id"]]
            return rows if rows[started]["host"] and rows[held]["job_state"] == "PENDING" else None

        rows = wait_for(both_running, timeout=120, what="one Slurm job held in the queue and one running")
        assert rows[held]["state"] == "running" and rows[held]["start"] is None
        assert rows[started]["state"] == "running" and rows[started]["job_state"] == "RUNNING"
        assert sorted(job_ids) == sorted(slurm_cluster.run("squeue", "-h", "-o", "%i").stdout.split())
        text = run_cli("status", cwd=wf, env=slurm_cluster.run_env()).stdout
        assert f"{held}  Slurm job {rows[held]['slurm_job_id']} PENDING" in text
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the slurm executor does not answer SIGTERM quickly
        proc.wait(timeout=30)
        if job_ids:
            slurm_cluster.run("scancel", *job_ids, check=False)
    wait_for(lambda: status_json(wf)["summary"]["running"] == 0, timeout=60, what="no experiment running")


def test_ngc_job_in_flight_counts_as_running_with_its_job_id(project):
    """The NGC backend through the stand-in `ngc`: a submitted job that has not ended is running."""
    params = [{"seed": seed, "sleep": 0 if seed == 0 else 120} for seed in range(2)]
    run = project.write_run(
        "onngc",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("onngc", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
        ])
        """,
    )
    template = project.root / "job.template"
    template.write_text('ngc batch run --name "{{ name }}" --instance dgx1v.16g.1.norm --image "nvcr.io/x:y" '
                        '--result /results --commandline "{{ experiment_cmd }}" --format_type json\n')
    compiled = run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                       cwd=project.root)
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    env = clean_env(PATH=f"{Path(__file__).parent / 'fake_ngc'}{os.pathsep}{os.environ['PATH']}",
                    FAKE_NGC_STATE=str(project.root / "ngc_state"))
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/ngc",
                             "--seconds-between-status-checks", "1"],
                            cwd=wf, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def one_done_one_running():
            assert proc.poll() is None, "snakemake ended early"
            document = status_json(wf)
            return document if document["summary"]["done"] == 1 and document["summary"]["running"] == 1 else None

        document = wait_for(one_done_one_running, timeout=90, what="one NGC job done and one in flight")
        rows = {row["name"]: row for row in document["experiments"]}
        # the stand-in's job records, by the job name the template gave (Snakemake submits in either order)
        jobs = {json.loads(path.read_text())["name"]: path.stem
                for path in (project.root / "ngc_state").glob("[0-9]*.json")}
        assert rows["01_probe_see_1_sle_120"]["state"] == "running"
        assert rows["01_probe_see_1_sle_120"]["ngc_job_id"] == jobs["01_probe_see_1_sle_120"]
        assert rows["01_probe_see_1_sle_120"]["start"]
        assert rows["00_probe_see_0_sle_0"]["ngc_job_id"] == jobs["00_probe_see_0_sle_0"]
        assert rows["00_probe_see_0_sle_0"]["job_state"] == "FINISHED_SUCCESS"
        assert f"NGC job {jobs['01_probe_see_1_sle_120']}" in run_cli("status", "--state=running", cwd=wf).stdout
    finally:
        proc.send_signal(signal.SIGINT)  # Snakemake cancels the job it submitted
        proc.wait(timeout=60)
    assert status_json(wf)["summary"]["running"] == 0


def _on_terminal(args: list[str], cwd: Path, answer: str) -> tuple[int, str]:
    """``sfgen ARGS`` on a terminal (a pty for stdin and output): wait for its y/N question, type ``answer``."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sfgen", *args], cwd=cwd, stdin=follower, stdout=follower,
                            stderr=follower)
    os.close(follower)
    output = bytearray()

    def read(until: bytes | None) -> bool:
        """Read what is there; True once ``until`` was printed, or the program closed the terminal."""
        while select.select([leader], [], [], 0.05)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                return True
            if not chunk:
                return True
            output.extend(chunk)
        return until is not None and until in output

    try:
        wait_for(lambda: read(b"[y/N] "), timeout=30, what="the y/N question")
        assert b"[y/N] " in output and proc.poll() is None, output.decode()
        os.write(leader, answer.encode() + b"\n")
        wait_for(lambda: read(None), timeout=30, what="sfgen reset to end")
        code = proc.wait(timeout=30)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return code, output.decode()


def test_reset_asks_y_n_on_a_terminal_and_resets_only_on_yes(finished, tmp_path):
    """README: resetting more than 5 experiments asks first (y/N) on a terminal; No is the default."""
    wf = tmp_path / "wf"
    shutil.copytree(finished, wf)
    markers = sorted(p.name for p in (wf / "markers").iterdir())
    assert len(markers) == 7  # 6 done, 1 failed
    for answer in ("", "n"):
        code, output = _on_terminal(["reset", "probe"], wf, answer)
        assert "sfgen: reset 6 experiments, so that the next run redoes them? [y/N]" in output
        assert code == 1 and "nothing reset" in output, output
        assert sorted(p.name for p in (wf / "markers").iterdir()) == markers
    code, output = _on_terminal(["reset", "probe"], wf, "y")
    assert code == 0 and "reset 6 experiments; the next run redoes them" in output, output
    assert sorted(p.name for p in (wf / "markers").iterdir()) == ["exp_00_bad_lr_0_001.failed"]
    assert status_json(wf)["summary"] == {"done": 0, "failed": 1, "running": 0, "pending": 6, "total": 7}


def test_reset_leaves_running_experiments_alone_and_exits_1(project):
    """README: reset leaves running experiments alone (exit status 1 if it had to skip one), and resets the rest."""
    release = project.root / "release"
    run = project.write_run(
        "mixed",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("mixed", experiments=[
            Experiment("quick", {probe_cmd(project.probes)!r}, ParamList([{{"seed": 0}}]).generate_params()),
            Experiment("held", {probe_cmd(project.probes, f"--hold={release}")!r}, ParamList([{{"seed": 0}}]).generate_params()),
        ])
        """,
    )
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--max_parallel=2", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    quick_done, held_failed = wf / "markers" / "exp_00_quick_see_0.done", wf / "markers" / "exp_00_held_see_0.failed"
    # a first run: quick finishes, held is interrupted (a failure record)
    log = project.root / "first.log"
    first = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())
    wait_for(lambda: still_running(first, log) and quick_done.exists() and len(probe_records(project.probes)) == 2,
             what="quick done and held running")
    wait_for(lambda: "1 of 3 steps" in log.read_text(), what="Snakemake to see quick finish")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) != 0
    assert json.loads(held_failed.read_text())["interrupted"] is True

    # the next run runs held again; meanwhile both are reset
    log = project.root / "second.log"
    second = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())
    try:
        wait_for(lambda: still_running(second, log) and len(probe_records(project.probes)) == 3
                 and states(status_json(wf))["00_held_see_0"] == "running", what="held running again")
        reset = run_cli("reset", "see_0", cwd=wf)
        assert reset.returncode == 1, reset.stdout + reset.stderr
        assert "sfgen: 00_held_see_0 is running: not reset" in reset.stdout
        assert "sfgen: reset 00_quick_see_0 (removed markers/exp_00_quick_see_0.done)" in reset.stdout
        assert held_failed.exists() and not quick_done.exists()
        assert states(status_json(wf)) == {"00_quick_see_0": "pending", "00_held_see_0": "running"}
    finally:
        release.touch()
    second.wait(timeout=60)  # non-zero: `rule all` misses the marker reset under it
    assert (wf / "markers" / "exp_00_held_see_0.done").exists() and not held_failed.exists()
    assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode == 0  # the next run
    assert [experiment_of(r) for r in probe_records(project.probes)[3:]] == ["00_quick_see_0"]
