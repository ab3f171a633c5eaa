"""Bad input: one line naming the problem and the fix, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

GOOD = """
from sample_factory.launcher.run_description import RunDescription, Experiment, ParamGrid
RUN_DESCRIPTION = RunDescription("r", experiments=[Experiment("e", "python t.py", ParamGrid([("seed", [1, 2])]).generate_params())])
"""

BAD_MODULES = {
    "syntax": ("def broken(:\n", "syntax error"),
    "import_inside": ("import definitely_not_a_module_xyz\n", "No module named 'definitely_not_a_module_xyz'"),
    "no_description": ("X = 1\n", "defines no RUN_DESCRIPTION"),
    "wrong_type": ("RUN_DESCRIPTION = [1, 2]\n", "not a RunDescription"),
    "empty_sweep": (
        "from sample_factory.runner.run_description import *\n"
        "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py', ParamGrid([('a', [])]).generate_params())][:0])\n",
        "has no experiments",
    ),
    "raises": ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
    "duplicates": (
        "from sample_factory.runner.run_description import *\n"
        "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'python t.py', ParamGrid([('a', [1, 2])]).generate_params())],"
        " customize_experiment_name=False)\n",
        "duplicate experiment names: e",
    ),
    "slash_in_name": (
        "from sample_factory.launcher.run_description import *\n"
        "RUN_DESCRIPTION = RunDescription('../escape', experiments=[Experiment('e', 'python t.py')])\n",
        "not a usable directory name",
    ),
    "shell_operator": (
        "from sample_factory.launcher.run_description import *\n"
        "RUN_DESCRIPTION = RunDescription('r', experiments=[Experiment('e', 'cd x && python t.py')])\n",
        "shell operator",
    ),
}


def _assert_one_line_error(result, expected: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize("kind", sorted(BAD_MODULES))
def test_bad_run_module_gives_one_line_and_writes_nothing(tmp_path: Path, kind: str):
    body, expected = BAD_MODULES[kind]
    (tmp_path / "bad.py").write_text(body)
    for run in ("bad", "bad.py"):
        result = run_cli("compile", f"--run={run}", "--out=wf", cwd=tmp_path)
        _assert_one_line_error(result, expected)
        assert not (tmp_path / "wf").exists()


def test_missing_module_names_it(tmp_path: Path):
    result = run_cli("compile", "--run=no_such_runs.sweep", cwd=tmp_path)
    _assert_one_line_error(result, "no run module named 'no_such_runs.sweep'")
    assert list(tmp_path.iterdir()) == []
    _assert_one_line_error(run_cli("list", "--run=missing.py", cwd=tmp_path), "does not exist")


def test_debug_shows_the_traceback(tmp_path: Path):
    (tmp_path / "bad.py").write_text("raise RuntimeError('boom')\n")
    result = run_cli("--debug", "list", "--run=bad.py", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_bad_option_values(tmp_path: Path):
    (tmp_path / "good.py").write_text(GOOD)
    _assert_one_line_error(run_cli("compile", "--run=good.py", "--max_parallel=0", cwd=tmp_path), "max_parallel")
    assert not (tmp_path / "Snakefile").exists()


def test_compiling_another_run_into_a_workflow_dir_refuses_unless_forced(tmp_path: Path):
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "other.py").write_text(GOOD.replace('RunDescription("r"', 'RunDescription("other"'))
    assert run_cli("compile", "--run=good.py", "--out=wf", cwd=tmp_path).returncode == 0
    before = (tmp_path / "wf" / "Snakefile").read_text()
    assert run_cli("compile", "--run=good.py", "--out=wf", cwd=tmp_path).returncode == 0  # same run: fine
    refused = run_cli("compile", "--run=other.py", "--out=wf", cwd=tmp_path)
    _assert_one_line_error(refused, "holds run 'r', not 'other'")
    assert (tmp_path / "wf" / "Snakefile").read_text() == before
    assert run_cli("compile", "--run=other.py", "--out=wf", "--force", cwd=tmp_path).returncode == 0
    assert "SFGEN_RUN = 'other'" in (tmp_path / "wf" / "Snakefile").read_text()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "Snakefile").write_text("rule x:\n    shell: 'true'\n")
    _assert_one_line_error(run_cli("compile", "--run=good.py", "--out=foreign", cwd=tmp_path), "not written by sfgen")
