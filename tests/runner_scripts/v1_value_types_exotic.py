"""v1: values SF formats with plain str(): lists, tuples, dicts, strings with spaces, inf/nan."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('layers', [[64, 64], (1, 2)]),
    ('cfg', [{}, {'a': 1}]),
    ('tags', ['a b']),
    ('big', [float('inf'), float('nan'), -0.0]),
])

_experiments = [
    Experiment('exotic', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('exotic_v1', experiments=_experiments)
