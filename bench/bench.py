"""sfgen's performance against Snakemake's own floors, measured in one run on this machine.

For each sweep size it builds, in a scratch directory:
  * the compiled workflow of a generated run module (one rule per experiment),
  * the wildcard floor: one wildcard rule over the same number of jobs,
  * the one-rule floor: a Snakefile with a single rule,
then times (best of --repeat, wall clock, each command a child of this process) and reports peak memory:
  compile     `sfgen compile` of the sweep
  dry-run     `snakemake -n` of the workflow vs. of the wildcard floor
  in-job      `snakemake --target-jobs RULE: --allowed-rules RULE --mode remote` running one job, as a
              cluster job starts, vs. the same for the one-rule floor
  status      `sfgen status` and `sfgen status --json` (a third of the markers done, a tenth failed)
and 40 one-second experiments on 4 local slots (ideal 10 s), as a shell script and as a Python script:
  sfgen       `snakemake --profile profiles/local` of the compiled sweep
  floor       Snakemake itself: one wildcard rule over the same 40 jobs, `-c4 --scheduler greedy`, and
              its start (from launch to its first job)
  SF runner   Sample Factory 2's own local runner (run_processes.run) on the same sweep
Usage: python bench/bench.py [--sizes 100,1000,10000,50000 | --sizes=] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable

RUN_MODULE = """\
from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid
_grid = ParamGrid([("seed", list(range({seeds}))), ("learning_rate", [round(1e-4 * (i + 1), 6) for i in range({lrs})])])
RUN_DESCRIPTION = RunDescription("bench", experiments=[Experiment("appo", {cmd!r}, _grid.generate_params())])
"""

WILDCARD_FLOOR = """\
rule all:
    input: expand("markers/{{i}}.done", i=range({n}))
rule one:
    output: "markers/{{i}}.done"
    shell: "true"
"""

ONE_RULE_FLOOR = """\
rule one:
    output: "markers/one.done"
    shell: "touch {output}"
"""


def timed(command: list[str], cwd: Path, repeat: int, prepare=None, env=None, after=None) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs and the largest peak RSS (MiB) of the command's process; ``after``
    gets each run's start time (``time.time()``)."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        if prepare:
            prepare()
        started = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed in {cwd}:\n{proc.stderr.read().decode()[-2000:]}")
        if after:
            after(started)
        best = min(best, elapsed)
        peak = max(peak, usage.ru_maxrss / 1024)
    return best, peak


def _grid(n: int) -> tuple[int, int]:
    seeds = 10 if n >= 100 else 1
    return seeds, n // seeds


def bench_size(root: Path, n: int, repeat: int) -> dict[str, float]:
    work = root / f"n{n}"
    work.mkdir()
    seeds, lrs = _grid(n)
    (work / "sweep.py").write_text(RUN_MODULE.format(seeds=seeds, lrs=lrs, cmd="true"))
    sfgen = [PYTHON, "-m", "sfgen"]
    snakemake = [PYTHON, "-m", "snakemake"]
    row: dict[str, float] = {"n": seeds * lrs}

    row["compile"], row["compile_mem"] = timed(
        [*sfgen, "compile", "--run=sweep.py", "--out=wf", "--force", "--pause_between=0"], work, repeat
    )
    wf = work / "wf"
    floor = work / "wildcard_floor"
    floor.mkdir()
    (floor / "Snakefile").write_text(WILDCARD_FLOOR.format(n=row["n"]))
    one = work / "one_rule_floor"
    one.mkdir()
    (one / "Snakefile").write_text(ONE_RULE_FLOOR)

    row["dry_floor"], _ = timed([*snakemake, "-n", "-c1", "-q"], floor, repeat)
    row["dry"], row["dry_mem"] = timed([*snakemake, "-n", "-c1", "-q"], wf, repeat)

    experiments = [json.loads(line) for line in (wf / "Snakefile").read_text().split("\n") if line.startswith('{"rule": ')]
    target = experiments[len(experiments) // 2]["rule"]

    def clean(directory: Path):
        return lambda: shutil.rmtree(directory / "markers", ignore_errors=True)

    in_job = ["--mode", "remote", "-c1", "-q"]
    row["job_floor"], _ = timed([*snakemake, "--target-jobs", "one:", "--allowed-rules", "one", *in_job], one, repeat, clean(one))
    row["job"], row["job_mem"] = timed(
        [*snakemake, "--target-jobs", f"{target}:", "--allowed-rules", target, *in_job], wf, repeat, clean(wf)
    )

    markers = wf / "markers"
    markers.mkdir(exist_ok=True)
    record = json.dumps({"exit_code": 0, "host": "bench", "gpu": "0", "start": "2026-01-01T00:00:00", "end": "2026-01-01T01:00:00", "duration_s": 3600})
    for index, experiment in enumerate(experiments):
        if index % 3 == 0:
            (markers / f"{experiment['rule']}.done").write_text(record)
        elif index % 10 == 1:
            (markers / f"{experiment['rule']}.failed").write_text(record.replace('"exit_code": 0', '"exit_code": 1'))
    row["status"], row["status_mem"] = timed([*sfgen, "status"], wf, repeat)
    row["status_json"], _ = timed([*sfgen, "status", "--json"], wf, repeat)
    return row


# 40 one-second experiments on 4 slots (2 GPUs x 2), ideal 10 s, as two kinds of experiment: a shell
# script (the second itself) and a Python script (each start also pays its interpreter's start, as a
# trainer does). Both ignore the --seed/--experiment/--train_dir arguments the runners append.
LOCAL_SCRIPTS = {"sleep1.sh": "#!/bin/sh\nexec sleep 1\n", "sleep1.py": "import time\ntime.sleep(1)\n"}
LOCAL_WORK = {"shell": "./sleep1.sh", "python": "python3 sleep1.py"}

LOCAL_MODULE = """\
import sys
from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid
RUN_DESCRIPTION = RunDescription("local", experiments=[
    Experiment("sleep", {cmd!r}, ParamGrid([("seed", list(range(40)))]).generate_params())])
