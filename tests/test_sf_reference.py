"""Self-test of the Sample Factory reference harness (tests/sf_reference.py)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).parent)
)  # works whether or not tests/ is a package

from sf_reference import (
    RUN_DESCRIPTION_MODULE,
    SF_VERSIONS,
    SFScriptError,
    reference_env_or_skip,
    sf_generate,
)

SCRIPTS = Path(__file__).parent / "runner_scripts"
SEED_NAME = "00_basic_envs_fs4_see_0_env_doom_my_way_home"
SEED_ROOT = "doom_basic_envs_appo/basic_envs_fs4_"


@pytest.mark.parametrize("version", [1, 2])
def test_reference_env_is_genuine_sf(version: int) -> None:
    env_dir = reference_env_or_skip(version)
    manifest = json.loads((env_dir / "sfgen_reference.json").read_text())
    assert manifest["sample_factory_version"] == SF_VERSIONS[version]
    rd_path = RUN_DESCRIPTION_MODULE[version].replace(".", "/") + ".py"
    assert rd_path in manifest["files"]
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((env_dir / rel).read_bytes()).hexdigest() == digest, rel
    assert set(manifest["shims"]) == {"sample_factory/utils/utils.py"}


def test_v1_seed_example() -> None:
    reference_env_or_skip(1)
    experiments = sf_generate(
        SCRIPTS / "v1_seed_paper_doom_basic_envs.py", 1, "./train_dir", ""
    )
    assert len(experiments) == 60
    first = experiments[0]
    assert first["name"] == SEED_NAME
    assert first["root_dir"] == SEED_ROOT
    assert first["env_vars"] is None
    assert first["cmd"].startswith(
        "python -m sample_factory.algorithms.appo.train_appo --train_for_env_steps=500000000 "
    )
    assert first["cmd"].endswith(
        f" --seed=0 --env=doom_my_way_home --experiment={SEED_NAME} --train_dir=./train_dir --experiments_root={SEED_ROOT}"
    )
    assert (
        experiments[-1]["name"]
        == "59_basic_envs_fs4_see_9999_env_doom_health_gathering_supreme"
    )


def test_v2_seed_example_and_suffix() -> None:
    reference_env_or_skip(2)
    experiments = sf_generate(
        SCRIPTS / "v2_seed_paper_doom_basic_envs.py", 2, "/tmp/td", "slurm"
    )
    first = experiments[0]
    assert first["name"] == SEED_NAME
    assert first["root_dir"] == "doom_basic_envs_appo/basic_envs_fs4_slurm"
    assert first["cmd"].endswith(
        f" --experiment={SEED_NAME} --train_dir=/tmp/td/doom_basic_envs_appo/basic_envs_fs4_slurm"
    )


@pytest.mark.parametrize(
    "script", sorted(SCRIPTS.glob("v[12]_*.py")), ids=lambda p: p.stem
)
def test_runner_script_runs_in_sf(script: Path) -> None:
    version = int(script.name[1])
    reference_env_or_skip(version)
    if "_err_" in script.name:
        with pytest.raises(SFScriptError):
            sf_generate(script, version, "./train_dir", "")
        return
    experiments = sf_generate(script, version, "./train_dir", "")
    assert experiments
    for exp in experiments:
        assert set(exp) == {"cmd", "name", "root_dir", "env_vars"}
        assert "=./train_dir" in exp["cmd"]
