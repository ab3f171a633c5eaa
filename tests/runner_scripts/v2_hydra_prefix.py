"""v2: Hydra-style overrides: param_prefix='' with dotted keys, custom arg names."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        ("model.lr", [0.001, 1e-4]),
        ("trainer.max_epochs", [10]),
        ("data.batch-size", [32, 64]),
        ("seed", [1]),
    ]
)

_experiments = [
    Experiment("hydra", "python my_app.py", _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription(
    "hydra_v2",
    experiments=_experiments,
    experiment_arg_name="name",
    experiment_dir_arg_name="hydra.run.dir",
    param_prefix="",
)
