"""Issue 13 through the real CLI and real Snakemake: Sample Factory 2's command line option for option, the
defaults of the generation in use, no abbreviated options, SF 2's $CPU and $TIMEOUT, path-valued
parameters, signals however a run was started, a compact view with a summary saying where things are,
whole error lines, missing cluster tools caught first, one error convention, and the small confusions."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from conftest import alive, clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake, wait_for

SF1 = "from sample_factory.runner.run_description import RunDescription, Experiment, ParamGrid, ParamList\n"
SF2 = "from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid, ParamList\n"
CAUSE = "ModuleNotFoundError: No module named 'a_module_this_machine_lacks'"
LONG_LINE = f"{'while loading the environment ' * 10}-> {CAUSE}"  # 333 characters, the cause at the end


def _sweep(project, header: str, params: list[dict], *extra: str, name: str = "sweep", run_name: str = "r") -> Path:
    """A run module of probe experiments, one per dict of ``params``, in order."""
    return project.write_run(name, header + (
        f"RUN_DESCRIPTION = RunDescription({run_name!r}, experiments=[Experiment('e', {probe_cmd(project.probes, *extra)!r}, "
        f"ParamList({params!r}).generate_params(randomize=False))])\n"))


def _one_line_error(result: subprocess.CompletedProcess, expected: str, status: int = 2) -> str:
    """The one stderr line of a refused command, checked: its exit status, no usage text, nothing on stdout."""
    assert result.returncode == status, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sfgen: error: ") and expected in lines[0], lines[0]
    assert result.stdout == "" and "usage:" not in result.stderr
    return lines[0]


def _compiled_options(workflow: Path) -> str:
    return (workflow / "Snakefile").read_text().split("sfgen.parse_time.configure(workflow, config, {", 1)[1].split("})")[0]


# --- Sample Factory 2's command line and its defaults -------------------------------------------------------------


def test_sf2_backend_option_runs_and_an_sf2_run_module_gets_sf2_spacing(project):
    """`--backend=processes` is accepted; with SF 2's default pause_between of 1 s, three experiments start
    about a second apart (SF 1's 10 s made six 1-second experiments take 51 s)."""
    run = _sweep(project, SF2, [{"seed": seed} for seed in range(3)])
    result = run_cli("run", f"--run={run}", "--backend=processes", "--max_parallel=3", cwd=project.root, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(Sample Factory 2's defaults: pause_between=1)" in result.stdout.splitlines()[0]
    assert "'pause_between': 1.0," in _compiled_options(project.root)
    starts = [record["start"] for record in probe_records(project.probes)]
    assert len(starts) == 3
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
    assert len(gaps) == 2 and all(0.9 <= gap < 5 for gap in gaps), gaps


@pytest.mark.parametrize(
    "header, options, pause",
    [
        (SF1, ["--runner=processes"], "10.0"),  # SF 1's command line and run module: SF 1's default
        (SF1, ["--backend=processes"], "1.0"),  # SF 2's command line: SF 2's default
        (SF2, ["--runner=processes"], "1.0"),  # an SF 2 run module: SF 2's default
        (SF2, ["--backend=processes", "--pause_between=0"], "0.0"),  # given: the value given
    ],
    ids=["sf1", "sf2_command_line", "sf2_run_module", "given"],
)
def test_defaults_follow_the_generation_in_use(project, header, options, pause):
    run = _sweep(project, header, [{"seed": 0}])
    result = run_cli("run", f"--run={run}", *options, cwd=project.root, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"'pause_between': {pause}," in _compiled_options(project.root)
    assert len(probe_records(project.probes)) == 1


def test_compile_follows_the_run_modules_generation(project):
    for header, pause in ((SF1, "10.0"), (SF2, "1.0")):
        run = _sweep(project, header, [{"seed": 0}])
        assert run_cli("compile", f"--run={run}", "--out=wf", "--force", cwd=project.root).returncode == 0
        assert f"'pause_between': {pause}," in _compiled_options(project.root / "wf")


def test_slurm_timeout_is_a_timeout_duration_that_sets_the_time_limit(project):
    """`--slurm_timeout=60` was silently taken as --slurm_timeout_retries=60 and `--slurm_timeout=1h` was an int
    error: it is SF 2's duration, the job's time limit in minutes rounded up, and retries keep their default."""
    run = _sweep(project, SF2, [{"seed": 0}])
    for timeout, flag in (("60", "-t 1 "), ("90", "-t 2 "), ("1h", "-t 60 "), ("1.5d", "-t 2160 ")):
        printed = run_cli("run", f"--run={run}", "--backend=slurm", f"--slurm_timeout={timeout}",
                          "--slurm_print_only=True", cwd=project.root, env=clean_env())
        assert printed.returncode == 0, printed.stderr
        assert f"  sbatch {flag}" in printed.stdout
    no_limit = run_cli("run", f"--run={run}", "--backend=slurm", "--slurm_timeout=0", "--slurm_print_only=True",
                       cwd=project.root, env=clean_env())
    assert no_limit.returncode == 0 and "  sbatch --cpus-per-gpu=14 --gpus=1 " in no_limit.stdout
    assert run_cli("compile", f"--run={run}", "--out=wf", "--slurm_timeout=2h", cwd=project.root).returncode == 0
    options = _compiled_options(project.root / "wf")
    assert "'slurm_timeout': '2h'," in options and "'slurm_runtime': 120," in options
    assert "'slurm_timeout_retries': 3," in options  # resubmission (up to 3 times) follows the time limit
    _one_line_error(run_cli("run", f"--run={run}", "--slurm_timeout=2x", cwd=project.root),
                 "option slurm_timeout='2x' is invalid: give a timeout(1) duration: 0 (no limit), 90 (seconds)")
    _one_line_error(run_cli("run", f"--run={run}", "--slurm_timeout=2h", "--slurm_runtime=60", cwd=project.root),
                 "--slurm_timeout and --slurm_runtime both set the time limit: give one")


def test_an_sf2_template_gets_sf2s_cpu_and_timeout(project, tmp_path):
    """$CPU is slurm_cpus_per_gpu x slurm_gpus_per_job and $TIMEOUT the --slurm_timeout as written, in the job
    (run as the slurm executor's job script runs it, with Slurm's commands recording any call)."""
    (project.root / "sbatch.sh").write_text(
        "#!/bin/bash\nexport PROBE_CPU=$CPU PROBE_GPU=$GPU PROBE_TIMEOUT=$TIMEOUT\ntimeout $TIMEOUT $CMD\n")
    run = _sweep(project, SF2, [{"seed": 0}])
    compiled = run_cli("compile", f"--run={run}", "--out=wf", "--slurm_sbatch_template=sbatch.sh", "--slurm_gpus_per_job=2",
                       "--slurm_cpus_per_gpu=3", "--slurm_timeout=2h", cwd=project.root)
    assert compiled.returncode == 0, compiled.stderr
    calls = tmp_path / "slurm-calls"
    wires = tmp_path / "wires"
    wires.mkdir()
    for command in ("sbatch", "squeue", "sacct", "scancel", "scontrol", "srun"):
        (wires / command).write_text(f'#!/bin/sh\necho "{command} $*" >> "{calls}"\nexit 1\n')
        (wires / command).chmod(0o755)
    rule = "exp_00_e_see_0"
    env = clean_env(PATH=f"{wires}{os.pathsep}{os.environ['PATH']}", SLURM_JOB_ID="4711", SFGEN_BACKEND="slurm")
    job = run_snakemake("--mode", "remote", "--no-hooks", "--target-jobs", f"{rule}:", "--cores", "1", rule,
                        cwd=project.root / "wf", env=env)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    records = probe_records(project.probes)
    assert len(records) == 1
    assert (records[0]["env"]["PROBE_CPU"], records[0]["env"]["PROBE_GPU"], records[0]["env"]["PROBE_TIMEOUT"]) == ("6", "2", "2h")
    made = calls.read_text().splitlines() if calls.exists() else []
    assert [call for call in made if call != "scontrol show config"] == []  # nothing submitted


# --- options are never abbreviated; one error convention ---------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--run=x.py", "--slurm_timeout_ret=1"], "unknown option --slurm_timeout_ret: did you mean --slurm_timeout_retries?"),
        (["compile", "--run=x.py", "--max_par=2"], "unknown option --max_par: did you mean --max_parallel?"),
        (["run", "--run=x.py", "--slurm_timout=60"], "unknown option --slurm_timout: did you mean --slurm_timeout?"),
        (["status", "--fail"], "unknown option --fail: did you mean --failed?"),
        (["run"], "--run=MODULE is missing: give the run module"),
        (["run", "--run=x.py", "--max_parallel=four"], "option max_parallel='four' is invalid: give an integer"),
        (["run", "--run=x.py", "--runner=slurm", "--backend=slurm"], "--backend cannot be given with --runner"),
        (["run", "--run=x.py", "--backend=slrum"], "unknown value for --backend 'slrum' (one of ngc, processes, slurm): did you mean slurm?"),
        (["lst"], "unknown command 'lst'"),
        ([], "no command given: give one of list, compile, run"),
        (["run", "--run=x.py", "extra"], "unexpected argument 'extra'"),
    ],
    ids=["prefix_of_a_longer_option", "prefix", "misspelt", "status_prefix", "missing_run", "bad_value",
         "runner_and_backend", "bad_choice", "unknown_command", "no_command", "stray_argument"],
)
def test_usage_errors_are_one_line_with_a_hint_and_exit_status_2(tmp_path, args, expected):
    line = _one_line_error(run_cli(*args, cwd=tmp_path), expected)
    assert line.endswith(("?", ")")), line  # the hint: the closest name, or where the options are listed
    assert list(tmp_path.iterdir()) == []


def test_help_is_plain_text_and_says_which_defaults_apply(tmp_path):
    top = run_cli("--help", cwd=tmp_path)
    assert top.returncode == 0 and "``" not in top.stdout
    assert "exit status: 0 done; 1 an error" in " ".join(top.stdout.split())
    run_help = " ".join(run_cli("run", "--help", cwd=tmp_path).stdout.split())
    assert "--runner {ngc,processes,slurm} where experiments run: processes (this machine), slurm or ngc" in run_help
    assert "--backend {ngc,processes,slurm} the same, by Sample Factory 2's name" in run_help
    assert ("Defaults follow the Sample Factory generation you are on: Sample Factory 2's (--pause_between=1) with "
            "--backend or a run module that imports sample_factory.launcher") in run_help
    assert "(default: 10 on Sample Factory 1, 1 on Sample Factory 2: see above)" in run_help
    assert "--slurm_timeout SLURM_TIMEOUT Sample Factory 2's time limit as timeout(1) takes it" in run_help


# --- path-valued parameters ----------------------------------------------------------------------------------------


def test_path_valued_parameters_make_nested_names_with_flat_rules_markers_and_logs(project):
    run = project.write_run("maps", SF2 + (
        f"RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', {probe_cmd(project.probes)!r}, "
        "ParamGrid([('map', ['maps/a.wad', 'maps/b.wad'])]).generate_params())])\n"))
    result = run_cli("run", f"--run={run}", "--pause_between=0", cwd=project.root, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(experiment_of(record) for record in probe_records(project.probes))
    assert names == ["00_e_map_maps/a.wad", "01_e_map_maps/b.wad"]
    markers = sorted(path.name for path in (project.root / "markers").iterdir())
    assert markers == ["exp_00_e_map_maps_a_wad.done", "exp_01_e_map_maps_b_wad.done"]
    assert (project.root / "logs" / "exp_00_e_map_maps_a_wad.log").is_file()
    status = json.loads(run_cli("status", "--json", cwd=project.root).stdout)
    assert status["summary"]["done"] == 2 and status["summary"]["total"] == 2


@pytest.mark.parametrize(
    "grid, run_name, expected",
    [
        ("[('map', ['x/../../etc'])]", "r", "experiment name '00_e_map_x/../../etc' is not a usable directory name under the train dir"),
        ("[('map', ['a'])]", "/abs", "run or experiment directory '/abs/e_' is not a usable directory name under the train dir"),
    ],
    ids=["dot_dot", "absolute"],
)
def test_names_that_would_leave_the_train_dir_are_refused(project, grid, run_name, expected):
    run = project.write_run("escape", SF2 + (
        f"RUN_DESCRIPTION = RunDescription({run_name!r}, experiments=[Experiment('e', 'python t.py', "
        f"ParamGrid({grid}).generate_params())])\n"))
    _one_line_error(run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root), expected, status=1)
    assert not (project.root / "wf").exists()


# --- signals -------------------------------------------------------------------------------------------------------


def _held_run(project) -> list[str]:
    """`sfgen run` of four experiments that run until released, two at a time."""
    run = _sweep(project, SF2, [{"seed": seed} for seed in range(4)], f"--hold={project.root / 'never'}")
    return [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--max_parallel=2", "--pause_between=0"]


def _assert_stopped_with_nothing_started_after(project, output: str, signal_name: str) -> None:
    records = probe_records(project.probes)
    assert len(records) == 2  # the two running ones; nothing started after the signal
    assert alive(record["pid"] for record in records) == []
    assert f"sfgen: stopped by {signal_name}; running the same command again resumes" in output
    assert "0 of 4 experiments done, 2 failed, 2 not run" in output


def test_sigint_stops_a_run_a_script_started_in_the_background(project):
    """A non-interactive shell starts `sfgen run ... &` with SIGINT ignored; `kill -INT` must still stop it all."""
    output, pid_file, status_file = project.root / "out", project.root / "pid", project.root / "status"
    script = 'out=$1 pid=$2 status=$3; shift 3; "$@" > "$out" 2>&1 & echo $! > "$pid"; wait $!; echo $? > "$status"'
    shell = subprocess.Popen(["bash", "-c", script, "bash", output, pid_file, status_file, *_held_run(project)],
                             cwd=project.root, env=clean_env(), stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 2, what="two experiments to run")
        os.kill(int(pid_file.read_text()), signal.SIGINT)
        assert shell.wait(timeout=60) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
    assert status_file.read_text().strip() == "130"
    _assert_stopped_with_nothing_started_after(project, output.read_text(), "SIGINT")


def test_sigterm_to_the_process_group_stops_a_run(project):
    output = project.root / "out"
    with open(output, "w") as handle:
        proc = subprocess.Popen(_held_run(project), cwd=project.root, env=clean_env(), stdin=subprocess.DEVNULL,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 2, what="two experiments to run")
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_stopped_with_nothing_started_after(project, output.read_text(), "SIGTERM")


# --- what a run shows ----------------------------------------------------------------------------------------------


def _failing_sweep(project) -> Path:
    """Three experiments that finish and one that fails, printing a long line whose end is the cause."""
    trainer = project.root / "failing_trainer.py"
    trainer.write_text(f"import sys\nprint({LONG_LINE!r}, file=sys.stderr)\nsys.exit(1)\n")
    return project.write_run("mixed", SF2 + (
        f"RUN_DESCRIPTION = RunDescription('r', experiments=["
        f"Experiment('ok', {probe_cmd(project.probes)!r}, ParamList([{{'seed': s}} for s in range(3)]).generate_params(False)),"
        f"Experiment('bad', 'python {trainer}', ParamList([{{'seed': 0}}]).generate_params(False))])\n"))


def test_a_run_shows_one_line_per_start_and_end_and_a_summary_of_where_things_are(project):
    run = _failing_sweep(project)
    result = run_cli("run", f"--run={run}", "--pause_between=0", cwd=project.root, env=clean_env())
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 20, result.stdout  # 4 experiments; Snakemake printed about 90 lines for them
    names = ["00_ok_see_0", "01_ok_see_1", "02_ok_see_2", "00_bad_see_0"]
    assert sorted(line.split()[2] for line in lines if line.startswith("sfgen: started ")) == sorted(names)
    assert sorted(line.split()[2] for line in lines if line.startswith("sfgen: done ")) == sorted(names[:3])
    failed_events = [line for line in lines if line.startswith("sfgen: FAILED  ")]
    assert len(failed_events) == 1 and failed_events[0].startswith("sfgen: FAILED  00_bad_see_0 (exit 1); log: ")
    assert "input:" not in result.stdout and "localrule all" not in result.stdout and "SNAKEMAKE" not in result.stdout
    snakemake_log = re.search(r"Snakemake's log: (\S+)$", lines[1])
    assert snakemake_log and "Error in rule exp_00_bad_see_0:" in (project.root / snakemake_log.group(1)).read_text()
    assert "sfgen: 3 of 4 experiments done, 1 failed, 0 not run; " in result.stdout
    assert f"sfgen: FAILED 00_bad_see_0 (exit 1); log: {project.root / 'logs' / 'exp_00_bad_see_0.log'}" in lines
    assert f"      | {LONG_LINE}" in lines  # whole: the cause at its end is there
    assert "sfgen: experiment logs: logs/   markers: markers/   train dir: ./train_dir/r" in lines
    assert lines[-1] == ("sfgen: next: sfgen status --dir .; running the same command again runs only the failed and "
                         "missing experiments")


def test_status_and_the_launcher_show_whole_error_lines(project):
    run = _failing_sweep(project)
    assert run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", cwd=project.root).returncode == 0
    snakemake = run_snakemake("--profile", "profiles/local", cwd=project.root / "wf", env=clean_env())
    assert snakemake.returncode != 0 and LONG_LINE in snakemake.stderr  # the launcher's failure message
    status = run_cli("status", "--failed", cwd=project.root / "wf")
    shown = [line.removeprefix("      | ") for line in status.stdout.splitlines() if line.startswith("      | ")]
    assert len(shown) > 1 and all(len(line) <= 72 for line in shown)  # wrapped to the width ...
    assert LONG_LINE in "".join(shown)  # ... not cut


def test_a_terminal_shows_a_progress_bar_redrawn_in_place(project):
    run = _sweep(project, SF2, [{"seed": seed, "sleep": 0.5} for seed in range(3)])
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "sfgen", "run", f"--run={run}", "--max_parallel=1", "--pause_between=0"],
                            cwd=project.root, env=clean_env(TERM="xterm"), stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower)
    os.close(follower)
    output = bytearray()
    try:
        while True:
            select.select([leader], [], [], 60)
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            output.extend(chunk)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode())  # colours
    bars = re.findall(r"\r\x1b\[K(\[[#.]+\] (\d)/3 done, 0 failed, \d running, \d pending, \d+:\d\d elapsed, "
                      r"ETA (?:\?|\d+:\d\d))", text)
    assert len(bars) >= 2 and {done for _, done in bars} >= {"0", "1"}
    assert all(len(bar) <= 79 for bar, _ in bars)  # it fits the 80 columns: never wraps
    assert "sfgen: 3 of 3 experiments done, 0 failed, 0 not run; " in text


