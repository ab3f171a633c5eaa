"""Tests for the stand-in `ngc` CLI (tests/fake_ngc/ngc), with real processes only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import wait_for

NGC = Path(__file__).resolve().parent / "fake_ngc" / "ngc"
TERMINAL = {
    "FINISHED_SUCCESS", "FAILED", "FAILED_RUN_LIMIT_EXCEEDED", "KILLED_BY_USER",
    "KILLED_BY_SYSTEM", "KILLED_BY_ADMIN", "TASK_LOST",
}
BASE_RUN = ["batch", "run", "--instance", "dgx1v.16g.1.norm", "--image", "nvidia/pytorch:23.03-py3",
            "--result", "/results"]


class Fake:
    """Runs the fake CLI against one state dir / work dir."""

    def __init__(self, tmp_path: Path):
        self.state = tmp_path / "state"
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("FAKE_NGC_"):
                del self.env[k]
        self.env.update(FAKE_NGC_STATE=str(self.state), FAKE_NGC_WORKDIR=str(self.work))

    def __call__(self, *args, env=None, via_shebang=False, timeout=10):
        # interpreter called directly (skips the pyenv shim: faster); one test uses the shebang
        cmd = [str(NGC)] if via_shebang else [sys.executable, str(NGC)]
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run(cmd + list(args), capture_output=True, text=True, env=e,
                              cwd=str(self.work), timeout=timeout)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        return r

    def submit(self, name, cmd, *extra, env=None):
        r = self.ok(*BASE_RUN, "--name", name, "--commandline", cmd, *extra, "--format_type", "json", env=env)
        return json.loads(r.stdout)["id"]

    def info(self, jid, env=None):
        return json.loads(self.ok("batch", "info", str(jid), "--format_type", "json", env=env).stdout)

    def wait(self, jid, until=TERMINAL, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.info(jid)["jobStatus"]["status"]
            if st in until or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def record(self, jid):
        return json.loads((self.state / ("%d.json" % jid)).read_text())

    def calls(self):
        p = self.state / "submissions.jsonl"
        return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


@pytest.fixture
def ngc(tmp_path):
    return Fake(tmp_path)


def _gone(pid: int) -> bool:
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"  # a zombie is dead, just not reaped


def _wait_file(path: Path, timeout=5.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, "timed out waiting for %s" % path
        time.sleep(0.02)
    return path.read_text().strip()


# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("shape", ["flat", "nested", "text"])
def test_job_runs_and_finishes(ngc, shape):
    env = {"FAKE_NGC_JSON_SHAPE": shape} if shape != "text" else {}
    fmt = ["--format_type", "json"] if shape != "text" else []
    cmd = "echo hello > out.txt; echo to-stdout; echo to-stderr >&2; test \"$NGC_JOB_ID\" -gt 0"
    r = ngc.ok(*BASE_RUN, "--name", "sf-%s" % shape, "--commandline", cmd, *fmt, env=env)
    if shape == "text":
        m = re.search(r"^\s*Id: (\d+)$", r.stdout, re.M)
        assert m and "Job Information" in r.stdout and "Name: sf-text" in r.stdout
        jid = int(m.group(1))
    else:
        out = json.loads(r.stdout)
        job = out["job"] if shape == "nested" else out
        if shape == "nested":
            assert set(out) == {"job"}
        else:
            assert "job" not in out
        jid = job["id"]
        assert job["jobStatus"]["status"] in ("QUEUED", "RUNNING", "FINISHED_SUCCESS")
        assert job["jobDefinition"]["name"] == "sf-%s" % shape
    assert jid == 1000001

    deadline, status = time.monotonic() + 5, None
    while time.monotonic() < deadline:
        r = ngc.ok("batch", "info", str(jid), *fmt, env=env)
        if shape == "text":
            status = re.search(r"^\s*Status: (\S+)$", r.stdout, re.M).group(1)
        else:
            out = json.loads(r.stdout)
            job = out["job"] if shape == "nested" else out
            assert job["id"] == jid
            status = job["jobStatus"]["status"]
        if status in TERMINAL:
            break
        time.sleep(0.05)
    assert status == "FINISHED_SUCCESS"
    if shape != "text":
        assert job["jobStatus"]["exitCode"] == 0
    else:
        assert re.search(r"^\s*Exit Code: 0$", r.stdout, re.M)
    assert (ngc.work / "out.txt").read_text() == "hello\n"
    log = (ngc.state / ("%d.log" % jid)).read_text()
    assert "to-stdout" in log and "to-stderr" in log


def test_failing_command_is_failed(ngc):
    jid = ngc.submit("bad", "echo oops; exit 3")
    assert ngc.wait(jid) == "FAILED"
    info = ngc.info(jid)
    assert info["jobStatus"]["exitCode"] == 3
    text = ngc.ok("batch", "info", str(jid)).stdout
    assert re.search(r"^\s*Status: FAILED$", text, re.M)


def test_kill_kills_process_group(ngc):
    t0 = time.monotonic()
    # a pipe-capturing caller must not be held open by the detached job
    jid = ngc.submit("long", "sleep 30 & echo $! > child.pid; echo $$ > sh.pid; wait")
    assert time.monotonic() - t0 < 3
    sh_pid = int(_wait_file(ngc.work / "sh.pid"))
    child_pid = int(_wait_file(ngc.work / "child.pid"))
    assert ngc.info(jid)["jobStatus"]["status"] == "RUNNING"
    assert not _gone(sh_pid) and not _gone(child_pid)

    r = ngc.ok("batch", "kill", str(jid))
    assert "%d" % jid in r.stdout
    assert _gone(sh_pid) and _gone(child_pid)
    assert ngc.info(jid)["jobStatus"]["status"] == "KILLED_BY_USER"
    # the wrapper's late verdict (non-zero exit) must not override the kill: wait for the wrapper to end
    runner = ngc.record(jid)["runner_pid"]
    wait_for(lambda: _gone(runner), timeout=10, what="the job wrapper to end after its job was killed")
    assert ngc.record(jid)["exit_code"] is not None  # its verdict came in ...
    assert ngc.info(jid)["jobStatus"]["status"] == "KILLED_BY_USER"  # ... and changed nothing
    # killing a terminal job is harmless
    r = ngc.ok("batch", "kill", str(jid))
    assert "terminal" in r.stdout


def test_info_fails_every_nth_call(ngc):
    jid = ngc.submit("x", "true")
    env = {"FAKE_NGC_INFO_FAIL_EVERY": "4"}
    codes = []
    for _ in range(9):
        r = ngc("batch", "info", str(jid), "--format_type", "json", env=env)
        codes.append(r.returncode)
        if r.returncode:
            assert "503" in r.stderr and r.stdout == ""
        else:
            assert json.loads(r.stdout)["id"] == jid
    assert codes == [0, 0, 0, 1, 0, 0, 0, 1, 0]


def test_submissions_log_and_exact_commandline(ngc):
    cmd = """printf '[%s]' "a  b" 'c "d"' "$(echo e f)" $HOME_NOT_SET x\\ y > args.txt"""
    argv = BASE_RUN + ["--name", "weird name 'q'", "--commandline", cmd,
                       "--workspace", "ws:/ws:RW", "--format_type", "json"]
    jid = json.loads(ngc.ok(*argv).stdout)["id"]
    assert ngc.wait(jid) == "FINISHED_SUCCESS"
    expected = subprocess.run(["/bin/sh", "-c", cmd.replace("> args.txt", "")], capture_output=True,
                              text=True, env={"PATH": os.environ["PATH"]}).stdout
    assert (ngc.work / "args.txt").read_text() == expected == '[a  b][c "d"][e f][x y]'

    ngc.ok("batch", "info", str(jid))
    calls = ngc.calls()
    runs = [c for c in calls if c["command"] == "batch run"]
    assert len(runs) == 1 and runs[0]["argv"] == argv
    assert [c["command"] for c in calls].count("batch info") >= 2
    rec = ngc.record(jid)
    assert rec["commandline"] == cmd and rec["name"] == "weird name 'q'" and rec["argv"] == argv
    assert rec["workspaces"] == [{"id": "ws", "containerMountPoint": "/ws", "mountMode": "RW"}]


def test_fail_names_injection(ngc):
    env = {"FAKE_NGC_FAIL_NAMES": "^bad-"}
    bad = ngc.submit("bad-1", "touch ran-bad", env=env)
    good = ngc.submit("good-1", "touch ran-good", env=env)
    assert ngc.wait(bad) == "FAILED"
    assert ngc.wait(good) == "FINISHED_SUCCESS"
    assert not (ngc.work / "ran-bad").exists() and (ngc.work / "ran-good").exists()


def test_real_cli_short_flags_and_aliases(ngc):
    r = ngc.ok("--format-type", "json", "batch", "run", "-n", "short", "-in", "dgx1v.16g.1.norm",
               "-i", "img:1", "--result", "/results", "-c", "exit 0", "--ace", "nv-us-west-2",
               "--org", "o", "--team", "t", "-p", "6006", "--label", "l1", "--preempt", "RUNONCE",
               "--total-runtime", "1h", "--waitend", via_shebang=True)
    job = json.loads(r.stdout)
    assert job["jobStatus"]["status"] == "FINISHED_SUCCESS"  # --waitend
    d = job["jobDefinition"]
    assert (d["name"], d["dockerImage"], d["resources"]["name"]) == ("short", "img:1", "dgx1v.16g.1.norm")
    assert (job["aceName"], job["orgName"], job["teamName"]) == ("nv-us-west-2", "o", "t")
    assert d["totalRuntimeSeconds"] == 3600


def test_total_runtime_limit(ngc):
    jid = ngc.submit("slow", "sleep 30", "--total-runtime", "1s")
    assert ngc.wait(jid, timeout=6) == "FAILED_RUN_LIMIT_EXCEEDED"


def test_lost_wrapper_is_task_lost(ngc):
    jid = ngc.submit("lost", "echo $$ > sh.pid; exec sleep 30")
    sh_pid = int(_wait_file(ngc.work / "sh.pid"))
    os.kill(ngc.record(jid)["runner_pid"], signal.SIGKILL)
    try:
        assert ngc.wait(jid, timeout=3) == "TASK_LOST"
    finally:
        os.killpg(sh_pid, signal.SIGKILL)


def test_errors_and_usage(ngc):
    r = ngc("batch", "info", "9999999")
    assert r.returncode == 1 and "could not be found" in r.stderr
    r = ngc("batch", "kill", "9999999")
    assert r.returncode == 1 and "could not be found" in r.stderr
    r = ngc("batch", "info", "abc")
    assert r.returncode == 2 and "invalid" in r.stderr
    r = ngc("batch", "run", "--name", "x", "--image", "i", "--result", "/r", "--commandline", "true")
    assert r.returncode == 2 and "required" in r.stderr and "--instance" in r.stderr
    r = ngc("batch", "frobnicate")
    assert r.returncode == 2 and r.stderr
    r = ngc("batch", "info", "1", env={"FAKE_NGC_STATE": ""})
    assert r.returncode == 2 and "FAKE_NGC_STATE" in r.stderr
    r = ngc(*BASE_RUN, "-n", "x", "-c", "true", "--workspace", "nomount")
    assert r.returncode == 1 and "workspace" in r.stderr
    # every call, even a bad one, is in the submissions log
    assert len(ngc.calls()) == 6  # the one without FAKE_NGC_STATE could not be logged
    assert not list(ngc.state.glob("*.json"))


def test_concurrent_submissions_get_unique_ids(ngc):
    with ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(lambda i: ngc.submit("c%d" % i, "true"), range(8)))
    assert sorted(ids) == list(range(1000001, 1000009))
    for jid in ids:
        assert ngc.wait(jid) == "FINISHED_SUCCESS"


def test_list(ngc):
    a = ngc.submit("list-a", "true")
    b = ngc.submit("list-b", "exit 1")
    ngc.wait(a), ngc.wait(b)
    jobs = json.loads(ngc.ok("batch", "list", "--format_type", "json").stdout)
    assert [j["id"] for j in jobs] == [a, b]
    failed = json.loads(ngc.ok("batch", "list", "--status", "FAILED", "--format_type", "json").stdout)
    assert [j["id"] for j in failed] == [b]
    text = ngc.ok("batch", "list").stdout
    assert "list-a" in text and "FINISHED_SUCCESS" in text and "| Id" in text
