"""v2: custom experiment_arg_name / experiment_dir_arg_name (v2 always appends <dir_arg>=<train_dir>/<root_dir>)."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        ("seed", [0, 1]),
        ("gamma", [0.99]),
    ]
)

_experiments = [
    Experiment("other_app", "python other_app.py --verbose", _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription(
    "custom_args_v2",
    experiments=_experiments,
    experiment_arg_name="--exp_name",
    experiment_dir_arg_name="--logdir",
)
