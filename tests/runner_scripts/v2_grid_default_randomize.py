"""v2: ParamGrid.generate_params() with no argument: deterministic in 2.0.3+ (default randomize=False)."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        ("seed", [0, 1, 2]),
        ("env", ["ant", "humanoid"]),
        ("use_rnn", [False, True]),
    ]
)

_experiments = [Experiment("default_order", "python -m sf_examples.brax.train_brax", _params.generate_params())]

RUN_DESCRIPTION = RunDescription("default_randomize_v2", experiments=_experiments)
