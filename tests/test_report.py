"""`sfgen report` through the real CLI on a workflow run twice by real Snakemake (the stand-in SF trainer: a
retried experiment, one that fails every time), checked in a real headless Chromium (tests/chromium.py):
every experiment and every attempt is on the page, and the page fetched nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from chromium import BINARY, Chromium
from conftest import clean_env, run_cli, run_snakemake
from test_progress import trainer

FLAKY, BROKEN = "exp_00_flaky_l_rat_0_003", "exp_00_broken_l_rat_0_01"
_ATTEMPT = re.compile(r'<rect class="attempt (\w+)" data-rule="([^"]+)" data-attempt="(\d+)"')


def write_demo(root: Path) -> Path:
    """2 learning rates x 3 seeds (SF2's format), one experiment that fails once and then succeeds (SF1's),
    one that fails every time: 8 experiments on 2 GPUs x 2 slots."""
    appo = trainer("--sf=2", "--train_for_env_steps=20000000", "--frames=20000000", "--reports=4", "--seconds=2.5")
    flaky = trainer("--sf=1", "--train_for_env_steps=20000000", "--frames=20000000", "--seconds=0.5",
                    f"--fail_once={root / 'flaky_failed_once'}")
    broken = trainer("--sf=2", "--train_for_env_steps=20000000", "--frames=3000000", "--exit=3")
    path = root / "demo.py"
    path.write_text(textwrap.dedent(
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid, ParamList

        RUN_DESCRIPTION = RunDescription("demo", experiments=[
            Experiment("appo", {appo!r},
                       ParamGrid([("learning_rate", [0.0003, 0.001]), ("seed", [0, 1, 2])]).generate_params()),
            Experiment("flaky", {flaky!r}, ParamList([{{"learning_rate": 0.003}}]).generate_params()),
            Experiment("broken", {broken!r}, ParamList([{{"learning_rate": 0.01}}]).generate_params()),
        ])
        """
    ))
    return path


def attempts_in(html: str) -> list[tuple[str, str, str]]:
    """(rule, attempt number, outcome) of every attempt on the timeline."""
    return sorted((rule, number, outcome) for outcome, rule, number in _ATTEMPT.findall(html))


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    """The demo after two runs (the second redoes the two failures) and one `sfgen report`."""
    root = tmp_path_factory.mktemp("report")
    compiled = run_cli("compile", f"--run={write_demo(root)}", "--out=wf", "--num_gpus=2", "--experiments_per_gpu=2",
                       "--max_parallel=4", "--pause_between=0", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    wf = root / "wf"
    for _ in range(2):
        assert run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env()).returncode != 0  # broken fails
    result = run_cli("report", cwd=wf)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout == "sfgen: wrote report.html: 8 experiments, 10 attempts\n"
    return wf


def expected_attempts(rules: list[str]) -> list[tuple[str, str, str]]:
    once = [(rule, "1", "done") for rule in rules if rule not in (FLAKY, BROKEN)]
    retried = [(FLAKY, "1", "failed"), (FLAKY, "2", "done"), (BROKEN, "1", "failed"), (BROKEN, "2", "failed")]
    return sorted(once + retried)


def rules_of(wf: Path) -> list[str]:
    document = json.loads(run_cli("status", "--json", cwd=wf).stdout)
    return [row["rule"] for row in document["experiments"]]


