"""v2: ParamList with heterogeneous dicts (explicit randomize=False), plus a plain list of dicts."""

from sample_factory.launcher.run_description import Experiment, ParamList, RunDescription

_combinations = ParamList([
    {'seed': 1, 'env': 'doom_battle'},
    {'env': 'doom_battle2', 'learning_rate': 0.0003},
    {'use_rnn': False},
    {'num_workers': 8, 'num_worlds': 2, 'seed': 3},
])

_experiments = [
    Experiment('plist', 'python train.py --algo=APPO', _combinations.generate_params(randomize=False)),
    Experiment('plain_list', 'python train.py', [{'seed': 7}, {'seed': 8, 'rollout': 64}]),
]

RUN_DESCRIPTION = RunDescription('param_list_v2', experiments=_experiments)
