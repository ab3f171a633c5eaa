"""Sample Factory's run-description API as a run module and users' tooling call it, both generations.

Everything is imported through sfgen's shim of Sample Factory's import paths, exactly as a run module
sees it while sfgen loads it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from sfgen.compat import V1, V2, sample_factory_imports


@pytest.fixture(params=[V1, V2], ids=["sf1", "sf2"])
def sf(request) -> Iterator[ModuleType]:
    with sample_factory_imports():
        yield importlib.import_module(request.param)


@pytest.fixture
def sf1() -> Iterator[ModuleType]:
    with sample_factory_imports():
        yield importlib.import_module(V1)


@pytest.fixture
def sf2() -> Iterator[ModuleType]:
    with sample_factory_imports():
        yield importlib.import_module(V2)


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


GRID = [("lr", [0.5, 1]), ("env", ["a", "b"]), ("use_rnn", [True, False])]
UNSHUFFLED = [{"lr": lr, "env": env, "use_rnn": rnn} for lr in (0.5, 1) for env in ("a", "b") for rnn in (True, False)]


def test_param_list_yields_the_given_dicts_in_order_unless_shuffled(sf):
    combinations = [{"p1": 1, "p2": "a"}, {"p2": "b", "p4": None}, {"p1": True}]
    ordered = list(sf.ParamList(combinations).generate_params(randomize=False))
    assert len(ordered) == 3
    assert ordered == combinations
    shuffled = list(sf.ParamList(combinations).generate_params())  # randomize=True by default in both
    assert len(shuffled) == 3
    assert sorted(map(repr, shuffled)) == sorted(map(repr, combinations))  # repr: 1 stays 1, True stays True


def test_param_grid_is_a_product_with_the_first_key_slowest(sf):
    grid = sf.ParamGrid(GRID)
    ordered = list(grid.generate_params(randomize=False))
    assert len(ordered) == 8
    assert ordered == UNSHUFFLED
    shuffled = list(grid.generate_params(randomize=True))  # seeded and type-keeping, unlike Sample Factory's
    assert len(shuffled) == 8
    assert shuffled != UNSHUFFLED
    assert sorted(map(repr, shuffled)) == sorted(map(repr, UNSHUFFLED))
    assert list(sf.ParamGrid([]).generate_params(randomize=False)) == []


def test_grid_shuffles_by_default_in_sf1_only(sf1, sf2):
    sf1_default = list(sf1.ParamGrid(GRID).generate_params())
    assert len(sf1_default) == 8
    assert sf1_default == list(sf1.ParamGrid(GRID).generate_params(randomize=True))  # the same on every call
    assert sf1_default != UNSHUFFLED
    sf2_default = list(sf2.ParamGrid(GRID).generate_params())
    assert len(sf2_default) == 8
    assert sf2_default == UNSHUFFLED


def test_a_users_own_param_generator_feeds_an_experiment(sf):
    class Seeds(sf.ParamGenerator):
        def generate_params(self, randomize: bool = True):
            yield from ({"seed": seed} for seed in (7, 8))

    experiment = sf.Experiment("e", "python t.py", Seeds().generate_params())
    runs = list(experiment.generate_experiments("--experiment", True, "--"))
    assert len(runs) == 2
    assert [name for _, name in runs] == ["00_e_see_7", "01_e_see_8"]


def test_constructors_keep_sample_factorys_attributes(sf):
    grid = sf.ParamGrid([("seed", [1, 2])])
    combinations = [{"seed": 3}]
    env_vars = {"OMP_NUM_THREADS": "1"}
    experiment = sf.Experiment("e", "python t.py", grid.generate_params(randomize=False), env_vars=env_vars)
    run = sf.RunDescription("r", [experiment], experiment_arg_name="--name", param_prefix="")
    assert len(grid.grid) == 1
    assert list(grid.grid.items()) == [("seed", [1, 2])]
    assert sf.ParamList(combinations).combinations is combinations
    assert (experiment.base_name, experiment.cmd, experiment.env_vars) == ("e", "python t.py", env_vars)
    assert len(experiment.params) == 2
    assert experiment.params == [{"seed": 1}, {"seed": 2}]
    assert (run.run_name, run.experiment_suffix, run.experiment_arg_name) == ("r", "", "--name")
    assert (run.experiment_dir_arg_name, run.customize_experiment_name, run.param_prefix) == ("--train_dir", True, "")
    assert len(run.experiments) == 1
    assert run.experiments[0] is experiment


def test_experiment_yields_sample_factorys_command_and_name(sf):
    grid = sf.ParamGrid([("learning_rate", [0.1, 1]), ("num_workers", [4]), ("num_worlds", [8])])
    experiment = sf.Experiment("test", "python rl.py --env=x", grid.generate_params(randomize=False))
    runs = list(
        experiment.generate_experiments(
            experiment_arg_name="--experiment", customize_experiment_name=True, param_prefix="--"
        )
    )
    assert len(runs) == 2
    assert runs == [
        (
            "python rl.py --env=x --learning_rate=0.1 --num_workers=4 --num_worlds=8"
            " --experiment=00_test_l.rat_0.1_n.wor_4_n.worl_8",
            "00_test_l.rat_0.1_n.wor_4_n.worl_8",
        ),
        (
            "python rl.py --env=x --learning_rate=1 --num_workers=4 --num_worlds=8"
            " --experiment=01_test_l.rat_1_n.wor_4_n.worl_8",
            "01_test_l.rat_1_n.wor_4_n.worl_8",
        ),
    ]


def test_experiment_without_params_is_one_run_and_hydra_prefix_is_verbatim(sf):
    bare = list(sf.Experiment("bare", "python t.py", []).generate_experiments("--experiment", True, "--"))
    assert len(bare) == 1
    assert bare == [("python t.py --experiment=00_bare", "00_bare")]
    hydra = list(sf.Experiment("h", "python app.py", [{"model.lr": 3}]).generate_experiments("name", True, "+"))
    assert len(hydra) == 1
    assert hydra == [("python app.py +model.lr=3 name=00_h_m.lr_3", "00_h_m.lr_3")]


def test_plain_names_are_the_base_name_in_sf1_and_indexed_in_sf2(sf1, sf2):
    params = [{"seed": 1}, {"seed": 2}]
    sf1_runs = sf1.Experiment("e", "python t.py", params).generate_experiments("--x", False, "--")
    sf1_names = [name for _, name in sf1_runs]
    assert len(sf1_names) == 2
    assert sf1_names == ["e", "e"]
    sf2_runs = list(sf2.Experiment("e", "python t.py", params).generate_experiments("--x", False, "--"))
    assert len(sf2_runs) == 2
    assert sf2_runs == [("python t.py --seed=1 --x=00_e", "00_e"), ("python t.py --seed=2 --x=01_e", "01_e")]


def test_sf2_experiment_needs_no_param_generator(sf2):
    runs = list(sf2.Experiment("e", "python t.py").generate_experiments("--experiment", True, "--"))
    assert len(runs) == 1
    assert runs == [("python t.py --experiment=00_e", "00_e")]


def _sweep(sf: ModuleType, **options) -> object:
    env_vars = {"OMP_NUM_THREADS": "1"}
    experiments = [
        sf.Experiment("a", "python a.py", [{"seed": 1}, {"seed": 2}], env_vars=env_vars),
        sf.Experiment("b", "python b.py", [{"lr": 0.5}]),
    ]
    return sf.RunDescription("sweep", experiments, **options)


def test_sf1_description_passes_train_dir_and_experiments_root_and_creates_nothing(sf1, tmp_path: Path):
    run = _sweep(sf1)
    run.experiment_suffix = "s"
    train_dir = str(tmp_path / "td")
    listed = list(run.generate_experiments(train_dir))  # makedirs=True: SF 1 still makes no dir in this format
    assert len(listed) == 3
    assert listed == [
        (f"python a.py --seed=1 --experiment=00_a_see_1 --train_dir={train_dir} --experiments_root=sweep/a_s",
         "00_a_see_1", "sweep/a_s", {"OMP_NUM_THREADS": "1"}),
        (f"python a.py --seed=2 --experiment=01_a_see_2 --train_dir={train_dir} --experiments_root=sweep/a_s",
         "01_a_see_2", "sweep/a_s", {"OMP_NUM_THREADS": "1"}),
        (f"python b.py --lr=0.5 --experiment=00_b_lr_0.5 --train_dir={train_dir} --experiments_root=sweep/b_s",
         "00_b_lr_0.5", "sweep/b_s", None),
    ]
    assert listed[0][3] is run.experiments[0].env_vars
    assert _tree(tmp_path) == []


def test_sf1_other_apps_format_passes_and_creates_each_experiment_dir(sf1, tmp_path: Path):
    run = _sweep(sf1, experiment_dirs_sf_format=False, experiment_arg_name="--name", experiment_dir_arg_name="--dir")
    listed = list(run.generate_experiments(str(tmp_path / "td"), makedirs=True))
    assert len(listed) == 3
    assert [cmd for cmd, *_ in listed] == [
        f"python a.py --seed=1 --name=00_a_see_1 --dir={tmp_path}/td/sweep/a_",
        f"python a.py --seed=2 --name=01_a_see_2 --dir={tmp_path}/td/sweep/a_",
        f"python b.py --lr=0.5 --name=00_b_lr_0.5 --dir={tmp_path}/td/sweep/b_",
    ]
    assert _tree(tmp_path) == ["td", "td/sweep", "td/sweep/a_", "td/sweep/b_"]


def test_sf2_description_passes_the_experiment_dir_and_creates_it(sf2, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listed = list(_sweep(sf2).generate_experiments("./train_dir"))
    assert len(listed) == 3
    assert listed == [
        ("python a.py --seed=1 --experiment=00_a_see_1 --train_dir=./train_dir/sweep/a_",
         "00_a_see_1", "sweep/a_", {"OMP_NUM_THREADS": "1"}),
        ("python a.py --seed=2 --experiment=01_a_see_2 --train_dir=./train_dir/sweep/a_",
         "01_a_see_2", "sweep/a_", {"OMP_NUM_THREADS": "1"}),
        ("python b.py --lr=0.5 --experiment=00_b_lr_0.5 --train_dir=./train_dir/sweep/b_",
         "00_b_lr_0.5", "sweep/b_", None),
    ]
    assert _tree(tmp_path) == ["train_dir", "train_dir/sweep", "train_dir/sweep/a_", "train_dir/sweep/b_"]


def test_directories_are_made_as_each_experiment_is_reached(sf2, tmp_path: Path):
    listing = _sweep(sf2).generate_experiments(str(tmp_path))
    assert _tree(tmp_path) == []
    cmd, name, root_dir, env_vars = next(listing)
    assert name == "00_a_see_1"
    assert _tree(tmp_path) == ["sweep", "sweep/a_"]
    assert len(list(listing)) == 2
    assert _tree(tmp_path) == ["sweep", "sweep/a_", "sweep/b_"]


def test_makedirs_false_creates_nothing(sf, tmp_path: Path):
    options = {"experiment_dirs_sf_format": False} if sf.__name__ == V1 else {}
    listed = list(_sweep(sf, **options).generate_experiments(train_dir=str(tmp_path), makedirs=False))
    assert len(listed) == 3
    assert all(cmd.endswith(f"--train_dir={os.path.join(tmp_path, root_dir)}") for cmd, _, root_dir, _ in listed)
    assert _tree(tmp_path) == []
