"""NGC when `ngc` misbehaves (issue 14: D2, D14), through the real CLI, real Snakemake and the stand-in `ngc`.

The stand-in's fault modes (tests/fake_ngc/README.md): FAKE_NGC_RUN_FAULT=hang-before|hang-after|html makes
`ngc batch run` never answer (with or without having made the job) or print an HTML error page with exit 0
(having made the job), for the jobs named by FAKE_NGC_RUN_FAULT_NAMES; FAKE_NGC_HANG=info|kill makes those
calls never answer. Processes left behind are counted with psutil, by their command line and directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import run_cli, start_logged, wait_for
from test_ngc import FAKE_NGC, ngc_calls, ngc_env, ngc_job, option, use_fast_checks, write_sweep, write_template

SUBMIT_TIMEOUT_S = 3  # the test workflows' `sfgen-ngc-submit --timeout` (the profile's default is 120)


def compile_workflow(project, params: list[dict], submit_timeout: int | None = None) -> tuple[Path, list[dict], Path]:
    """The sweep compiled into project/wf (status checked every second); with ``submit_timeout`` the user's copy
    of the profile gives `ngc batch run` that many seconds. Returns the run module, its experiments, the template."""
    run = write_sweep(project, params)
    template = write_template(project)
    compiled = run_cli("compile", f"--run={run}", "--out=wf", f"--ngc_job_template={template}", "--pause_between=0",
                       cwd=project.root, env=ngc_env(project))
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    use_fast_checks(wf)
    if submit_timeout is not None:
        profile = wf / "profiles" / "ngc" / "config.yaml"
        text, count = re.subn(r"(?m)^cluster-generic-submit-cmd:.*$",
                              f'cluster-generic-submit-cmd: "sfgen-ngc-submit --timeout={submit_timeout}"',
                              profile.read_text())
        assert count == 1
        profile.write_text(text)
    listing = run_cli("list", f"--run={run}", "--json", cwd=project.root)
    assert listing.returncode == 0, listing.stderr
    return run, json.loads(listing.stdout), template


def sfgen_run(project, run: Path, template: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`sfgen run --runner=ngc` of the compiled workflow (a run that hangs fails the test after 3 minutes)."""
    return run_cli("run", f"--run={run}", "--runner=ngc", f"--ngc_job_template={template}", "--out=wf",
                   "--pause_between=0", cwd=project.root, env=env, timeout=180)


def fault_env(project, fault: str, name: str) -> dict[str, str]:
    """The user's environment with `ngc batch run` misbehaving (``fault``) for the experiment ``name`` alone."""
    return ngc_env(project, FAKE_NGC_RUN_FAULT=fault, FAKE_NGC_RUN_FAULT_NAMES=f"^{re.escape(name)}$")


def _mentions(proc: psutil.Process, root: str) -> list[str]:
    """The command line of ``proc`` if it is alive and belongs to this test (runs in its directory or names
    it), else []. (A zombie has ended: it is just not reaped yet.)"""
    try:
        cmdline, cwd, alive = proc.cmdline(), proc.cwd(), proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return []
    return cmdline if alive and (cwd.startswith(root) or any(root in word for word in cmdline)) else []


def left_behind(project) -> list[str]:
    """sfgen's NGC programs (submit and its detached child, status, cancel, sidecar) and `ngc batch` calls of this
    test still alive. The NGC jobs themselves are not counted: they run "remotely"."""
    found = []
    for proc in psutil.process_iter():
        cmdline = _mentions(proc, str(project.root))
        ngc_call = str(FAKE_NGC / "ngc") in cmdline and "batch" in cmdline
        if ngc_call or any("sfgen-ngc-" in word for word in cmdline):
            found.append(" ".join(cmdline))
    return found


@pytest.fixture
def reaper(project):
    """After the test, stop whatever it started that is still running (only a failing test leaves any)."""
    yield
    for proc in psutil.process_iter():
        if _mentions(proc, str(project.root)) and proc.pid != psutil.Process().pid:
            try:
                proc.kill()
            except psutil.Error:
                pass


