"""v2: per-Experiment env_vars (int and str values), and one Experiment without."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('seed', [42]),
])

_cmd = 'python -m sample_factory.algorithms.appo.train_appo --env=doom_dwango5_bots_experimental'

_experiments = [
    Experiment('port_a', _cmd, _params.generate_params(randomize=False), {'DOOM_DEFAULT_UDP_PORT': 35300}),
    Experiment('port_b', _cmd, _params.generate_params(randomize=False), {'DOOM_DEFAULT_UDP_PORT': 40300, 'CUDA_VISIBLE_DEVICES': '0,1'}),
    Experiment('no_env', _cmd, _params.generate_params(randomize=False)),
    Experiment('empty_env', _cmd, _params.generate_params(randomize=False), {}),
]

RUN_DESCRIPTION = RunDescription('env_vars_v2', experiments=_experiments)
