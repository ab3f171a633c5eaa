"""v2: value types: int, float (0.001, 1e-4, ...), bool, str, None."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('int_v', [0, -1, 500000000, 10 ** 20]),
    ('float_v', [0.001, 1e-4, 1e-5, 3.0, 0.1 + 0.2, 1e20, 2.5e-8]),
    ('bool_v', [True, False]),
    ('str_v', ['abc', 'False', '', 'x=y']),
    ('none_v', [None]),
])

_experiments = [
    Experiment('types', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('value_types_v2', experiments=_experiments)
