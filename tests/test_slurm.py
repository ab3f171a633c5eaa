"""The Slurm backend through the real CLI, real Snakemake and a real single-node Slurm (tests/slurm_cluster.py).

Without accounting, as the issue's check: compile with partition, GPUs, CPUs and a template, run
``snakemake --profile profiles/slurm`` (the shipped profile, unchanged), and look at what the experiments
saw, what Slurm was asked for, and what a rerun submits. Workflows are shared between asserts to keep
the file near 2 minutes: each Snakemake run against Slurm costs at least one status-check round.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from conftest import clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake

from sfgen.slurm.session import choose_status_command
from sfgen.slurm.template import SbatchTemplate, fold_directives
from tests import slurm_cluster as cluster_module
from tests.slurm_cluster import SlurmCluster

slurm_cluster = cluster_module.slurm_cluster  # the session fixture

V1_TEMPLATE = """\
#!/bin/bash
#SBATCH --mem=64
#SBATCH --output=slurm-%j.out
#SBATCH --nice=5
export PROBE_PRELUDE="set by the template"
cd {elsewhere}
"""


def write_run(root: Path, probes: Path, params: list[dict], name: str = "sweep", **description) -> Path:
    path = root / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
            RUN_DESCRIPTION = RunDescription("slurm_probe", experiments=[
                Experiment("probe", {probe_cmd(probes)!r}, ParamList({params!r}).generate_params(randomize=False),
                           env_vars={{"PROBE_ENV": "$(touch pwned_env) `touch pwned_env2`"}}),
            ], **{description!r})
            """
        )
    )
    return path


def job_details(cluster: SlurmCluster, job_id: str) -> str:
    return cluster.run("scontrol", "show", "job", job_id).stdout


@dataclass
class V1Run:
    root: Path
    wf: Path
    elsewhere: Path
    compiled: subprocess.CompletedProcess
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    jobs_first: list[dict]
    jobs_second: list[dict]
    records_first: list[dict]
    records_second: list[dict]


