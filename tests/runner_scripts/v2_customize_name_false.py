"""v2: customize_experiment_name=False (names become <idx>_<base_name>)."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        ("seed", [0, 1, 2]),
        ("env", ["mujoco_ant"]),
    ]
)

_experiments = [
    Experiment("plain_names", "python -m sf_examples.mujoco.train_mujoco", _params.generate_params(randomize=False)),
    Experiment("plain_names_noparams", "python -m sf_examples.mujoco.train_mujoco"),
]

RUN_DESCRIPTION = RunDescription("plain_names_v2", experiments=_experiments, customize_experiment_name=False)