"""

# Snakemake's own floor: one wildcard rule over the same 40 jobs on 4 cores; each job notes when it
# started (a shell builtin), so Snakemake's start, up to its first job, is measured too.
LOCAL_FLOOR = """\
rule all:
    input: expand("m/{{i}}", i=range(40))
rule one:
    output: "m/{{i}}"
    shell: "echo $EPOCHREALTIME >> starts; {cmd} --seed={{wildcards.i}} && touch {{output}}"
"""

# Sample Factory 2's own local runner (run_processes.run) on the same sweep, from the package itself.
SF_RUNNER = """\
import sys
from argparse import Namespace
from sample_factory.launcher.run_processes import run
from sweep import RUN_DESCRIPTION
args = Namespace(num_gpus=2, experiments_per_gpu=2, max_parallel=4, pause_between=0, train_dir="train_dir")
sys.exit(run(RUN_DESCRIPTION, args))
"""


def _sf_runner_path() -> tuple[Path | None, str]:
    """Where Sample Factory's runner can be imported from (fetched as the differential tests do)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from sf_reference import reference_env

        return reference_env(2), ""
    except Exception as error:  # offline, or numpy missing: the row says why
        return None, str(error).splitlines()[0]


def _workdir(path: Path) -> Path:
    path.mkdir()
    for name, text in LOCAL_SCRIPTS.items():
        (path / name).write_text(text)
        (path / name).chmod(0o755)
    return path


