"""v1: Experiments without parameters (v1 requires the param_generator argument)."""

from sample_factory.runner.run_description import Experiment, ParamList, RunDescription

_experiments = [
    Experiment('bare', 'python train.py --env=doom_basic', []),
    Experiment('bare_list', 'python train.py --env=doom_battle', ParamList([]).generate_params(randomize=False)),
    Experiment('one_empty_combination', 'python train.py', [{}]),
]

RUN_DESCRIPTION = RunDescription('no_params_v1', experiments=_experiments)
