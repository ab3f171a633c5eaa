"""Training progress from Sample Factory's own output, through the real CLI: `sfgen status --json` and the text
view, on a workflow run by real Snakemake whose experiments are a stand-in trainer printing SF1's and SF2's
progress lines (tests/sf_trainer.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import clean_env, run_cli, start_snakemake, still_running, wait_for

TRAINER = Path(__file__).resolve().parent / "sf_trainer.py"
RUNNING, SF2_DONE, SF1_DONE, SILENT = "00_sf2_see_1", "00_sf2_see_0", "00_sf1_see_0", "00_silent_see_0"


def trainer(*options: str) -> str:
    return " ".join([sys.executable, str(TRAINER), *options])


def compile_sweep(root: Path, release: Path) -> Path:
    """Two seeds in SF2's format (one held while running, at 25 %), one SF1 run with two policies and a
    long shutdown after its last report, one trainer that prints no progress at all."""
    sf2 = ("--sf=2", "--train_for_env_steps=10000000", "--fps=4096")
    experiments = [
        ("sf2", trainer(*sf2, "--frames=10000000", "--reward=10.5"), 0),
        ("sf2", trainer(*sf2, "--frames=2500000", "--reward=7.5", f"--hold={release}"), 1),
        ("sf1", trainer("--sf=1", "--train_for_env_steps", "5000000", "--frames=5000000", "--reward=4",
                        "--policies=2", "--noise=800"), 0),
        ("silent", trainer("--reports=0"), 0),
    ]
    run = root / "sweep.py"
    run.write_text(textwrap.dedent(
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList

        RUN_DESCRIPTION = RunDescription("sweep", experiments=[
            Experiment(name, cmd, ParamList([{{"seed": seed}}]).generate_params())
            for name, cmd, seed in {experiments!r}
        ])
        """
    ))
    result = run_cli("compile", f"--run={run}", "--out=wf", "--pause_between=0", "--max_parallel=4", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "wf"


def status_json(wf: Path) -> dict:
    result = run_cli("status", "--json", cwd=wf)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_name(document: dict) -> dict[str, dict]:
    return {row["name"]: row for row in document["experiments"]}


def held_and_reported(wf: Path) -> dict | None:
    """``sfgen status --json`` once three experiments are done and the held one has printed its last report."""
    document = status_json(wf)
    progress = by_name(document)[RUNNING]["progress"]
    return document if document["summary"]["done"] == 3 and progress and progress["frames"] == 2_500_000 else None


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The sweep while three experiments are done and the held one runs; then released to its end."""
    root = tmp_path_factory.mktemp("progress")
    release = root / "release"
    wf = compile_sweep(root, release)
    log = root / "snakemake.log"
    proc = start_snakemake("--profile", "profiles/local", cwd=wf, log=log, env=clean_env())

    try:
        document = wait_for(lambda: still_running(proc, log) and held_and_reported(wf), timeout=120,
                            what="3 done and the held one at its last report")
        yield wf, document, release, proc
    finally:
        release.touch()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def test_json_progress_in_both_generations_formats(sweep):
    wf, document, _, _ = sweep
    rows = by_name(document)
    assert len(rows) == 4 and rows[RUNNING]["state"] == "running"
    now = datetime.now(timezone.utc)
    for row in (rows[RUNNING], rows[SF2_DONE], rows[SF1_DONE]):
        updated = datetime.fromisoformat(row["progress"]["updated"])
        assert updated.tzinfo is not None and abs((now - updated).total_seconds()) < 600, row["progress"]
    assert {key: rows[RUNNING]["progress"][key] for key in ("frames", "target_frames", "fraction", "reward")} == {
        "frames": 2_500_000, "target_frames": 10_000_000, "fraction": 0.25, "reward": 7.5}
    assert rows[RUNNING]["progress"]["fps"] == 4014.1  # the 60 s window: the longest one with a value
    assert rows[SF2_DONE]["progress"]["frames"] == 10_000_000 and rows[SF2_DONE]["progress"]["fraction"] == 1.0
    assert rows[SF2_DONE]["progress"]["reward"] == 10.5 and rows[SF2_DONE]["progress"]["policy_rewards"] == {"0": 10.5}
    sf1 = rows[SF1_DONE]["progress"]  # its last report is 120 KB before the end of its log
    assert sf1["frames"] == 5_000_000 and sf1["target_frames"] == 5_000_000 and sf1["fraction"] == 1.0
    assert sf1["policy_rewards"] == {"0": 4.0, "1": 6.0} and sf1["reward"] == 5.0  # the mean over the policies
    assert rows[SILENT]["progress"] is None and rows[SILENT]["state"] == "done"


def test_text_view_shows_progress_of_running_experiments_and_rewards_per_row(sweep):
    wf = sweep[0]
    result = run_cli("status", cwd=wf)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sweep: 4 experiments: 3 done, 0 failed, 1 running, 0 pending"
    assert [line.split() for line in lines[2:5]] == [
        ["sf2", "1/2", "seeds", "done,", "1", "running,", "mean", "reward", "9.00"],  # (10.5 + 7.5) / 2
        ["sf1", "1/1", "seeds", "done,", "mean", "reward", "5.00"],
        ["silent", "1/1", "seeds", "done"],
    ]
    running = lines[lines.index("running (1):") + 1 :]
    assert running[0].startswith(f"  {RUNNING}  ") and " since " in running[0]
    assert running[1] == "      2.5M/10M frames (25.0%), 4,014 fps, reward 7.50"
    assert len(lines) == 9 and all(len(line) <= 80 for line in lines)


def test_progress_after_the_run_ends(sweep):
    wf, _, release, proc = sweep
    release.touch()
    assert proc.wait(timeout=120) == 0
    rows = by_name(status_json(wf))
    assert len(rows) == 4 and {row["state"] for row in rows.values()} == {"done"}
    assert rows[RUNNING]["progress"]["frames"] == 2_500_000 and rows[RUNNING]["progress"]["reward"] == 7.5
    assert run_cli("status", cwd=wf).stdout.splitlines()[2:] == [
        "  sf2     2/2 seeds done, mean reward 9.00",
        "  sf1     1/1 seeds done, mean reward 5.00",
        "  silent  1/1 seeds done",
    ]


def test_a_huge_log_costs_what_a_small_one_does(tmp_path):
    """A 4 GiB log (sparse: a hole, then SF's lines, then 100 KB of shutdown noise): its progress is read from
    its end. Read whole, the file would pass through the process's memory; `sfgen status` stays small."""
    wf = compile_sweep(tmp_path, tmp_path / "release")
    log = wf / "logs" / "exp_00_sf2_see_0.log"
    log.parent.mkdir()
    with open(log, "wb") as handle:
        handle.truncate(4 << 30)
        handle.seek(0, 2)
        handle.write(b"\n")
    with open(log, "ab") as handle:
        subprocess.run([sys.executable, str(TRAINER), "--sf=2", "--frames=123456789", "--reward=-3.25", "--noise=800"],
                       stderr=handle, stdout=subprocess.DEVNULL, check=True)
    measure = (
        "import resource, subprocess, sys\n"
        "result = subprocess.run([sys.executable, '-m', 'sfgen', 'status', '--json'], capture_output=True, text=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(result.stdout)\n"
    )
    result = subprocess.run([sys.executable, "-c", measure], cwd=wf, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    peak_kb, document = result.stdout.split("\n", 1)
    progress = by_name(json.loads(document))[SF2_DONE]["progress"]
    assert progress["frames"] == 123_456_789 and progress["reward"] == -3.25
    assert progress["target_frames"] == 10_000_000 and progress["fraction"] == 12.3457  # the command's target
    assert int(peak_kb) < 200_000, f"sfgen status peaked at {int(peak_kb) // 1024} MB on a 4 GiB log"
