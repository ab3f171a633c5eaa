"""Differential test: `sfgen list --json` against Sample Factory's real generator on varied scripts.

Names, root dirs and env vars must be identical. Commands must be identical byte for byte where every
argument is benign; otherwise sfgen quotes the argument, and splitting sfgen's command with shlex must
give exactly the words Sample Factory meant (its string joined those words with single spaces).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from conftest import run_cli
from sf_reference import SFScriptError, reference_env_or_skip, sf_generate

from sfgen.experiments import shell_word

SCRIPTS = sorted((Path(__file__).parent / "runner_scripts").glob("v*.py"))
SUPERSET = {"v1_err_grouped_keys.py"}  # SF 1 rejects grouped keys; sfgen accepts them in both generations
# Scripts where Sample Factory fails inside its own code and sfgen refuses the script up front, with its own
# reason: SF's exception type, and what sfgen says instead. Wherever else SF raises, sfgen must fail with
# SF's very exception (type and message), which it passes on from the run module.
OWN_REASONS = {
    "v1_err_empty_token_key.py": ("IndexError", "parameter name 'a__b' has an empty part between separators"),
    "v2_err_empty_token_key.py": ("IndexError", "parameter name 'a__b' has an empty part between separators"),
}


def assert_fails_for_sfs_reason(result, error: SFScriptError, script: Path) -> None:
    """sfgen refused ``script`` in one line, for the reason Sample Factory raised."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and result.stdout == "", f"SF raised {error.exc_type}, sfgen accepted {script.name}"
    assert len(lines) == 1 and lines[0].startswith("sfgen: error: ") and "Traceback" not in result.stderr, result.stderr
    if script.name in OWN_REASONS:
        exc_type, reason = OWN_REASONS[script.name]
        assert error.exc_type == exc_type, f"SF now raises {error.exc_type}: {error.message}"
        assert reason in lines[0]
    else:
        assert f"{error.exc_type}: {error.message}" in lines[0], (error.exc_type, error.message, lines[0])


def _version(script: Path) -> int:
    return int(script.name[1])


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name not in SUPERSET], ids=lambda s: s.stem)
@pytest.mark.parametrize("train_dir,suffix", [("./train_dir", ""), ("/data/train", "slurm")])
def test_sfgen_lists_what_sample_factory_generates(script: Path, train_dir: str, suffix: str, tmp_path: Path):
    reference_env_or_skip(_version(script))
    result = run_cli(
        "list", f"--run={script}", f"--train_dir={train_dir}", f"--experiment_suffix={suffix}", "--json", cwd=tmp_path
    )
    try:
        expected = sf_generate(script, _version(script), train_dir, suffix)
    except SFScriptError as error:
        assert_fails_for_sfs_reason(result, error, script)
        return
    assert script.name not in OWN_REASONS, f"SF no longer raises for {script.name}"
    if not expected:
        assert result.returncode != 0 and "no experiments" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert len(ours) == len(expected)
    assert [e["name"] for e in ours] == [e["name"] for e in expected]
    assert [e["root_dir"] for e in ours] == [e["root_dir"] for e in expected]
    assert [e["env_vars"] for e in ours] == [e["env_vars"] for e in expected]
    for mine, theirs in zip(ours, expected):
        words = theirs["cmd"].split(" ")
        if all(shell_word(word) == word for word in words):
            assert mine["cmd"] == theirs["cmd"]
        else:
            assert " ".join(shlex.split(mine["cmd"])) == theirs["cmd"]
        assert mine["argv"] == shlex.split(mine["cmd"])


def test_grouped_keys_work_in_v1_too(tmp_path: Path):
    """SF 1 raises on grouped keys; sfgen varies them together as SF 2 does: the same experiments (names, root
    dirs) as SF 2 generates from the same grid, with SF 1's command line form."""
    script = Path(__file__).parent / "runner_scripts" / "v1_err_grouped_keys.py"
    result = run_cli("list", f"--run={script}", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert len(ours) == 2
    root = "--train_dir=./train_dir --experiments_root=err_grouped_v1/grouped_"
    assert [e["cmd"] for e in ours] == [
        f"python train.py --seed=1 --use_rnn=False --recurrence=1 --experiment=00_grouped_see_1_u.rnn_False_rec_1 {root}",
        f"python train.py --seed=1 --use_rnn=True --recurrence=16 --experiment=01_grouped_see_1_u.rnn_True_rec_16 {root}",
    ]
    reference_env_or_skip(2)
    as_v2 = tmp_path / "grouped_as_v2.py"
    as_v2.write_text(script.read_text().replace("sample_factory.runner.run_description", "sample_factory.launcher.run_description"))
    expected = sf_generate(as_v2, 2, "./train_dir", "")
    assert len(expected) == 2
    assert [(e["name"], e["root_dir"], e["env_vars"]) for e in ours] == [(e["name"], e["root_dir"], e["env_vars"]) for e in expected]


def _sf_examples(version: int) -> list[Path]:
    from sf_reference import sf_example_scripts

    reference_env_or_skip(version)
    return sf_example_scripts(version)


@pytest.mark.parametrize("version", [1, 2])
def test_sample_factorys_own_example_runs_list_identically(version: int, tmp_path: Path):
    """SF's example run scripts (fetched with SF): identical where they are deterministic; those drawing
    random seeds with SF's seeds() helper load and give the same experiments up to those seed values."""
    checked = 0
    scripts = _sf_examples(version)
    assert len(scripts) >= 9, scripts  # SF 1 ships 23 example run scripts, SF 2 nine
    for script in scripts:
        env, extra = None, []
        if "sf_examples" in script.read_text():  # v2's isaacgym examples import their package
            extra = [next(p for p in script.parents if p.name == "examples")]
            env = {**os.environ, "PYTHONPATH": str(extra[0])}
        result = run_cli("list", f"--run={script}", "--json", cwd=tmp_path, env=env)
        try:
            expected = sf_generate(script, version, "./train_dir", "", extra_path=extra)
        except SFScriptError as error:
            assert_fails_for_sfs_reason(result, error, script)
            continue
        assert result.returncode == 0, (script, result.stderr)
        ours = json.loads(result.stdout)
        assert len(ours) == len(expected), script
        if "seeds(" in script.read_text():
            assert [e["root_dir"] for e in ours] == [e["root_dir"] for e in expected]
            continue
        assert [e["name"] for e in ours] == [e["name"] for e in expected], script
        assert [e["cmd"] for e in ours] == [e["cmd"] for e in expected], script
        checked += 1
    assert checked >= 3
