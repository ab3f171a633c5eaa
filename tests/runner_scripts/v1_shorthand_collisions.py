"""v1: keys whose name shorthands collide, and keys with '.', '-', '_' separators."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('num_workers', [4]),
    ('num_worlds', [2]),
    ('num_wor', [1]),  # collides with 'n.wor' and cannot grow: duplicate shorthand
    ('learning_rate', [0.001]),
    ('learning-rate', [0.002]),
    ('learning.rate', [0.003]),
    ('train_for_env_steps', [1000]),
    ('train_for_env_seconds', [60]),
    ('seed', [0, 1]),
    ('see', [5]),  # 'see' == shorthand of 'seed'
    ('x.seed', [6]),
    ('x_seed', [7]),
    ('model.encoder-type_name', ['conv']),
    ('lr', [0.1]),
    ('l', [2]),
    ('foo_', [1]),  # empty last token
    ('foo-', [2]),
    ('fs4', [True]),
    ('env', ['doom_basic']),
    ('en', ['x']),
    ('e', ['y']),
])

_experiments = [
    Experiment('collide', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('shorthands_v1', experiments=_experiments)
