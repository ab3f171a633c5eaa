"""Bad input through the real CLI and real Snakemake (issue 14, D3-D13): one line naming the problem and
the fix, a non-zero exit, no traceback, nothing written; and a running workflow is never changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_env, probe_cmd, probe_records, run_cli, run_snakemake, start_snakemake, wait_for

HEADER = "from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid, ParamList\n"


def _one_line_error(result: subprocess.CompletedProcess, expected: str) -> str:
    """The single error line of a failed ``sfgen`` or ``snakemake`` run, checked to contain ``expected``."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("Using profile")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sfgen: error: ") and expected in lines[0], lines[0]
    return lines[0]


def _compile_fails(project, body: str, expected: str, *options: str) -> str:
    """Compile ``body`` as a run module, by path and by dotted name: each fails and writes nothing."""
    project.write_run("bad", HEADER + body)
    for run in ("bad.py", "bad"):
        result = run_cli("compile", f"--run={run}", "--out=wf", *options, cwd=project.root)
        line = _one_line_error(result, expected)
        assert result.stdout == "" and not (project.root / "wf").exists()
    return line


def _compile(project, body: str, *options: str, name: str = "good") -> Path:
    project.write_run(name, HEADER + body)
    result = run_cli("compile", f"--run={name}.py", "--out=wf", "--pause_between=0", *options, cwd=project.root)
    assert result.returncode == 0, result.stderr
    return project.root / "wf"


def _probe_sweep(project, sleeps: list[float], extra: str = "") -> str:
    params = [{"seed": i, "sleep": s} for i, s in enumerate(sleeps)]
    return (
        f"RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', {probe_cmd(project.probes, extra)!r}, "
        f"ParamList({params!r}).generate_params(randomize=False))])\n"
    )


# D3: a recompile while the workflow runs would change the commands under the running Snakemake.
def test_a_recompile_while_the_workflow_runs_is_refused_even_with_force(project):
    wf = _compile(project, _probe_sweep(project, [300, 300]), "--max_parallel=1")
    before = (wf / "Snakefile").read_text()
    running = start_snakemake("--profile", "profiles/local", cwd=wf, log=project.root / "run.log", env=clean_env())
    try:
        wait_for(lambda: probe_records(project.probes), what="the first experiment to start")
        project.write_run("good", HEADER + _probe_sweep(project, [300, 300], "--changed=1"))
        for force in ([], ["--force"]):
            refused = run_cli("compile", "--run=good.py", "--out=wf", *force, cwd=project.root)
            line = _one_line_error(refused, f"is running the workflow in {wf}")
            assert "wait for it to end" in line
        assert (wf / "Snakefile").read_text() == before
    finally:
        running.send_signal(signal.SIGINT)
        running.wait(timeout=60)
    assert run_cli("compile", "--run=good.py", "--out=wf", cwd=project.root).returncode == 0  # ended: fine again


# D4: no GPU slot at all: Snakemake would wait forever ("Job rate limit reached").
def test_pinning_experiments_to_zero_gpus_is_refused(project):
    _compile_fails(project, _probe_sweep(project, [0]), "num_gpus=0", "--num_gpus=0", "--experiments_per_gpu=1")
    wf = _compile(project, _probe_sweep(project, [0]))
    result = run_snakemake("--profile", "profiles/local", "--config", "num_gpus=0", "experiments_per_gpu=1",
                           cwd=wf, env=clean_env(), timeout=60)
    _one_line_error(result, "num_gpus=0")
    assert probe_records(project.probes) == [] and not (wf / "markers").exists()


# D5: inf and nan compiled into Python source (NameError), and pauses that would never end.
@pytest.mark.parametrize("option", ["--pause_between=inf", "--pause_between=nan", "--kill_timeout=-inf",
                                    "--pause_between=1e9", "--max_parallel=1.5", "--num_gpus=x"])
def test_option_values_that_are_not_finite_or_out_of_range_are_refused(project, option):
    name = option[2:].split("=")[0]
    _compile_fails(project, _probe_sweep(project, [0]), f"option {name}=", option)


@pytest.mark.parametrize("override", ["pause_between=1e9", "pause_between=inf", "max_parallel=2.5", "workdir="])
def test_config_overrides_are_checked_like_the_command_line(project, override):
    wf = _compile(project, _probe_sweep(project, [0]))
    result = run_snakemake("--profile", "profiles/local", "--config", override, cwd=wf, env=clean_env(), timeout=60)
    _one_line_error(result, f"option {override.split('=')[0]}=")
    assert probe_records(project.probes) == []


# D6: the hash given to a colliding rule name was not checked against the names already taken.
def test_a_hashed_rule_name_never_takes_a_name_already_taken(project):
    experiments = ", ".join(f"Experiment({name!r}, 'true')" for name in ["a_b_648fa9b3", "a.b", "a_b"])
    wf = _compile(project, "from sample_factory.runner.run_description import RunDescription, Experiment\n"  # v1: names as given
                  f"RUN_DESCRIPTION = RunDescription('r', experiments=[{experiments}], customize_experiment_name=False)\n")
    listed = json.loads(run_cli("list", "--run=good.py", "--json", cwd=project.root).stdout)
    assert len({row["rule"] for row in listed}) == 3
    rules = run_snakemake("--list-rules", cwd=wf)
    assert rules.returncode == 0, rules.stderr
    assert sorted(rules.stdout.split()) == sorted(["all", *(row["rule"] for row in listed)])


# D7: a NUL byte cannot reach a program; the launcher died on it with a traceback.
def test_a_nul_byte_in_a_base_command_is_refused(project):
    _compile_fails(project, "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py\\0x')])\n",
                   "experiment 00_e: its cmd holds a NUL byte")


