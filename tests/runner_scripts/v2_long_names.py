"""v2: experiment names over 100 characters (SF only logs a warning)."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid([
    ('very_long_parameter_name_number_one', ['a_rather_long_value_for_the_first_parameter']),
    ('very_long_parameter_name_number_two', ['another_rather_long_value', 'short']),
])

_experiments = [
    Experiment('an_experiment_with_a_long_base_name', 'python train.py', _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription('long_names_v2', experiments=_experiments)