def bench_local(root: Path, repeat: int) -> list[dict]:
    """Wall clock (best of ``repeat``) of sfgen's local profile, Snakemake's one-rule floor and SF's runner
    on the same 40 one-second experiments on 4 slots."""
    sf_env, sf_missing = _sf_runner_path()
    rows = []
    for kind, cmd in LOCAL_WORK.items():
        work = _workdir(root / f"local_{kind}")
        (work / "sweep.py").write_text(LOCAL_MODULE.format(cmd=cmd))
        subprocess.run(
            [PYTHON, "-m", "sfgen", "compile", "--run=sweep.py", "--out=wf", "--num_gpus=2",
             "--experiments_per_gpu=2", "--max_parallel=4", "--pause_between=0"],
            cwd=work, check=True, stdout=subprocess.DEVNULL,
        )
        row: dict = {"kind": kind}

        def clean(directory: Path, *state: str):
            return lambda: [shutil.rmtree(directory / name, ignore_errors=True) for name in state]

        row["sfgen"], row["sfgen_mem"] = timed(
            [PYTHON, "-m", "snakemake", "--profile", "profiles/local"], work / "wf", repeat,
            clean(work / "wf", "markers", "logs", ".snakemake", ".sfgen/running"),
        )

        floor = _workdir(root / f"local_{kind}_floor")
        # Snakemake has no rule of its own for `python`: the floor names the interpreter sfgen and SF use.
        (floor / "Snakefile").write_text(LOCAL_FLOOR.format(cmd=cmd.replace("python3", PYTHON, 1)))
        first_jobs: list[float] = []

        def first_job(started: float) -> None:
            with open(floor / "starts") as handle:
                first_jobs.append(min(float(line) for line in handle) - started)
            (floor / "starts").unlink()

        row["floor"], _ = timed(
            [PYTHON, "-m", "snakemake", "-c4", "--scheduler", "greedy", "-q"], floor, repeat,
            clean(floor, "m", ".snakemake"), after=first_job,
        )
        row["floor_start"] = min(first_jobs)

        if sf_env is None:
            row["sf_missing"] = sf_missing
        else:
            sf_work = _workdir(root / f"local_{kind}_sf")
            (sf_work / "sweep.py").write_text(LOCAL_MODULE.format(cmd=cmd))
            env = {**os.environ, "PYTHONPATH": str(sf_env)}
            row["sf"], _ = timed([PYTHON, "-c", SF_RUNNER], sf_work, repeat, clean(sf_work, "train_dir"), env=env)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="sfgen-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    import snakemake

    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, {platform.platform()}")
    print(f"python {platform.python_version()}, snakemake {snakemake.__version__}; best of {args.repeat}, wall clock")
    print()
    header = (
        f"{'experiments':>11} {'compile':>8} {'dry-run':>8} {'floor':>7} {'ratio':>6} "
        f"{'in-job':>7} {'floor':>6} {'ratio':>6} {'status':>7} {'--json':>7} {'peak MiB (dry/job/status)':>26}"
    )
    try:
        sizes = [int(size) for size in args.sizes.split(",") if size]
        if sizes:
            print(header)
        for size in sizes:
            r = bench_size(root, size, args.repeat)
            print(
                f"{r['n']:>11,} {r['compile']:>7.2f}s {r['dry']:>7.2f}s {r['dry_floor']:>6.2f}s {r['dry'] / r['dry_floor']:>5.2f}x "
                f"{r['job']:>6.2f}s {r['job_floor']:>5.2f}s {r['job'] / r['job_floor']:>5.2f}x {r['status']:>6.2f}s "
                f"{r['status_json']:>6.2f}s {r['dry_mem']:>8.0f}/{r['job_mem']:.0f}/{r['status_mem']:.0f}",
                flush=True,
            )
        print()
        print("local: 40 one-second experiments on 4 slots (2 GPUs x 2), ideal 10 s; ratio = time / 10 s")
        print(f"{'experiment':>17} {'sfgen':>7} {'ratio':>6} {'Snakemake floor':>16} {'ratio':>6} {'its start':>10} "
              f"{'SF runner':>10} {'ratio':>6} {'sfgen peak MiB':>15}")
        for r in bench_local(root, args.repeat):
            sf = f"{r['sf']:>9.2f}s {r['sf'] / 10:>5.2f}x" if "sf" in r else f"{'n/a':>10} {'':>6}"
            print(f"{LOCAL_WORK[r['kind']]:>17} {r['sfgen']:>6.2f}s {r['sfgen'] / 10:>5.2f}x {r['floor']:>15.2f}s "
                  f"{r['floor'] / 10:>5.2f}x {r['floor_start']:>9.2f}s {sf} {r['sfgen_mem']:>15.0f}", flush=True)
            if "sf_missing" in r:
                print(f"  SF runner not measured: {r['sf_missing']}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
