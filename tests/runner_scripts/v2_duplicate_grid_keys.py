"""v2: a key repeated in the grid: OrderedDict keeps the first position, the last values."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('seed', [1, 2]),
    ('env', ['a', 'b']),
    ('seed', [3]),
])

_experiments = [
    Experiment('dup', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('dup_keys_v2', experiments=_experiments)
