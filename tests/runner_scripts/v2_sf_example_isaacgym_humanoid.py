"""Shape of SF 2.x's isaacgym_humanoid.py (grouped keys; isaacgym_runs helper values inlined)."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

ALGO_VERSION = 83  # sample_factory.utils.algo_version in 2.1.1
vstr = f"v{ALGO_VERSION:03d}"
base_cli = (
    "python -m sf_examples.isaacgym_examples.train_isaacgym "
    "--actor_worker_gpus 0 "
    "--wandb_project=sample_factory"
)

_params = ParamGrid(
    [
        ("seed", [1111, 2222, 3333, 4444, 5555]),
        (("serial_mode", "async_rl"), ([True, False], [False, True])),
        (("use_rnn", "recurrence"), ([False, 1], [True, 32])),
    ]
)

vstr = f"humanoid_{vstr}"

humanoid_cli = f" --env=Humanoid --train_for_env_steps=100000000 --with_wandb=True --wandb_tags humanoid {vstr}"
cli = base_cli + humanoid_cli

_experiments = [
    Experiment(vstr, cli + f" --wandb_group=isaacgym_humanoid_sf2_{vstr}", _params.generate_params(False)),
]

RUN_DESCRIPTION = RunDescription(vstr, experiments=_experiments)
