"""v1: an empty ParamGrid, and a grid in which one key has no values (0 combinations)."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_empty = ParamGrid([])
_no_values = ParamGrid([
    ('seed', [1, 2]),
    ('env', []),
])

_experiments = [
    Experiment('empty_grid', 'python train.py --env=doom_basic', _empty.generate_params(randomize=False)),
    Experiment('no_values', 'python train.py', _no_values.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('empty_grid_v1', experiments=_experiments)
