"""v1 error case: grouped (tuple) keys are a 2.x feature; v1 cannot handle them."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('seed', [1]),
    (('use_rnn', 'recurrence'), ([False, 1], [True, 16])),
])

_experiments = [
    Experiment('grouped', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('err_grouped_v1', experiments=_experiments)