def submissions_of(project, name: str) -> list[dict]:
    return [call for call in ngc_calls(project, "batch run") if option(call["argv"], "--name") == name]


def lines_with(text: str, part: str) -> list[str]:
    return [line for line in text.splitlines() if part in line]


def ngc(project, *args: str) -> subprocess.CompletedProcess:
    """The user's own `ngc` call."""
    return subprocess.run(["ngc", *args], capture_output=True, text=True, env=ngc_env(project), timeout=30)


def _unknown_outcome_is_recorded_refused_and_resolved(project, fault: str, outcome: str, problem: str) -> None:
    """One experiment's `ngc batch run` misbehaves (``fault``) after making its job: the run still ends, that
    experiment counts as failed with ``problem`` named on stderr and in its log, its failure record says
    ``outcome``; a rerun refuses it with one line instead of submitting a duplicate; after the user looks the
    job up with `ngc batch list`, kills it and resets the experiment, the next run submits it again."""
    run, experiments, template = compile_workflow(
        project, [{"seed": i, "sleep": 0.2} for i in range(2)], submit_timeout=SUBMIT_TIMEOUT_S
    )
    assert len(experiments) == 2
    bad, good = experiments
    wf = project.root / "wf"

    first = sfgen_run(project, run, template, fault_env(project, fault, bad["name"]))
    assert first.returncode != 0
    assert "1 of 2 experiments done, 1 failed" in first.stdout, first.stdout + first.stderr
    assert (wf / good["marker"]).exists() and not (wf / bad["marker"]).exists()
    failure = json.loads((wf / f"markers/{bad['rule']}.failed").read_text())
    assert failure["ngc_submission"] == outcome and failure["ngc_job_id"] is None
    said = lines_with(first.stderr, problem)
    assert len(said) == 1, first.stderr
    assert bad["name"] in said[0] and "ngc batch list" in said[0] and f"sfgen reset {bad['name']}" in said[0]
    assert len(lines_with((wf / bad["log"]).read_text(), problem)) == 1
    assert wait_for(lambda: not left_behind(project), timeout=30, what="no sfgen-ngc-* or ngc batch process left")

    listed = json.loads(ngc(project, "batch", "list", "--name", bad["name"], "--format_type", "json").stdout)
    assert len(listed) == 1  # the job that sfgen could not learn the id of: it was made, and it runs
    assert len(submissions_of(project, bad["name"])) == 1

    rerun = sfgen_run(project, run, template, ngc_env(project))
    assert rerun.returncode != 0
    assert len(submissions_of(project, bad["name"])) == 1  # no duplicate
    refused = lines_with(rerun.stderr, f"not submitting {bad['name']}")
    assert len(refused) == 1, rerun.stderr
    assert "ngc batch list" in refused[0] and f"sfgen reset {bad['name']}" in refused[0]

    assert ngc(project, "batch", "kill", str(listed[0]["id"])).returncode == 0
    reset = run_cli("reset", bad["name"], cwd=wf)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    resolved = sfgen_run(project, run, template, ngc_env(project))
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    again = submissions_of(project, bad["name"])
    assert len(again) == 2
    assert json.loads((wf / bad["marker"]).read_text())["ngc_status"] == "FINISHED_SUCCESS"


def test_d2_a_hanging_ngc_batch_run_times_out_is_recorded_and_never_duplicated(project, reaper):
    _unknown_outcome_is_recorded_refused_and_resolved(
        project, "hang-after", "outcome unknown", f"no answer within {SUBMIT_TIMEOUT_S} s"
    )


def test_d14_a_job_id_missing_from_ngc_output_is_recorded_and_never_duplicated(project, reaper):
    _unknown_outcome_is_recorded_refused_and_resolved(project, "html", "submitted, id unknown", "printed no job id")


