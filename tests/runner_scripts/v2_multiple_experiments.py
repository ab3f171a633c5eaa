"""v2: several Experiments sharing one RunDescription, different grids and base commands."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_seeds = ParamGrid([
    ('seed', [0, 42]),
])

_envs = ParamGrid([
    ('env', ['atari_pong', 'atari_breakout', 'atari_qbert']),
    ('num_envs_per_worker', [8, 16]),
])

_cmd = 'python -m sample_factory.algorithms.appo.train_appo --algo=APPO --train_for_env_steps=10000000'

_experiments = [
    Experiment('seeds', _cmd + ' --env=doom_basic', _seeds.generate_params(randomize=False)),
    Experiment('atari', _cmd, _envs.generate_params(randomize=False)),
    Experiment('atari_rnn', _cmd + ' --use_rnn=True', _envs.generate_params(randomize=False), {'OMP_NUM_THREADS': '1'}),
]

RUN_DESCRIPTION = RunDescription('multi_v2', experiments=_experiments)
