"""NGC through the real CLI and real Snakemake, against the stand-in `ngc` (tests/fake_ngc) first on PATH.

Every `ngc batch info` call number 4, 8, 12, ... fails with a 503, as the real API does now and then.
The jobs really run: the stand-in starts each `--commandline` with /bin/sh in the background.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import (
    TESTS, clean_env, experiment_of, probe_cmd, probe_records, run_cli, run_snakemake, undeclared, wait_for,
)

FAKE_NGC = TESTS / "fake_ngc"
# test-only: check every second, submit without the profile's rate limit (so pause_between alone spaces them)
FAST_CHECKS = ("--seconds-between-status-checks", "1", "--max-status-checks-per-second", "20", "--max-jobs-per-timespan", "100/1s")
SF_TEMPLATE = """\
ngc batch run --name "{{ name }}" --instance dgx1v.16g.1.norm \\
    --image "nvcr.io/x:y" --result /results \\
    --commandline "{{ experiment_cmd }}"
"""


def ngc_env(project, shape: str = "flat", **extra: str) -> dict[str, str]:
    """The environment of a user with the stand-in as their `ngc`; shape flat/nested (JSON) or text."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("FAKE_NGC_")}
    env.update(
        # the stand-in first, then sfgen's console scripts (sfgen-ngc-*) where this Python installed them
        PATH=os.pathsep.join([str(FAKE_NGC), str(Path(sys.executable).parent), os.environ["PATH"]]),
        FAKE_NGC_STATE=str(project.root / "ngc_state"),
        FAKE_NGC_INFO_FAIL_EVERY="4",
        FAKE_NGC_JSON_SHAPE="nested" if shape == "nested" else "flat",
    )
    env.update(extra)
    return env


def write_template(project, shape: str = "flat", text: str = SF_TEMPLATE) -> Path:
    """An SF-style template; JSON shapes ask ngc for JSON, the text shape keeps its text output."""
    path = project.root / "job.template"
    path.write_text(text.rstrip("\n") + (" --format_type json\n" if shape != "text" else "\n"))
    return path


def ngc_calls(project, command: str) -> list[dict]:
    path = project.root / "ngc_state" / "submissions.jsonl"
    calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [call for call in calls if call["command"] == command]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def called_at(call: dict) -> float:
    """When the stand-in was called (its log's ISO 8601 UTC time), as seconds since the epoch."""
    return datetime.fromisoformat(call["time"].replace("Z", "+00:00")).timestamp()


def ngc_job(project, job_id: str | int) -> dict:
    return json.loads((project.root / "ngc_state" / f"{job_id}.json").read_text())


def ngc_job_ids(project) -> list[str]:
    """Every job the stand-in made, in submission order (ids as sfgen reads them: strings)."""
    return [str(n) for n in sorted(int(p.stem) for p in (project.root / "ngc_state").glob("[0-9]*.json"))]