# --- missing cluster tools -----------------------------------------------------------------------------------------


def _path_without_clusters(tmp_path: Path) -> str:
    """A PATH with Python's bin directory (sfgen's programs) and the shell tools Snakemake needs, and no Slurm
    or ngc, whatever this machine has installed."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bash", "sh", "which"):
        (tools / tool).symlink_to(shutil.which(tool))
    return os.pathsep.join([str(tools), str(Path(sys.executable).parent)])


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--runner=slurm"], "a Slurm run needs Slurm's sbatch, squeue and scancel on PATH, and none of them is there"),
        (["--backend=ngc", "--ngc_job_template=ngc.template"], "an NGC run needs NGC's command-line tool ngc on PATH"),
    ],
    ids=["slurm", "ngc"],
)
def test_sfgen_run_without_the_clusters_tools_stops_before_anything(project, tmp_path, options, expected):
    (project.root / "ngc.template").write_text('ngc batch run --name "{{ name }}" --commandline "{{ experiment_cmd }}"\n')
    run = _sweep(project, SF2, [{"seed": 0}])
    result = run_cli("run", f"--run={run}", *options, cwd=project.root, env=clean_env(PATH=_path_without_clusters(tmp_path)))
    _one_line_error(result, expected, status=1)
    assert not (project.root / "Snakefile").exists() and probe_records(project.probes) == []


def test_snakemake_with_the_slurm_profile_and_no_slurm_says_so_in_one_line(project, tmp_path):
    """It printed 148 lines (`[Errno 2] No such file or directory: 'sacct'` per job)."""
    run = _sweep(project, SF2, [{"seed": 0}])
    assert run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root).returncode == 0
    result = run_snakemake("--profile", "profiles/slurm", cwd=project.root / "wf",
                           env=clean_env(PATH=_path_without_clusters(tmp_path)), timeout=120)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert errors[0] == ("sfgen: error: a Slurm run needs Slurm's sbatch, squeue and scancel on PATH, and none of them is "
                         "there: run it where jobs are submitted to the cluster (a login node), or put Slurm's commands on PATH")
    assert "Errno 2" not in result.stdout + result.stderr
    assert probe_records(project.probes) == [] and not (project.root / "wf" / "markers").exists()


# --- the small confusions ------------------------------------------------------------------------------------------


def test_a_dry_run_of_a_local_workflow_shows_only_the_local_resources(project):
    run = _sweep(project, SF2, [{"seed": 0}])
    assert run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root).returncode == 0
    local = run_snakemake("-n", cwd=project.root / "wf")
    shown = local.stdout + local.stderr
    assert local.returncode == 0, shown
    assert "sfgen_jobs=1" in shown and "cpus_per_gpu" not in shown and "gpu=" not in shown
    cluster = run_snakemake("-n", "--jobs", "2", cwd=project.root / "wf")  # --jobs: a cluster executor's run
    assert cluster.returncode == 0, cluster.stderr
    assert "gpu=1" in cluster.stdout + cluster.stderr and "cpus_per_gpu=14" in cluster.stdout + cluster.stderr


def test_status_rows_of_a_sample_factory_1_run_keep_their_counts_on_their_line(project):
    """An SF 1 run (its commands pass --train_dir and --experiments_root): rows are labelled by the varying
    parameters only, and a label longer than the column keeps its counts beside it."""
    long_env = "doom_health_gathering_supreme_with_a_much_longer_name"
    params = [{"env": env, "seed": seed} for env in ("doom_basic", long_env) for seed in (0, 1)]
    run = _sweep(project, SF1, params)
    result = run_cli("run", f"--run={run}", "--pause_between=0", cwd=project.root, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    status = run_cli("status", cwd=project.root).stdout.splitlines()
    assert status[0] == "r: 4 experiments: 4 done, 0 failed, 0 running, 0 pending"
    rows = [line for line in status if "seeds" in line]
    assert len(rows) == 2 and "experiments_root" not in "".join(rows)
    assert rows[0].split() == ["env=doom_basic", "2/2", "seeds", "done"]
    assert rows[1].split() == [f"env={long_env}", "2/2", "seeds", "done"]
