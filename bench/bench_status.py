"""Benchmark: `sfgen status` on a 10,000-experiment workflow, against Python's own start-up.

Not a test. Builds, in a temporary directory, a workflow compiled from a generated run module
(5 seeds x 20 learning rates x 100 batch sizes), fakes what a long run leaves behind (75 % done,
10 % failed with 200-line logs, 3 % running: their locks held by this process, the rest pending),
then times each command as a subprocess, best of 3, with its peak memory:

    python bench/bench_status.py [--experiments N]

Floors measured in the same run: `python -c "import json"` (interpreter start) and
`python -m sfgen --version` (sfgen's CLI start). Goal (issue 6): status <= 1.5 s at 10,000.
The page cache is warm (each command runs 3 times); a cold NFS directory adds its read latency.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench import timed  # bench/bench.py: best wall time and peak memory of a child

GOAL_S = 1.5


def write_run(directory: Path, experiments: int) -> Path:
    seeds, lrs = 5, 20
    batches = max(1, experiments // (seeds * lrs))
    path = directory / "big_sweep.py"
    path.write_text(textwrap.dedent(
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid

        PARAMS = ParamGrid([
            ("seed", list(range({seeds}))),
            ("learning_rate", [round(1e-4 * (i + 1), 6) for i in range({lrs})]),
            ("batch_size", list(range(256, 256 + {batches}))),
        ])
        RUN_DESCRIPTION = RunDescription("big_sweep", experiments=[
            Experiment("appo", "python -m sf_examples.train_vizdoom --env=doom_battle --algo=APPO "
                       "--num_workers=36 --num_envs_per_worker=8 --train_for_env_steps=500000000",
                       PARAMS.generate_params(randomize=False)),
        ])
        """
    ))
    return path


def fake_run(wf: Path) -> None:
    """Write markers, failure records and logs as a long run leaves them, and hold the running locks of
    some experiments until stdin closes. Runs as a child, so that the measuring process stays small: a
    command's peak memory (ru_maxrss) includes what it inherited from the process that forked it."""
    from sfgen.markers import write_record
    from sfgen.snakefile import read_experiments

    specs = read_experiments(wf / "Snakefile")
    rng = random.Random(0)
    held = []
    (wf / "logs").mkdir(exist_ok=True)
    running_dir = wf / ".sfgen" / "running"
    running_dir.mkdir(parents=True, exist_ok=True)
    for index, spec in enumerate(specs):
        roll = rng.random()
        record = {
            "name": spec.name, "rule": spec.rule, "cmd": spec.cmd, "argv": spec.cmd.split(), "root_dir": spec.root_dir,
            "env_vars": None, "workdir": "/home/user/project", "host": f"node{index % 8:02d}", "gpu": str(index % 4),
            "slurm_job_id": None, "pid": 10000 + index, "start": "2025-01-01T10:00:00+01:00",
            "sfgen_version": "0.1.0", "git_commit": "0" * 40, "log": spec.log,
        }
        if roll < 0.75:
            write_record(wf / spec.marker, {**record, "end": "2025-01-01T18:00:00+01:00", "duration_s": 28800.0,
                                            "exit_code": 0})
        elif roll < 0.85:
            write_record(wf / spec.failure, {**record, "end": "2025-01-01T11:00:00+01:00", "duration_s": 3600.0,
                                             "exit_code": 1, "interrupted": False})
            lines = [f"[10:{i // 60:02d}:{i % 60:02d}] fps: 41234.5, reward: {i * 0.1:.1f}" for i in range(199)]
            (wf / spec.log).write_text("\n".join([*lines, "RuntimeError: CUDA out of memory"]) + "\n")
        elif roll < 0.88:
            fd = os.open(running_dir / f"{spec.rule}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.append(fd)
            write_record(running_dir / f"{spec.rule}.json", record)
    print("ready", flush=True)
    sys.stdin.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--fake", type=Path, help=argparse.SUPPRESS)  # the child that fakes a run into this dir
    args = parser.parse_args()
    if args.fake:
        fake_run(args.fake)
        return 0
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="sfgen-bench-status-") as tmp:
        root = Path(tmp)
        run = write_run(root, args.experiments)
        started = time.perf_counter()
        subprocess.run([python, "-m", "sfgen", "compile", f"--run={run}", "--out=wf"], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
        compile_s = time.perf_counter() - started
        wf = root / "wf"
        faker = subprocess.Popen([python, __file__, "--fake", str(wf)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
        assert faker.stdout.readline() == "ready\n"
        rows = [
            ("python -c 'import json'  (floor)", [python, "-c", "import json"]),
            ("sfgen --version          (floor)", [python, "-m", "sfgen", "--version"]),
            ("sfgen status", [python, "-m", "sfgen", "status"]),
            ("sfgen status --json", [python, "-m", "sfgen", "status", "--json"]),
            ("sfgen status --failed", [python, "-m", "sfgen", "status", "--failed"]),
        ]
        results = [(label, *timed(command, wf, 3)) for label, command in rows]  # first: this process is still small
        status = subprocess.run([python, "-m", "sfgen", "status", "--json"], cwd=wf, check=True, capture_output=True)
        counts = json.loads(status.stdout)["summary"]
        faker.communicate("")
    floor = results[1][1]
    print(f"sfgen status benchmark: {counts['total']} experiments ({counts['done']} done, {counts['failed']} failed, "
          f"{counts['running']} running, {counts['pending']} pending); compile took {compile_s:.2f} s")
    print(f"python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cpus; "
          "best of 3, warm page cache")
    print(f"{'command':<36} {'best s':>8} {'x sfgen --version':>18} {'peak MB':>9}")
    for label, seconds, peak in results:
        print(f"{label:<36} {seconds:>8.3f} {seconds / floor:>18.2f} {peak:>9.1f}")
    worst = max(seconds for label, seconds, _ in results if label.startswith("sfgen status"))
    print(f"goal: sfgen status <= {GOAL_S} s: {'met' if worst <= GOAL_S else 'MISSED'} (slowest {worst:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
