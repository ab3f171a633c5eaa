"""v2: Experiments without parameters (param_generator is optional in v2)."""

from sample_factory.launcher.run_description import Experiment, ParamList, RunDescription

_experiments = [
    Experiment("bare", "python train.py --env=doom_basic"),
    Experiment("bare_list", "python train.py --env=doom_battle", ParamList([]).generate_params(randomize=False)),
    Experiment("one_empty_combination", "python train.py", [{}]),
]

RUN_DESCRIPTION = RunDescription("no_params_v2", experiments=_experiments)
