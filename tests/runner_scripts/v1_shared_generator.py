"""v1: one generator object passed to two Experiments: the second one gets no params."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('seed', [1, 2, 3]),
])
_gen = _params.generate_params(randomize=False)

_experiments = [
    Experiment('first', 'python train.py', _gen),
    Experiment('second', 'python train.py', _gen),
]

RUN_DESCRIPTION = RunDescription('shared_gen_v1', experiments=_experiments)
