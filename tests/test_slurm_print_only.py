"""The Slurm backend where no Slurm is needed, so these run everywhere: print-only, and what a job runs.

Slurm's commands on PATH are trip wires here: any call to them is recorded, and a test fails if one was made.
The tests that need a real cluster are in tests/test_slurm.py.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from conftest import clean_env, probe_cmd, probe_records, run_cli, run_snakemake

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "srun", "sinfo", "scontrol", "salloc")
V1_TEMPLATE = """\
#!/bin/bash
#SBATCH --mem=64
#SBATCH --output=slurm-%j.out
#SBATCH --nice=5
export PROBE_PRELUDE="set by the template"
cd /tmp
"""


def write_run(root: Path, probes: Path, params: list[dict], name: str = "sweep") -> Path:
    path = root / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
            RUN_DESCRIPTION = RunDescription("slurm_probe", experiments=[
                Experiment("probe", {probe_cmd(probes)!r}, ParamList({params!r}).generate_params(randomize=False)),
            ])
            """
        )
    )
    return path


def trip_wires(root: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Slurm commands only record that they were called (in the returned file)."""
    bin_dir, calls = root / "slurm-trip-wires", root / "slurm-calls"
    bin_dir.mkdir()
    for command in SLURM_COMMANDS:
        (bin_dir / command).write_text(f'#!/bin/sh\necho "{command} $*" >> "{calls}"\nexit 1\n')
        (bin_dir / command).chmod(0o755)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("SLURM_CONF", None)
    return env, calls


def test_print_only_prints_each_experiment_and_submits_and_writes_nothing(tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (tmp_path / "prelude.sh").write_text(V1_TEMPLATE)
    run = write_run(tmp_path, probes, [{"seed": i} for i in range(3)])
    env, calls = trip_wires(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = run_cli(
        "run", f"--run={run}", "--runner=slurm", "--slurm_print_only=True", "--slurm_partition=gpu",
        "--slurm_gpus_per_job=2", "--slurm_cpus_per_gpu=3", "--slurm_sbatch_template=prelude.sh",
        cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stderr
    for seed in range(3):
        name = f"0{seed}_probe_see_{seed}"
        assert f"] {name}  (rule exp_{name})" in result.stdout
        assert f"--seed={seed} --experiment={name}" in result.stdout
    assert result.stdout.count("sbatch -p gpu --mem 64 --cpus-per-gpu=3 --nice=5 --gpus=2") == 3
    assert "prelude" in result.stdout and "nothing submitted or written" in result.stdout
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
    assert not calls.exists() and not probe_records(probes)  # no Slurm command called, nothing ran


def test_a_job_runs_the_template_compiled_into_the_snakefile_and_bash_runs_one_without_a_shebang(tmp_path: Path) -> None:
    """README: compile keeps the template's text in the Snakefile, so editing the file later changes nothing
    until a recompile; a template without a shebang is run by bash. The job runs as a Slurm job runs it:
    Snakemake in remote mode for the job's one rule (--no-hooks, as the slurm executor's job script calls
    it; the local executor in place of srun), with SLURM_JOB_ID and the run's SFGEN_BACKEND exported."""
    probes = tmp_path / "probes"
    probes.mkdir()
    template = tmp_path / "prelude.sh"
    template.write_text('export PROBE_TEMPLATE=compiled PROBE_BASH="$BASH_VERSION"\n')  # no shebang
    run = write_run(tmp_path, probes, [{"seed": 0}])
    env, calls = trip_wires(tmp_path)
    compiled = run_cli("compile", f"--run={run}", "--out=wf", "--slurm_partition=gpu", "--slurm_sbatch_template=prelude.sh",
                       cwd=tmp_path, env=env)
    assert compiled.returncode == 0, compiled.stderr
    wf = tmp_path / "wf"
    assert "export PROBE_TEMPLATE=compiled" in (wf / "Snakefile").read_text()
    template.write_text("export PROBE_TEMPLATE=edited\n")  # the file changes after compiling

    rule = "exp_00_probe_see_0"
    job = run_snakemake("--mode", "remote", "--no-hooks", "--target-jobs", f"{rule}:", "--cores", "1", rule,
                        cwd=wf, env={**env, "SLURM_JOB_ID": "4711", "SFGEN_BACKEND": "slurm"})
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    records = probe_records(probes)
    assert len(records) == 1
    assert records[0]["env"]["PROBE_TEMPLATE"] == "compiled"  # the text compiled in, not the edited file
    assert records[0]["env"]["PROBE_BASH"]  # run by bash (Debian's /bin/sh, dash, has no $BASH_VERSION)
    marker = json.loads((wf / "markers" / f"{rule}.done").read_text())
    assert marker["slurm_job_id"] == "4711"
    assert marker["argv"][:2] == ["/bin/bash", str(wf / ".sfgen" / "slurm" / f"{rule}.sh")]
    # nothing submitted or asked of Slurm (Snakemake's slurm plugin reads `scontrol show config` on loading)
    made = calls.read_text().splitlines() if calls.exists() else []
    assert [call for call in made if call != "scontrol show config"] == []


def test_print_only_with_packing_prints_one_sbatch_per_bundle_with_its_experiments_and_gpus(tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    run = write_run(tmp_path, probes, [{"seed": i} for i in range(5)])
    env, calls = trip_wires(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = run_cli(
        "run", f"--run={run}", "--runner=slurm", "--slurm_print_only=True", "--slurm_gpus_per_job=2",
        "--slurm_cpus_per_gpu=3", "--slurm_mem_mb=1000", "--experiments_per_gpu=1", "--slurm_experiments_per_job=2",
        cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "5 experiments in 3 Slurm jobs of at most 2" in result.stdout
    blocks = result.stdout.split("\n[")[1:]
    assert [block.split("]")[0] for block in blocks] == ["1/3", "2/3", "3/3"]
    assert [block.count("  - ") for block in blocks] == [2, 2, 1]
    log = "--output .snakemake/slurm_logs/bundles/%j.log"
    for block in blocks[:2]:  # full bundles ask for the whole job
        assert f"sbatch --mem 1000 --cpus-per-gpu=3 --gpus=2 {log}" in block, block
        assert block.count("on the job's GPU 0") == 1 and block.count("on the job's GPU 1") == 1
    # the part-filled last bundle asks only for the GPU its one experiment fills, and that share of memory
    assert f"sbatch --mem 500 --cpus-per-gpu=3 --gpus=1 {log}" in blocks[2] and "on the job's GPU 0" in blocks[2]
    for seed in range(5):
        assert f"--seed={seed} --experiment=0{seed}_probe_see_{seed}" in result.stdout
    assert sorted(tmp_path.rglob("*")) == before and not calls.exists()


def test_packing_more_experiments_than_a_jobs_gpu_slots_is_a_one_line_error_that_writes_nothing(tmp_path: Path) -> None:
    run = write_run(tmp_path, tmp_path, [{"seed": i} for i in range(2)])
    result = run_cli(
        "compile", f"--run={run}", "--out=wf", "--slurm_gpus_per_job=8", "--experiments_per_gpu=4",
        "--slurm_experiments_per_job=33", cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "sfgen: error: option slurm_experiments_per_job=33 does not fit a Slurm job's slots: slurm_gpus_per_job=8 x "
        "experiments_per_gpu=4 = 32 experiments at once: give slurm_experiments_per_job of at most 32, more GPUs per "
        "job, or experiments_per_gpu=-1 to let them share all of the job's GPUs"
    ]
    assert not (tmp_path / "wf").exists()
