"""v2: grouped keys: a tuple of names varied together with a tuple of value lists."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        ("seed", [1111, 2222]),
        (("use_rnn", "recurrence"), ([False, 1], [True, 16])),
    ]
)

_experiments = [
    Experiment("grouped", "python -m sf_examples.train --env=Ant", _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription("grouped_v2", experiments=_experiments)