def test_every_experiment_and_attempt_in_a_real_browser_which_fetches_nothing(reported, tmp_path):
    if BINARY is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    rules = rules_of(reported)
    assert len(rules) == 8
    page = (reported / "report.html").resolve()
    control = tmp_path / "control.html"  # the check itself works: a page that does fetch is caught
    control.write_text('<!DOCTYPE html><img src="http://sfgen.invalid/pixel.png"><link rel="stylesheet" href="x.css">')
    (tmp_path / "profile").mkdir()
    browser = Chromium(tmp_path / "profile")
    try:
        fetched = browser.open(control.as_uri())
        wanted = [control.as_uri(), "http://sfgen.invalid/pixel.png", (tmp_path / "x.css").as_uri()]
        assert sorted(fetched) == sorted(wanted)

        assert browser.open(page.as_uri()) == [page.as_uri()]  # the report itself, and nothing else
        page_state = browser.evaluate("""({
            rows: [...document.querySelectorAll('tr.experiment')].map(row => row.dataset.rule),
            attempts: [...document.querySelectorAll('rect.attempt')].map(rect => [rect.dataset.rule,
                rect.dataset.attempt, rect.classList[1], rect.getBoundingClientRect().width]),
            failures: [...document.querySelectorAll('.failure')].map(item => [item.dataset.rule,
                item.querySelector('pre').textContent]),
            external: document.querySelectorAll('[src], [href], script, link, img, iframe, object, embed').length,
            policy: document.querySelector('meta[http-equiv="Content-Security-Policy"]').content,
            title: document.title,
        })""")
        shot = tmp_path / "report.png"
        browser.screenshot(shot)
    finally:
        browser.close()
    assert page_state["rows"] == rules  # every experiment, in workflow order
    shown = page_state["attempts"]
    assert len(shown) == 10 and all(width >= 2 for *_, width in shown)  # drawn, at least 2 px wide (3 units)
    assert sorted((rule, number, outcome) for rule, number, outcome, _ in shown) == expected_attempts(rules)
    assert len(page_state["failures"]) == 1 and page_state["failures"][0][0] == BROKEN
    assert "RuntimeError: CUDA error: an illegal memory access" in page_state["failures"][0][1]
    assert page_state["external"] == 0 and page_state["policy"].startswith("default-src 'none'")
    assert page_state["title"] == "demo: 7/8 done"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_page_content_progress_lanes_and_durations(reported):
    html = (reported / "report.html").read_text()
    assert attempts_in(html) == expected_attempts(rules_of(reported))
    lanes = re.findall(r'<text x="172" y="\d+" text-anchor="end">([^<]+)</text>', html)
    host = os.uname().nodename  # 4 at once from the start: two on each GPU
    assert sorted(lanes) == [f"{host} GPU {gpu} #{slot}" for gpu in (0, 1) for slot in (1, 2)]
    assert "20M/20M frames (100.0%)" in html and "3M/20M frames (15.0%)" in html
    assert '<td class="num">4,014</td>' in html  # fps
    assert re.search(r"<tr><th>all</th><th class=\"num\">7</th>", html)  # durations over the 7 done
    assert "http" not in html.lower().replace("http-equiv", "")  # no address of anything to fetch


def test_attempts_are_read_from_what_the_logs_gained_since_the_last_report(reported, tmp_path):
    """Scanned bytes are not read again (a header planted there stays unseen), appended ones are, and a
    log that was replaced is read from its start."""
    wf = tmp_path / "wf"
    shutil.copytree(reported, wf)
    assert run_cli("report", cwd=wf).returncode == 0  # the copy's logs are new files: all scanned
    log = wf / "logs" / f"{BROKEN}.log"
    planted = b"==== sfgen 2020-01-01T00:00:00+00:00 start planted on plantedhost CUDA_VISIBLE_DEVICES=7\n"
    with open(log, "r+b") as handle:  # over its first header, same file, same size: as if it had always said so
        handle.write(planted)
    with open(log, "ab") as handle:
        handle.write(b"==== sfgen 2030-01-01T00:00:00+00:00 start 00_broken_l.rat_0.01 on later "
                     b"CUDA_VISIBLE_DEVICES=1\noutput\n==== sfgen 2030-01-01T00:00:05+00:00 exit 3 after 5.0 s\n")
    assert run_cli("report", cwd=wf).stdout.endswith("8 experiments, 11 attempts\n")
    html = (wf / "report.html").read_text()
    assert (BROKEN, "3", "failed") in attempts_in(html) and "later GPU 1" in html and "plantedhost" not in html

    replaced = log.with_suffix(".new")
    shutil.copy(log, replaced)
    os.replace(replaced, log)  # another inode: read again from its start, the planted header (over the first) seen
    assert run_cli("report", cwd=wf).stdout.endswith("8 experiments, 11 attempts\n")
    assert "plantedhost GPU 7" in (wf / "report.html").read_text()


