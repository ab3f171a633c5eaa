"""v1: custom arg names with the default SF dir format (the dir arg name is then unused)."""

from sample_factory.runner.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('env', ['mujoco_ant', 'mujoco_hopper']),
])

_experiments = [
    Experiment('named', 'python -m train', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription(
    'custom_args_v1', experiments=_experiments,
    experiment_arg_name='-n', experiment_dir_arg_name='--this_is_ignored',
)