@pytest.fixture(scope="module")
def v1_run(slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> V1Run:
    """Four experiments (seed 2 fails) compiled with a v1 prelude template, run twice with profiles/slurm."""
    root = tmp_path_factory.mktemp("v1")
    probes, elsewhere = root / "probes", root / "elsewhere dir"
    probes.mkdir()
    elsewhere.mkdir()
    (root / "prelude.sh").write_text(V1_TEMPLATE.format(elsewhere=f"'{elsewhere}'"))
    run = write_run(root, probes, [{"seed": i, "exit": 3 if i == 2 else 0, "sleep": 0.5} for i in range(4)])
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_partition=gpu", "--slurm_gpus_per_job=1",
        "--slurm_cpus_per_gpu=2", "--slurm_sbatch_template=prelude.sh", cwd=root, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf = root / "wf"
    first = run_snakemake("--profile", "profiles/slurm", cwd=wf, env=env, timeout=240)
    jobs_first, records_first = slurm_cluster.jobs_in(wf), probe_records(probes)
    second = run_snakemake("--profile", "profiles/slurm", cwd=wf, env=env, timeout=240)
    return V1Run(
        root, wf, elsewhere, compiled, first, second, jobs_first, slurm_cluster.jobs_in(wf),
        records_first, probe_records(probes),
    )


def test_good_experiments_run_in_slurm_with_one_gpu_after_the_template_prelude(v1_run: V1Run) -> None:
    assert v1_run.first.returncode != 0, "a failed experiment must fail the run"
    done = {path.name for path in (v1_run.wf / "markers").glob("*.done")}
    assert len(done) == 3 and not any("see_2" in name for name in done), done
    assert len(v1_run.records_first) == 4
    for record in v1_run.records_first:
        assert record["cuda"] in {"0", "1", "2", "3"}, record  # one GPU, chosen by Slurm
        assert record["cwd"] == str(v1_run.elsewhere)  # the prelude's cd applied
        assert record["env"]["PROBE_PRELUDE"] == "set by the template"  # ... and its export
        assert record["env"]["PROBE_ENV"] == "$(touch pwned_env) `touch pwned_env2`"
    markers = [json.loads(path.read_text()) for path in (v1_run.wf / "markers").glob("*.done")]
    job_ids = {job["id"] for job in v1_run.jobs_first}
    assert all(marker["slurm_job_id"] in job_ids and marker["gpu"] in {"0", "1", "2", "3"} for marker in markers)
    assert not list(v1_run.root.rglob("pwned*"))


def test_slurm_gets_partition_gpus_cpus_and_the_templates_sbatch_lines(
    v1_run: V1Run, slurm_cluster: SlurmCluster
) -> None:
    assert len(v1_run.jobs_first) == 4
    for job in v1_run.jobs_first:
        shown = job_details(slurm_cluster, job["id"])
        assert "Partition=gpu" in shown and "TresPerJob=gres:gpu:1" in shown, shown
        assert "NumCPUs=2" in shown and "MinMemoryNode=64M" in shown, shown  # 1 GPU x 2 CPUs; #SBATCH --mem=64
        assert "Nice=5" in shown  # #SBATCH --nice=5, passed through slurm_extra
    # #SBATCH --output cannot be passed (Snakemake names the log): compile says so, in one line.
    assert "--output=slurm-%j.out ignored" in v1_run.compiled.stderr
    snakefile = (v1_run.wf / "Snakefile").read_text()
    assert "'slurm_mem_mb': 64" in snakefile and "'slurm_extra': '--nice=5'" in snakefile


def test_the_failed_experiment_has_no_marker_and_a_rerun_submits_only_it(v1_run: V1Run) -> None:
    failed = [job for job in v1_run.jobs_first if job["state"] == "FAILED"]
    assert len(failed) == 1 and "see_2" in failed[0]["rule"]
    rule = failed[0]["rule"]
    assert not (v1_run.wf / "markers" / f"{rule}.done").exists()
    assert json.loads((v1_run.wf / "markers" / f"{rule}.failed").read_text())["exit_code"] == 3
    assert (v1_run.wf / ".snakemake" / "slurm_logs" / f"rule_{rule}" / f"{failed[0]['id']}.log").is_file()

    assert v1_run.second.returncode != 0
    new = v1_run.jobs_second[len(v1_run.jobs_first) :]
    assert [job["rule"] for job in new] == [rule]
    assert [experiment_of(r) for r in v1_run.records_second[len(v1_run.records_first) :]] == [
        experiment_of(r) for r in v1_run.records_first if "see_2" in experiment_of(r)
    ]


# Print-only needs no cluster: tests/test_slurm_print_only.py


V2_TEMPLATE = """\
#!/bin/bash
#SBATCH --time=30
export PROBE_GPU=$GPU PROBE_CPU=${CPU} PROBE_PART="$PARTITION" PROBE_TIMEOUT=$TIMEOUT PROBE_FILE=$FILENAME
export PROBE_HOME="$HOME" PROBE_DOLLAR="$$HOME" PROBE_JOB="$SLURM_JOB_ID"
timeout $TIMEOUT $CMD
"""
HOSTILE = {"q": "it's \"quoted\"", "sub": "$(touch pwned1)", "tick": "`touch pwned2`", "semi": "x; touch pwned3",
           "amp": "a && touch pwned4", "nl": "two\nlines", "dollar": "$HOME"}


def test_v2_template_and_hostile_values_through_sfgen_run(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (tmp_path / "v2.sh").write_text(V2_TEMPLATE)
    run = write_run(tmp_path, probes, [HOSTILE, {"q": "plain"}], customize_experiment_name=False)
    result = run_cli(
        "run", f"--run={run}", "--runner=slurm", "--out=wf", "--slurm_workdir=slurm_logs", "--slurm_partition=gpu",
        "--slurm_gpus_per_job=0", "--slurm_cpus_per_gpu=1", "--slurm_sbatch_template=v2.sh", "--pause_between=1",
        cwd=tmp_path, env=slurm_cluster.run_env(clean_env()), timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 of 2 experiments done" in result.stdout
    records = probe_records(probes)
    assert len(records) == 2
    hostile = next(r for r in records if "--q=plain" not in r["argv"])
    received = [arg for arg in hostile["argv"] if arg.split("=")[0][2:] in HOSTILE]
    assert received == [f"--{key}={value}" for key, value in HOSTILE.items()]
    assert not list(tmp_path.rglob("pwned*")) and not list(Path("/tmp").glob("pwned*"))
    for record in records:
        env = record["env"]
        placeholders = (env["PROBE_GPU"], env["PROBE_CPU"], env["PROBE_PART"], env["PROBE_TIMEOUT"])
        assert placeholders == ("0", "1", "-p gpu ", "30m")
        assert env["PROBE_HOME"] == env["PROBE_DOLLAR"] == os.environ["HOME"]  # $HOME left for the shell; $$ is $
        assert Path(env["PROBE_FILE"]).is_file() and env["PROBE_FILE"].startswith(str(tmp_path / "wf" / ".sfgen"))
        assert env["PROBE_JOB"]
    jobs = slurm_cluster.jobs_in(tmp_path / "wf")
    assert len(jobs) == 2
    for job in jobs:  # no GPU: one task with slurm_cpus_per_gpu CPUs; #SBATCH --time=30
        shown = job_details(slurm_cluster, job["id"])
        assert "NumCPUs=1" in shown and "TimeLimit=00:30:00" in shown and "gres:gpu" not in shown, shown
        # --slurm_workdir: Slurm's job logs are kept there, also for jobs that succeeded
        assert (tmp_path / "slurm_logs" / f"rule_{job['rule']}" / f"{job['id']}.log").is_file()


RESUMABLE = """\
import json, os, subprocess, sys, time
state, mode = sys.argv[1], sys.argv[2]
with open(os.path.join(state, mode + ".runs"), "a") as runs:
    runs.write(os.environ["SLURM_JOB_ID"] + "\\n")
if mode == "crash":
    sys.exit(3)
checkpoint = os.path.join(state, "checkpoint")
if os.path.exists(checkpoint):  # resumed: the rest of the training is quick
    sys.exit(0)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(checkpoint + ".tmp", "w") as handle:
    json.dump({"pids": [os.getpid(), child.pid]}, handle)
os.replace(checkpoint + ".tmp", checkpoint)
time.sleep(600)
"""


def test_a_job_slurm_stops_is_killed_whole_and_resubmitted_and_a_crash_is_not_rerun(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    (tmp_path / "trainer.py").write_text(RESUMABLE)
    state = tmp_path / "state"
    state.mkdir()
    trainer = f"{sys.executable} {tmp_path / 'trainer.py'} {state}"
    (tmp_path / "resume.py").write_text(
        textwrap.dedent(
            f"""
            from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
            RUN_DESCRIPTION = RunDescription("resume", experiments=[
                Experiment("long", {trainer + ' long'!r}, ParamList([{{"a": 1}}]).generate_params(randomize=False)),
                Experiment("crash", {trainer + ' crash'!r}, ParamList([{{"a": 1}}]).generate_params(randomize=False)),
            ])
            """
        )
    )
    env = slurm_cluster.run_env(clean_env())
    compiled = run_cli(
        "compile", "--run=resume.py", "--out=wf", "--slurm_partition=gpu", "--slurm_cpus_per_gpu=1",
        "--slurm_runtime=10", "--slurm_timeout_retries=1", cwd=tmp_path, env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    wf = tmp_path / "wf"
    snakemake = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm"], cwd=wf, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        checkpoint = state / "checkpoint"
        deadline = time.monotonic() + 90
        while not checkpoint.exists():
            assert snakemake.poll() is None and time.monotonic() < deadline, snakemake.communicate()[0][-3000:]
            time.sleep(0.2)
        pids = json.loads(checkpoint.read_text())["pids"]
        job = next(job for job in slurm_cluster.jobs_in(wf) if "long" in job["rule"])
        slurm_cluster.run("scancel", job["id"])  # what Slurm does at the time limit: SIGTERM, then SIGKILL
        gone_by = time.monotonic() + 15
        while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids):
            assert time.monotonic() < gone_by, "the experiment's processes outlived its cancelled job"
            time.sleep(0.2)
        output, _ = snakemake.communicate(timeout=180)
    finally:
        if snakemake.poll() is None:
            os.killpg(snakemake.pid, signal.SIGKILL)
    assert snakemake.returncode != 0, output[-3000:]  # the crash still fails the run
    long_rule = next(job["rule"] for job in slurm_cluster.jobs_in(wf) if "long" in job["rule"])
    assert (wf / "markers" / f"{long_rule}.done").exists(), output[-3000:]  # resubmitted, resumed, done
    assert len((state / "long.runs").read_text().split()) == 2
    # Snakemake retried the crash too, but its launcher ended that retry without running it again.
    crash_jobs = [job for job in slurm_cluster.jobs_in(wf) if "crash" in job["rule"]]
    assert len(crash_jobs) == 2 and len((state / "crash.runs").read_text().split()) == 1
    assert "failed on its own earlier in this run (exit 3): not run again" in output
    crash = json.loads(next((wf / "markers").glob("*crash*.failed")).read_text())
    assert crash["exit_code"] == 3 and crash["slurm_job_id"] == crash_jobs[0]["id"]  # the refused retry kept it


def test_a_local_run_ignores_the_slurm_options_and_template(tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (tmp_path / "prelude.sh").write_text("#SBATCH --mem=64\nexit 7\n")
    run = write_run(tmp_path, probes, [{"seed": i, "sleep": 1.5} for i in range(3)])
    compiled = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_gpus_per_job=4", "--slurm_partition=gpu",
        "--slurm_sbatch_template=prelude.sh", "--max_parallel=3", "--pause_between=0", cwd=tmp_path, env=clean_env(),
    )
    assert compiled.returncode == 0, compiled.stderr
    result = run_snakemake("--profile", "profiles/local", cwd=tmp_path / "wf", env=clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    records = probe_records(probes)
    assert len(records) == 3 and all(record["cwd"] == str(tmp_path) for record in records)
    assert max(r["start"] for r in records) < min(r["end"] for r in records), "the gpu resource limited a local run"


@pytest.mark.parametrize(
    "template, options, message, code",  # code: 1 for a bad template, 2 for a bad option value (README)
    [
        (None, ["--slurm_sbatch_template=missing.sh"], "cannot read the Slurm sbatch template missing.sh: No such", 1),
        ("source env.sh\n", ["--slurm_extra=--exclusive -p other"], "slurm_extra has -p other: use --slurm_partition", 2),
        ("source env.sh\n", ["--slurm_extra=--gres=gpu:2"], "use --slurm_gpus_per_job and --slurm_cpus_per_gpu", 2),
        ("timeout $TIMEOUT $CMD\n[ $? = 124 ] && sbatch $FILENAME\n", [], "line 2 runs sbatch", 1),
        ("#SBATCH --time=soon\n", [], "cannot read --time=soon", 1),
    ],
)
def test_bad_templates_and_flags_are_one_line_compile_errors_that_write_nothing(tmp_path, template, options, message,
                                                                                  code):
    probes = tmp_path / "probes"
    probes.mkdir()
    if template is not None:
        (tmp_path / "t.sh").write_text(template)
        options = [*options, "--slurm_sbatch_template=t.sh"]
    run = write_run(tmp_path, probes, [{"seed": 0}])
    result = run_cli("compile", f"--run={run}", "--out=wf", *options, cwd=tmp_path, env=clean_env())
    assert result.returncode == code and result.stdout == ""
    assert result.stderr.startswith("sfgen: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "wf").exists()


def test_sbatch_lines_fill_unset_options_and_command_line_options_win() -> None:
    template = SbatchTemplate(
        "#!/bin/bash -l\n#SBATCH -p short --time=1-02:30\n#SBATCH --mem=2G -A lab  # comment\n"
        "#SBATCH --gres=gpu:8 --job-name=x\n#SBATCH --mail-type=END\nconda activate rl\n#SBATCH --qos=late\n"
    )
    given = {"slurm_gpus_per_job": 1, "slurm_cpus_per_gpu": 14, "slurm_partition": "gpu", "slurm_extra": "--exclusive"}
    options, notes = fold_directives(template, given)
    assert options["slurm_partition"] == "gpu"  # given: wins, as on SF's sbatch command line
    assert (options["slurm_runtime"], options["slurm_mem_mb"], options["slurm_account"]) == (1590, 2048, "lab")
    assert options["slurm_extra"] == "--mail-type=END --exclusive" and "slurm_qos" not in options  # after a command
    ignored = [note.split(": ")[1] for note in notes]
    assert ignored == ["-p short ignored", "--gres=gpu:8 ignored", "--job-name=x ignored"]
    assert template.interpreter == ["/bin/bash", "-l"] and template.form == "v1"


def test_status_command_is_sacct_only_where_accounting_answers(
    slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert choose_status_command("sacct") == "squeue"  # this cluster has no accounting database
    assert "sacct does not work here (Slurm accounting storage is disabled)" in capsys.readouterr().err
    assert choose_status_command("squeue") == "squeue"  # set explicitly: kept
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sacct").write_text("#!/bin/sh\nexit 0\n")  # a cluster whose accounting answers
    (fake / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert choose_status_command("sacct") == "sacct"
