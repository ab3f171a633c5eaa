"""v2 error case: a key with consecutive/leading separators makes SF's shorthand code raise IndexError."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('a__b', [1]),
])

_experiments = [
    Experiment('bad_key', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('err_key_v2', experiments=_experiments)