def write_sweep(project, params: list[dict], env_vars=None) -> Path:
    return project.write_run(
        "sweep",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("ngc_run", experiments=[
            Experiment("probe", {probe_cmd(project.probes)!r}, ParamList({params!r}).generate_params(randomize=False),
                       env_vars={env_vars!r}),
        ])
        """,
    )


def listed(project, run: Path) -> list[dict]:
    result = run_cli("list", f"--run={run}", "--json", cwd=project.root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def use_fast_checks(workflow: Path) -> None:
    """Test-only tuning of the user's copy of the profile (kept by later compiles): check every second."""
    profile = workflow / "profiles" / "ngc" / "config.yaml"
    text = profile.read_text()
    assert "seconds-between-status-checks: 20" in text
    profile.write_text(text.replace("seconds-between-status-checks: 20", "seconds-between-status-checks: 1"))


@pytest.mark.parametrize("shape", ["flat", "nested", "text"])
def test_sf_template_submits_each_experiment_once_tracks_it_and_reruns_only_the_failed(project, shape):
    run = write_sweep(project, [{"seed": i, "exit": 3 if i == 2 else 0, "sleep": 0.5} for i in range(4)])
    template = write_template(project, shape)
    env = ngc_env(project, shape)
    experiments = listed(project, run)
    args = ("run", f"--run={run}", "--runner=ngc", f"--ngc_job_template={template}", "--out=wf", "--pause_between=0")

    printed = run_cli(*args, "--ngc_print_only=True", cwd=project.root, env=env)
    assert printed.returncode == 0, printed.stderr
    commands = [shlex.split(line) for line in printed.stdout.splitlines()]
    assert [(c[:3], option(c, "--name"), option(c, "--commandline")) for c in commands] == [
        (["ngc", "batch", "run"], e["name"], e["cmd"]) for e in experiments
    ]
    assert not (project.root / "ngc_state").exists() and not (project.root / "wf").exists()  # no ngc call at all

    assert run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root, env=env).returncode == 0
    use_fast_checks(project.root / "wf")
    first = run_cli(*args, cwd=project.root, env=env)
    assert first.returncode != 0
    assert "3 of 4 experiments done, 1 failed" in first.stdout
    submitted = [call["argv"] for call in ngc_calls(project, "batch run")]
    assert sorted((option(a, "--name"), option(a, "--commandline")) for a in submitted) == sorted(
        (e["name"], e["cmd"]) for e in experiments
    )
    assert sorted(experiment_of(r) for r in probe_records(project.probes)) == [e["name"] for e in experiments]
    assert {r["cwd"] for r in probe_records(project.probes)} == {str(project.root)}
    info_calls = int((project.root / "ngc_state" / "info_calls").read_text())
    assert info_calls >= 4  # so some `batch info` calls failed, and the run went on

    wf = project.root / "wf"
    good, bad = [e for e in experiments if "exi_0" in e["name"]], experiments[2]
    assert len(good) == 3 and "exi_3" in bad["name"]
    for experiment in good:
        marker = json.loads((wf / experiment["marker"]).read_text())
        assert marker["ngc_status"] == "FINISHED_SUCCESS" and marker["exit_code"] == 0
        assert marker["cmd"] == experiment["cmd"] and marker["start"] and marker["end"]
        assert ngc_job(project, marker["ngc_job_id"])["name"] == experiment["name"]
        assert not undeclared(marker)
    assert not (wf / bad["marker"]).exists()
    failure = json.loads((wf / f"markers/{bad['rule']}.failed").read_text())
    assert failure["ngc_status"] == "FAILED" and failure["exit_code"] == 3 and not undeclared(failure)
    assert f"NGC job {failure['ngc_job_id']} ended FAILED" in (wf / bad["log"]).read_text()

    rerun = run_cli(*args, cwd=project.root, env=env)
    assert rerun.returncode != 0
    again = [option(call["argv"], "--name") for call in ngc_calls(project, "batch run")[len(submitted) :]]
    assert again == [bad["name"]]


HOSTILE = ['a"b', "$(touch PWNED1)", "`touch PWNED2`", "x; touch PWNED3", "it's", "--z=1 && touch PWNED4"]