STOPS = {
    # how the run is stopped: which program is started, and which signal goes where
    "ctrl_c_to_sfgen_run": ("sfgen", signal.SIGINT, "group"),  # Ctrl-C in the terminal of `sfgen run`
    "sigterm_to_sfgen_run": ("sfgen", signal.SIGTERM, "pid"),  # `kill PID` of `sfgen run`: it passes it on
    "sigint_to_snakemake": ("snakemake", signal.SIGINT, "pid"),  # `kill -INT PID` of snakemake alone
    "sigterm_to_snakemake_group": ("snakemake", signal.SIGTERM, "group"),  # `kill -TERM -PGID`, a closing session
    "sigterm_to_snakemake": ("snakemake", signal.SIGTERM, "pid"),  # `kill PID` of snakemake alone
}


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_d2_a_signal_ends_a_run_stuck_in_ngc_batch_run_and_leaves_no_process_behind(project, reaper, stop):
    program, signum, target = STOPS[stop]
    run, experiments, template = compile_workflow(project, [{"seed": i, "sleep": 300} for i in range(2)])
    assert len(experiments) == 2
    hung = experiments[1]
    wf = project.root / "wf"
    env = fault_env(project, "hang-before", hung["name"])
    if program == "sfgen":
        argv = [sys.executable, "-m", "sfgen", "run", f"--run={run}", "--runner=ngc", f"--ngc_job_template={template}",
                "--out=wf", "--pause_between=0"]
        cwd = project.root
    else:
        argv, cwd = [sys.executable, "-m", "snakemake", "--profile", "profiles/ngc"], wf
    log = project.root / "run.log"
    proc = start_logged(argv, cwd, log, env, start_new_session=True)  # its own group, as in a terminal
    wait_for(lambda: submissions_of(project, hung["name"]), timeout=120, what="the hanging `ngc batch run`")
    # the other experiment, if submitted before it, is running: its job must not survive the stop
    submitted = [call for call in ngc_calls(project, "batch run") if option(call["argv"], "--name") != hung["name"]]
    jobs = sorted(path.stem for path in (project.root / "ngc_state").glob("[0-9]*.json"))
    assert len(jobs) == len(submitted) <= 1  # Snakemake picks the order: the other one may not be submitted yet

    if target == "group":
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    proc.wait(timeout=90)
    assert proc.returncode != 0
    assert wait_for(lambda: not left_behind(project), timeout=60, what="no sfgen-ngc-* or ngc batch process left")
    assert all(ngc_job(project, job)["status"] == "KILLED_BY_USER" for job in jobs)
    failure = json.loads((wf / f"markers/{hung['rule']}.failed").read_text())
    assert failure["ngc_submission"] == "outcome unknown"
    said = lines_with((wf / hung["log"]).read_text(), "outcome unknown")
    assert len(said) == 1 and "interrupted" in said[0]


def start_snakemake_in_terminal(project, env: dict[str, str], log_name: str) -> subprocess.Popen:
    """`snakemake --profile profiles/ngc` in the workflow, in a process group of its own as in a terminal."""
    argv = [sys.executable, "-m", "snakemake", "--profile", "profiles/ngc"]
    return start_logged(argv, project.root / "wf", project.root / log_name, env, start_new_session=True)


def only_job(project) -> str:
    jobs = wait_for(lambda: sorted(path.stem for path in (project.root / "ngc_state").glob("[0-9]*.json")), timeout=120,
                    what="the NGC job")
    assert len(jobs) == 1
    wait_for(lambda: ngc_job(project, jobs[0])["status"] == "RUNNING", timeout=60, what="the NGC job to run")
    return jobs[0]


