"""v1: experiment_dirs_sf_format=False with custom experiment / dir argument names."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('seed', [0, 1]),
    ('gamma', [0.99]),
])

_experiments = [
    Experiment('other_app', 'python other_app.py --verbose', _params.generate_params(randomize=False)),
    Experiment('other_app_noparams', 'python other_app.py', []),
]

RUN_DESCRIPTION = RunDescription(
    'non_sf_v1', experiments=_experiments, experiment_dirs_sf_format=False,
    experiment_arg_name='--exp_name', experiment_dir_arg_name='--logdir',
)