def test_hostile_values_arrive_literally_env_vars_reach_the_job_and_pause_between_spaces_submissions(project):
    env_vars = {"PROBE_E": "$(touch PWNED5) `touch PWNED6` \"q\" 'r'"}
    run = write_sweep(project, [{"tag": value} for value in HOSTILE], env_vars=env_vars)
    template = write_template(project)
    env = ngc_env(project)
    experiments = listed(project, run)

    printed = run_cli("run", f"--run={run}", "--runner=ngc", f"--ngc_job_template={template}", "--ngc_print_only=True",
                      cwd=project.root, env=env)
    assert printed.returncode == 0, printed.stderr
    assert [option(shlex.split(line), "--name") for line in printed.stdout.splitlines()] == [e["name"] for e in experiments]

    compiled = run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=2",
                       cwd=project.root, env=env)
    assert compiled.returncode == 0, compiled.stderr
    result = run_snakemake("--profile", "profiles/ngc", *FAST_CHECKS, cwd=project.root / "wf", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    records = probe_records(project.probes)
    assert len(records) == len(HOSTILE)
    assert sorted(next(a[len("--tag="):] for a in r["argv"] if a.startswith("--tag=")) for r in records) == sorted(HOSTILE)
    assert all(r["env"] == {"PROBE_E": env_vars["PROBE_E"]} for r in records)
    assert sorted(experiment_of(r) for r in records) == sorted(e["name"] for e in experiments)
    assert not [p for p in project.root.rglob("PWNED*")] and not list(Path.cwd().glob("PWNED*"))
    stamps = sorted(called_at(call) for call in ngc_calls(project, "batch run"))
    assert len(stamps) == len(HOSTILE)
    assert all(b - a >= 1.6 for a, b in itertools.pairwise(stamps)), stamps  # 2 s, less ngc's start-up jitter


def _snakemake(project, env) -> subprocess.Popen:
    """Snakemake in a process group of its own, as in a terminal (where Ctrl-C reaches the whole group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/ngc", *FAST_CHECKS],
        cwd=project.root / "wf", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def test_crash_reattaches_and_ctrl_c_kills_the_submitted_jobs_and_a_rerun_submits_them_afresh(project):
    run = write_sweep(project, [{"seed": i, "sleep": 120} for i in range(2)])
    template = write_template(project)
    env = ngc_env(project)
    assert run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                   cwd=project.root, env=env).returncode == 0
    wf = project.root / "wf"

    crashed = _snakemake(project, env)
    wait_for(lambda: len(probe_records(project.probes)) == 2, timeout=90, what="both NGC jobs to run")
    crashed.kill()  # Snakemake dies without cancelling: the NGC jobs go on
    crashed.wait()
    ids = sorted(json.loads(p.read_text())["job_id"] for p in (wf / ".sfgen" / "ngc").glob("*.json"))
    assert len(ids) == 2 and ids == ngc_job_ids(project)
    assert all(ngc_job(project, i)["status"] == "RUNNING" for i in ids)

    def status_checks(job_id: str) -> int:
        return sum(job_id in call["argv"] for call in ngc_calls(project, "batch info"))

    resumed = _snakemake(project, env)
    logs = [wf / e["log"] for e in listed(project, run)]
    assert len(logs) == 2
    wait_for(lambda: all("re-attached to NGC job" in log.read_text() for log in logs), timeout=90,
             what="the next run to re-attach to both jobs")
    checked = {job_id: status_checks(job_id) for job_id in ids}
    wait_for(lambda: all(status_checks(job_id) > checked[job_id] for job_id in ids), timeout=30,
             what="a status check of each re-attached job")
    assert len(ngc_calls(project, "batch run")) == 2  # tracked, not submitted again
    os.killpg(resumed.pid, signal.SIGINT)  # Ctrl-C
    assert resumed.wait(timeout=60) != 0
    wait_for(lambda: all(ngc_job(project, i)["status"] == "KILLED_BY_USER" for i in ids), timeout=30,
             what="both jobs to be killed")
    killed = {arg for call in ngc_calls(project, "batch kill") for arg in call["argv"][2:]}
    assert killed == set(ids)
    assert not list(wf.glob("markers/*.done"))

    rerun = _snakemake(project, env)
    wait_for(lambda: len(ngc_calls(project, "batch run")) == 4, timeout=90, what="the rerun to submit both afresh")
    os.killpg(rerun.pid, signal.SIGINT)
    assert rerun.wait(timeout=60) != 0
    every = ngc_job_ids(project)
    assert len(every) == 4 and every[:2] == ids
    wait_for(lambda: all(ngc_job(project, i)["status"] == "KILLED_BY_USER" for i in every), timeout=30,
             what="all four jobs to be killed")


def test_a_second_snakemake_on_a_running_ngc_workflow_is_refused_and_exits_leaving_the_first_s_job(project):
    """The refusal comes from onstart, after cluster-generic started its sidecar: the run must still end."""
    run = write_sweep(project, [{"seed": 0, "sleep": 120}])
    template = write_template(project)
    env = ngc_env(project)
    assert run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                   cwd=project.root, env=env).returncode == 0
    first = _snakemake(project, env)
    try:
        wait_for(lambda: len(probe_records(project.probes)) == 1, timeout=90, what="the NGC job to run")
        second = run_snakemake("--profile", "profiles/ngc", cwd=project.root / "wf", env=env, timeout=60)
        assert second.returncode != 0 and "another Snakemake" in second.stderr, second.stderr[-2000:]
        assert len(ngc_calls(project, "batch run")) == 1 and ngc_calls(project, "batch kill") == []
        assert first.poll() is None and ngc_job(project, ngc_job_ids(project)[0])["status"] == "RUNNING"
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=60)


def test_an_ngc_outage_never_aborts_the_workflow_and_a_rerun_reattaches_to_the_finished_job(project):
    run = write_sweep(project, [{"seed": 0, "sleep": 0}])
    template = write_template(project)
    assert run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                   cwd=project.root, env=ngc_env(project)).returncode == 0
    wf = project.root / "wf"
    spec = listed(project, run)[0]
    stderr = project.root / "snakemake.err"
    with open(stderr, "w") as err:
        down = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/ngc", *FAST_CHECKS], cwd=wf,
                                env=ngc_env(project, FAKE_NGC_INFO_FAIL_EVERY="1"), stdout=err, stderr=err)
        wait_for(lambda: stderr.read_text().count("asking again at the next check") >= 2, timeout=90,
                 what="two failed status checks")
        assert down.poll() is None  # still waiting for the job, not aborted
        down.kill()
        down.wait()
    [job_id] = ngc_job_ids(project)
    assert ngc_job(project, job_id)["status"] == "FINISHED_SUCCESS" and not (wf / spec["marker"]).exists()

    again = run_snakemake("--profile", "profiles/ngc", *FAST_CHECKS, cwd=wf, env=ngc_env(project))
    assert again.returncode == 0, again.stderr
    assert len(ngc_calls(project, "batch run")) == 1
    assert json.loads((wf / spec["marker"]).read_text())["ngc_job_id"] == job_id
    assert f"re-attached to NGC job {job_id}" in (wf / spec["log"]).read_text()
    unknown = subprocess.run(["sfgen-ngc-status", "999"], cwd=wf, env=ngc_env(project), capture_output=True, text=True)
    assert (unknown.returncode, unknown.stdout) == (0, "failed\n")


BAD_TEMPLATES = {
    "no_experiment_cmd": ('ngc batch run --name "{{ name }}" --instance i --image im --result /r --commandline "python t.py"',
                          "does not use {{ experiment_cmd }}"),
    "shell_operator": ('ngc batch run --name "{{ name }}" --commandline "{{ experiment_cmd }}"; echo sent', "shell operator ';'"),
    "unknown_variable": ('ngc batch run --name "{{ nam }}" --commandline "{{ experiment_cmd }}"', "unknown variable(s) nam"),
    "not_ngc": ('echo batch run --commandline "{{ experiment_cmd }}"', "not an `ngc batch run` command"),
    "two_lines": ('ngc batch run --name "{{ name }}"\n--commandline "{{ experiment_cmd }}"', "2 command lines"),
    "jinja_syntax": ('ngc batch run --commandline "{{ experiment_cmd }"', "line 1"),
    "quotes": ('ngc batch run --commandline "{{ experiment_cmd }}', "balance its quotes"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TEMPLATES) + ["missing_file"])
def test_bad_template_is_refused_with_one_line_and_nothing_written(project, kind):
    run = write_sweep(project, [{"seed": 0}])
    template = project.root / "job.template"
    if kind != "missing_file":
        template.write_text(BAD_TEMPLATES[kind][0] + "\n")
    expected = BAD_TEMPLATES[kind][1] if kind != "missing_file" else "cannot read the NGC job template"
    env = ngc_env(project)
    for args in (
        ("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}"),
        ("run", f"--run={run}", "--out=wf", "--runner=ngc", f"--ngc_job_template={template}"),
        ("run", f"--run={run}", "--out=wf", "--runner=ngc", f"--ngc_job_template={template}", "--ngc_print_only=True"),
    ):
        result = run_cli(*args, cwd=project.root, env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and result.stdout == "", (args, result.stderr)
        assert lines[0].startswith("sfgen: error:") and expected in lines[0], lines[0]
        assert not (project.root / "wf").exists() and ngc_calls(project, "batch run") == []


def test_runner_ngc_without_a_template_is_refused(project):
    run = write_sweep(project, [{"seed": 0}])
    result = run_cli("run", f"--run={run}", "--out=wf", "--runner=ngc", cwd=project.root, env=ngc_env(project))
    assert result.returncode == 1 and "pass --ngc_job_template=FILE" in result.stderr
    assert not (project.root / "wf").exists()


def test_job_ids_and_states_are_read_from_every_output_form_of_ngc(project):
    from sfgen.ngc import api

    env = ngc_env(project)
    base = ["ngc", "batch", "run", "--name", "n", "--instance", "i", "--image", "im", "--result", "/r"]
    outputs = {}
    for form, extra, shape in (("flat", ["--format_type", "json"], "flat"), ("nested", ["--format_type", "json"], "nested"),
                               ("text", [], "flat")):
        e = {**env, "FAKE_NGC_JSON_SHAPE": shape, "FAKE_NGC_INFO_FAIL_EVERY": "0"}
        out = subprocess.run([*base, "--commandline", "exit 7", *extra], capture_output=True, text=True, env=e).stdout
        job = api.job_id(out)
        assert job is not None
        wait_for(lambda job=job: ngc_job(project, job)["status"] == "FAILED", timeout=10, what=f"job {job} to fail")
        outputs[form] = api.job_info(subprocess.run(["ngc", "batch", "info", job, *extra], capture_output=True, text=True,
                                                     env=e).stdout)
    assert list(outputs) == ["flat", "nested", "text"]
    assert [outputs[form].status for form in outputs] == ["FAILED"] * 3
    assert [outputs[form].exit_code for form in outputs] == [7] * 3
    assert all(outputs[form].started and outputs[form].ended for form in outputs)
    assert api.job_id("Error: 503") is None and api.job_info("garbage") is None
    assert [api.verdict(s) for s in ("QUEUED", "FINISHED_SUCCESS", "TASK_LOST", "NEW_STATE")] == ["running", "success", "failed", None]


def test_the_template_text_is_frozen_in_the_snakefile(project):
    """README: compile keeps the template's text in the Snakefile; the workflow runs as compiled whatever
    later happens to the file."""
    run = write_sweep(project, [{"seed": 0}])
    template = write_template(project, text=SF_TEMPLATE.replace("dgx1v.16g.1.norm", "compiled.instance"))
    env = ngc_env(project)
    compiled = run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                       cwd=project.root, env=env)
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    write_template(project, text=SF_TEMPLATE.replace("dgx1v.16g.1.norm", "edited.instance"))  # the file changes later
    result = run_snakemake("--profile", "profiles/ngc", *FAST_CHECKS, cwd=wf, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    submitted = ngc_calls(project, "batch run")
    assert len(submitted) == 1
    assert option(submitted[0]["argv"], "--instance") == "compiled.instance"
    assert len(probe_records(project.probes)) == 1


def test_pause_between_spaces_local_starts_and_ngc_submissions_alike(project):
    """README: pause_between is the time between two submissions, shared with local starts of the same
    workflow: an NGC submission waits for it after a local start, and a local start after a submission."""
    pause = 5.0
    run = write_sweep(project, [{"seed": i} for i in range(3)])
    template = write_template(project)
    env = ngc_env(project)
    compiled = run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", f"--pause_between={pause}",
                       cwd=project.root, env=env)
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    experiments = listed(project, run)
    assert len(experiments) == 3

    def started(experiment: dict) -> float:
        [record] = [r for r in probe_records(project.probes) if experiment_of(r) == experiment["name"]]
        return record["start"]

    local = run_snakemake("--profile", "profiles/local", experiments[0]["rule"], cwd=wf, env=env)
    assert local.returncode == 0, local.stderr
    launched = time.time()
    assert launched - started(experiments[0]) < pause, "this machine is too slow to show the spacing"
    remote = run_snakemake("--profile", "profiles/ngc", *FAST_CHECKS, experiments[1]["rule"], cwd=wf, env=env)
    assert remote.returncode == 0, remote.stdout + remote.stderr
    submitted = ngc_calls(project, "batch run")
    assert len(submitted) == 1 and option(submitted[0]["argv"], "--name") == experiments[1]["name"]
    assert called_at(submitted[0]) - started(experiments[0]) >= pause - 0.3

    local = run_snakemake("--profile", "profiles/local", experiments[2]["rule"], cwd=wf, env=env)
    assert local.returncode == 0, local.stderr
    assert started(experiments[2]) - called_at(submitted[0]) >= pause - 0.3