# D8: a run module that changes directory must not move compile's output (nor break the dotted form).
def test_a_run_module_that_changes_directory_does_not_move_the_output(project):
    elsewhere = project.root / "elsewhere"
    elsewhere.mkdir()
    project.write_run("moving", f"import os\nos.chdir({str(elsewhere)!r})\n" + HEADER + _probe_sweep(project, [0]))
    for run in ("moving.py", "moving"):
        result = run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root)
        assert result.returncode == 0, result.stderr
        assert (project.root / "wf" / "Snakefile").is_file() and list(elsewhere.iterdir()) == []
        assert "'workdir': '..'" in (project.root / "wf" / "Snakefile").read_text()


# D9: shlex.split(None) reads standard input: compile blocked for ever on an open terminal or pipe.
def test_an_experiment_without_a_command_is_refused_without_reading_stdin(project):
    project.write_run("bad", HEADER + "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', None, [])])\n")
    read_end, write_end = os.pipe()  # standard input that never ends
    try:
        result = subprocess.run([sys.executable, "-m", "sfgen", "compile", "--run=bad.py", "--out=wf"], cwd=project.root,
                                stdin=read_end, capture_output=True, text=True, timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    _one_line_error(result, "experiments[0] cmd is None, not a str")
    assert not (project.root / "wf").exists()


# D11: text that is not valid Unicode cannot be written to the Snakefile; profiles/ was left behind.
def test_a_lone_surrogate_in_an_env_var_is_refused_and_nothing_is_written(project):
    _compile_fails(project, "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py', "
                            "env_vars={'X': 'a\\udc80'})])\n", "env var X holds text that is not valid Unicode")


def test_a_compile_whose_write_fails_leaves_nothing_behind(project):
    wf = project.root / "wf"
    (wf / "Snakefile").mkdir(parents=True)  # a directory where the Snakefile goes: its write fails
    project.write_run("good", HEADER + _probe_sweep(project, [0]))
    result = run_cli("compile", "--run=good.py", "--out=wf", "--force", cwd=project.root)
    _one_line_error(result, f"cannot write the workflow into {wf}")
    assert os.listdir(wf) == ["Snakefile"] and os.listdir(wf / "Snakefile") == []


# D12: run module mistakes are input errors, and its output never mixes into sfgen's.
def test_output_of_the_run_module_goes_to_stderr_and_list_json_stays_json(project):
    project.write_run("noisy", "import os, sys\nprint('hello from the module')\nos.system('echo from a child')\n"
                      + HEADER + _probe_sweep(project, [0]))
    result = run_cli("list", "--run=noisy.py", "--json", cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1
    assert "hello from the module" in result.stderr and "from a child" in result.stderr


@pytest.mark.parametrize(
    "body, expected",
    [
        ("class Stop(BaseException):\n    pass\nraise Stop('halt')\n", "failed while importing: Stop: halt"),
        ("RUN_DESCRIPTION = RunDescription(5, experiments=[Experiment('e', 'python t.py')])\n", "run_name is 5, not a str"),
        ("RUN_DESCRIPTION = RunDescription('r', experiments=None)\n", "experiments is None, not a list"),
        ("RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py', env_vars=[1, 2])])\n",
         "experiments[0] env_vars is [1, 2], not a dict"),
        ("RUN_DESCRIPTION = RunDescription('r', experiments=['python t.py'])\n", "experiments[0] is 'python t.py', not an Experiment"),
        ("RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py', [1])])\n",
         "experiments[0] params[0] is 1, not a dict"),
    ],
    ids=["base_exception", "run_name", "experiments", "env_vars", "experiment", "params"],
)
def test_run_module_mistakes_are_input_errors(project, body, expected):
    line = _compile_fails(project, body, expected)
    assert "internal error" not in line


# D13: a misspelt --config key had no effect at all.
def test_an_unknown_config_key_is_refused_naming_the_closest_option(project):
    wf = _compile(project, _probe_sweep(project, [0]))
    result = run_snakemake("--profile", "profiles/local", "--config", "maxparallel=1", cwd=wf, env=clean_env(), timeout=60)
    _one_line_error(result, "unknown option 'maxparallel': did you mean max_parallel?")
    assert probe_records(project.probes) == []


def test_a_recompile_between_snakemakes_start_and_its_lock_is_caught_by_the_launchers(project):
    """Snakemake parses the Snakefile before its onstart takes the workflow's lock, so a compile can land in
    between: the launchers then see a Snakefile other than the one Snakemake parsed, and refuse to run the
    commands it may have changed, with a failure record that says so."""
    run = project.write_run("racy", f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("racy", experiments=[
            Experiment("e", {probe_cmd(project.probes)!r}, ParamList([{{"seed": 0}}]).generate_params()),
        ])
    """)
    assert run_cli("compile", f"--run={run}", "--out=wf", cwd=project.root).returncode == 0
    wf = project.root / "wf"
    # the recompile lands while Snakemake starts: here, in the Snakefile's onstart, before the launchers
    snakefile = wf / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace(
        "onstart:\n", "onstart:\n    import pathlib; p = pathlib.Path(workflow.main_snakefile); p.write_text(p.read_text())\n"))
    result = run_snakemake("--profile", "profiles/local", cwd=wf, env=clean_env())
    assert result.returncode != 0 and probe_records(project.probes) == []
    status = json.loads(run_cli("status", "--json", cwd=wf).stdout)
    assert len(status["experiments"]) == 1
    assert "recompiled after this run started" in status["experiments"][0]["reason"]
