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
and, once, 40 one-second experiments on 4 local slots (`snakemake --profile profiles/local`) vs. the
ideal 10 s. Usage: python bench/bench.py [--sizes 100,1000,10000,50000] [--repeat 3] [--keep DIR]
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


def timed(command: list[str], cwd: Path, repeat: int, prepare=None) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs and the largest peak RSS (MiB) of the command's process tree."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        if prepare:
            prepare()
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed in {cwd}:\n{proc.stderr.read().decode()[-2000:]}")
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


LOCAL_MODULE = """\
from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid
RUN_DESCRIPTION = RunDescription("local", experiments=[
    Experiment("sleep", "python3 -c 'import time; time.sleep(1)'", ParamGrid([("seed", list(range(40)))]).generate_params())])
"""


def bench_local(root: Path) -> dict[str, float]:
    """40 one-second experiments on 4 slots (2 GPUs x 2): ideal 10 s."""
    work = root / "local"
    work.mkdir()
    (work / "sweep.py").write_text(LOCAL_MODULE)
    subprocess.run(
        [PYTHON, "-m", "sfgen", "compile", "--run=sweep.py", "--out=wf", "--num_gpus=2", "--experiments_per_gpu=2",
         "--max_parallel=4", "--pause_between=0"],
        cwd=work, check=True, stdout=subprocess.DEVNULL,
    )
    elapsed, peak = timed([PYTHON, "-m", "snakemake", "--profile", "profiles/local"], work / "wf", 1)
    return {"local": elapsed, "local_mem": peak}


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
    print(header)
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            r = bench_size(root, size, args.repeat)
            print(
                f"{r['n']:>11,} {r['compile']:>7.2f}s {r['dry']:>7.2f}s {r['dry_floor']:>6.2f}s {r['dry'] / r['dry_floor']:>5.2f}x "
                f"{r['job']:>6.2f}s {r['job_floor']:>5.2f}s {r['job'] / r['job_floor']:>5.2f}x {r['status']:>6.2f}s "
                f"{r['status_json']:>6.2f}s {r['dry_mem']:>8.0f}/{r['job_mem']:.0f}/{r['status_mem']:.0f}",
                flush=True,
            )
        local = bench_local(root)
        print()
        print(f"local: 40 x 1 s experiments on 4 slots: {local['local']:.2f} s = {local['local'] / 10:.2f}x the ideal 10 s "
              f"(Snakemake's start included), peak {local['local_mem']:.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