def test_before_any_run_and_without_a_workflow(tmp_path, project):
    compiled = run_cli("compile", f"--run={write_demo(project.root)}", "--out=wf", cwd=project.root)
    assert compiled.returncode == 0, compiled.stderr
    out = tmp_path / "elsewhere" / "sweep.html"
    result = run_cli("report", "--dir=wf", f"--out={out}", cwd=project.root)
    assert result.returncode == 0 and result.stdout == f"sfgen: wrote {out}: 8 experiments, 0 attempts\n"
    html = out.read_text()
    assert html.count('<tr class="experiment pending"') == 8 and "No experiment has started yet." in html
    assert sorted(path.name for path in out.parent.iterdir()) == ["sweep.html"]  # no temporary file left
    missing = run_cli("report", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stdout == "" and missing.stderr.count("\n") == 1
    assert "no Snakefile" in missing.stderr


def test_every_kind_of_attempt_from_the_log_headers(project):
    """Logs as the launcher and the NGC programs write them: a stopped attempt, one whose end was never
    recorded, NGC jobs killed and finished, and a header after a 1 MiB line that has no line break."""
    compiled = run_cli("compile", f"--run={write_demo(project.root)}", "--out=wf", cwd=project.root)
    assert compiled.returncode == 0, compiled.stderr
    wf = project.root / "wf"
    (wf / "logs").mkdir()
    stopped, lost = "exp_00_appo_l_rat_0_0003_see_0", "exp_01_appo_l_rat_0_0003_see_1"
    start = "==== sfgen 2026-01-0{day}T10:00:00+00:00 start NAME on node{day} CUDA_VISIBLE_DEVICES=0\n"
    logs = {
        stopped: [start.format(day=1), "==== sfgen 2026-01-01T11:00:00+00:00 exit 143 after 3600.0 s\n",
                  start.format(day=2), "==== sfgen 2026-01-02T12:00:00+00:00 exit 0 after 7200.0 s\n"],
        lost: [start.format(day=1), "training...\n", start.format(day=2),
               "==== sfgen 2026-01-02T10:30:00+00:00 exit 1 after 1800.0 s\n"],
        FLAKY: ["==== sfgen 2026-01-01T10:00:00+00:00 submitted 00_flaky as NGC job 42: ngc batch run ...\n",
                "==== sfgen 2026-01-01T10:05:00+00:00 interrupted: killed NGC job 42\n",
                "==== sfgen 2026-01-01T10:06:00+00:00 submitted 00_flaky as NGC job 43: ngc batch run ...\n",
                "==== sfgen 2026-01-01T10:07:00+00:00 re-attached to NGC job 43 (submitted ...)\n",
                "==== sfgen 2026-01-01T12:00:00+00:00 NGC job 43 ended FINISHED_SUCCESS\n"],
        BROKEN: ["x" * ((1 << 20) - 30), start.format(day=3),  # the header straddles the first 1 MiB read
                 "==== sfgen 2026-01-03T10:00:09+00:00 exit 3 after 9.0 s\n"],
    }
    for rule, lines in logs.items():
        (wf / "logs" / f"{rule}.log").write_text("".join(lines))
    result = run_cli("report", cwd=wf)
    assert result.returncode == 0 and result.stdout.endswith("8 experiments, 7 attempts\n"), result.stderr
    html = (wf / "report.html").read_text()
    assert attempts_in(html) == sorted([
        (stopped, "1", "stopped"), (stopped, "2", "done"), (lost, "1", "lost"), (lost, "2", "failed"),
        (FLAKY, "1", "stopped"), (FLAKY, "2", "done"), (BROKEN, "1", "failed"),
    ])
    lanes = re.findall(r'<text x="172" y="\d+" text-anchor="end">([^<]+)</text>', html)
    assert sorted(lanes) == ["NGC", "node1 GPU 0", "node2 GPU 0 #1", "node2 GPU 0 #2", "node3 GPU 0"]  # day 2: both
