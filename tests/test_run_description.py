"""The run description API: Sample Factory's import paths, seeded shuffles without type corruption."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli


def _list(project, name: str, body: str, *args: str) -> list[dict]:
    run = project.write_run(name, body)
    result = run_cli("list", f"--run={run}", "--json", *args, cwd=project.root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


SHUFFLED = """
from sample_factory.runner.run_description import *
_grid = ParamGrid([("seed", [0, 1, 2, 3, 4, 5, 6, 7]), ("use_rnn", [True, False])])
RUN_DESCRIPTION = RunDescription("shuffled", experiments=[Experiment("e", "python t.py", _grid.generate_params())])
"""


def test_randomize_is_the_same_on_every_compile_and_keeps_types(project):
    first = _list(project, "shuffled", SHUFFLED)
    second = _list(project, "shuffled", SHUFFLED)
    assert [e["name"] for e in first] == [e["name"] for e in second]
    unshuffled = [f"e_see_{seed}_u.rnn_{rnn}" for seed in range(8) for rnn in (True, False)]
    assert [e["name"].split("_", 1)[1] for e in first] != unshuffled  # v1 grids shuffle by default
    values = {arg for e in first for arg in e["argv"] if arg.startswith(("--seed=", "--use_rnn="))}
    assert values == {f"--seed={i}" for i in range(8)} | {"--use_rnn=True", "--use_rnn=False"}


def test_v2_import_path_and_dotted_module_name(project):
    package = project.root / "my_runs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sweep.py").write_text(
        "from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid\n"
        "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py',"
        " ParamGrid([(('use_rnn', 'recurrence'), ([False, 1], [True, 16]))]).generate_params())],"
        " customize_experiment_name=False)\n"
    )
    result = run_cli("list", "--run=my_runs.sweep", "--json", cwd=project.root)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [e["name"] for e in listed] == ["00_e", "01_e"]
    assert listed[1]["cmd"] == "python t.py --use_rnn=True --recurrence=16 --experiment=01_e --train_dir=./train_dir/r/e_"


def test_hostile_values_are_quoted_so_they_stay_one_literal_word(project):
    hostile = ["a b", "it's", 'say "hi"', "$(touch pwned)", "`touch pwned`", "x;y", "{x}", "{{x}}", "%s", "t\tab",
               "back\\slash", "naïve ✓", "new\nline"]
    listed = _list(
        project,
        "hostile",
        f"""
        from sample_factory.launcher.run_description import RunDescription, Experiment, ParamList
        RUN_DESCRIPTION = RunDescription("h", experiments=[
            Experiment("e", "python t.py", ParamList([{{"v": v}} for v in {hostile!r}]).generate_params(randomize=False))])
        """,
    )
    assert [e["argv"][2] for e in listed] == [f"--v={v}" for v in hostile]
    assert not (project.root / "pwned").exists()


def test_list_text_view_shows_names_rules_and_commands(project):
    run = project.write_run("shuffled", SHUFFLED)
    result = run_cli("list", f"--run={run}", "--experiment_suffix=x", cwd=project.root)
    assert result.returncode == 0
    assert "16 experiments" in result.stdout
    assert "--experiments_root=shuffled/e_x" in result.stdout and "rule exp_" in result.stdout