def test_a_silent_ngc_batch_info_does_not_hold_up_ctrl_c(project, reaper):
    compile_workflow(project, [{"seed": 0, "sleep": 300}])
    running = start_snakemake_in_terminal(project, ngc_env(project, FAKE_NGC_HANG="info"), "run.log")
    job = only_job(project)
    wait_for(lambda: ngc_calls(project, "batch info"), timeout=60, what="a status check (it never answers)")
    os.killpg(running.pid, signal.SIGINT)  # Ctrl-C
    running.wait(timeout=30)  # the check in progress is given up: Snakemake waits for it before it ends
    assert running.returncode != 0
    assert wait_for(lambda: not left_behind(project), timeout=30, what="no sfgen-ngc-* or ngc batch process left")
    assert ngc_job(project, job)["status"] == "KILLED_BY_USER"


def test_a_silent_ngc_batch_kill_is_given_up_said_and_the_next_run_reattaches(project, reaper):
    from sfgen.ngc.cancel import KILL_TIMEOUT_S

    _, experiments, _ = compile_workflow(project, [{"seed": 0, "sleep": 300}])
    assert len(experiments) == 1
    wf = project.root / "wf"
    running = start_snakemake_in_terminal(project, ngc_env(project, FAKE_NGC_HANG="kill"), "run.log")
    job = only_job(project)
    os.killpg(running.pid, signal.SIGINT)  # Ctrl-C
    running.wait(timeout=KILL_TIMEOUT_S + 30)
    assert running.returncode != 0
    assert wait_for(lambda: not left_behind(project), timeout=30, what="no sfgen-ngc-* or ngc batch process left")
    said = lines_with((project.root / "run.log").read_text(), f"could not kill NGC job {job}")
    assert 1 <= len(said) <= 2  # from Snakemake's cancel command and from the sidecar, as each got to it
    assert all(f"no answer within {KILL_TIMEOUT_S:g} s" in line and f"ngc batch kill {job}" in line for line in said)
    assert ngc_job(project, job)["status"] == "RUNNING"  # still running, and still followed:
    assert "cancelled" not in json.loads((wf / ".sfgen" / "ngc" / f"{job}.json").read_text())

    rerun = start_snakemake_in_terminal(project, ngc_env(project), "rerun.log")
    wait_for(lambda: f"re-attached to NGC job {job}" in (wf / experiments[0]["log"]).read_text(), timeout=120,
             what="the next run to re-attach to the job")
    assert len(ngc_calls(project, "batch run")) == 1
    os.killpg(rerun.pid, signal.SIGINT)
    rerun.wait(timeout=60)
    wait_for(lambda: ngc_job(project, job)["status"] == "KILLED_BY_USER", timeout=30, what="the job to be killed")


def test_the_stand_in_misbehaves_as_asked(project):
    env = ngc_env(project, FAKE_NGC_RUN_FAULT="html", FAKE_NGC_RUN_FAULT_NAMES="^bad$")
    state = project.root / "ngc_state"
    base = ["ngc", "batch", "run", "--instance", "i", "--image", "im", "--result", "/r", "--commandline", "true",
            "--format_type", "json"]
    html = subprocess.run([*base, "--name", "bad"], capture_output=True, text=True, env=env, timeout=30)
    assert html.returncode == 0 and html.stdout.startswith("<!DOCTYPE html>")
    plain = subprocess.run([*base, "--name", "good"], capture_output=True, text=True, env=env, timeout=30)
    assert plain.returncode == 0 and json.loads(plain.stdout)["id"] == 1000002
    for fault, jobs in (("hang-before", 2), ("hang-after", 3)):  # jobs made so far, with this call's
        hanging = subprocess.Popen([*base, "--name", "bad"], stdout=subprocess.PIPE, text=True,
                                   env={**env, "FAKE_NGC_RUN_FAULT": fault})
        made = lambda: len(ngc_calls(project, "batch run")) == jobs + 1 and len(list(state.glob("*.json"))) == jobs
        wait_for(made, timeout=30, what=f"the {fault} call and its job, if any")
        with pytest.raises(subprocess.TimeoutExpired):
            hanging.wait(timeout=1)  # it does not answer
        hanging.kill()
        assert hanging.communicate()[0] == ""
        assert len(list(state.glob("*.json"))) == jobs
