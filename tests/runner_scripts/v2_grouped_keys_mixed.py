"""v2: several groups (2 and 3 keys, tuple/list values) between single keys, colliding shorthands."""

from sample_factory.launcher.run_description import Experiment, ParamGrid, RunDescription

_params = ParamGrid(
    [
        (("serial_mode", "async_rl"), ([True, False], [False, True])),
        ("seed", [0]),
        (("num_workers", "num_worlds", "num_envs_per_worker"), [(4, 1, 8), (8, 2, 4), [16, 4, 2]]),
        ("env", ["Humanoid"]),
        (("learning_rate", "lr"), ([0.001, 1e-4],)),
    ]
)

_experiments = [
    Experiment("mixed", "python train.py", _params.generate_params(randomize=False)),
]

RUN_DESCRIPTION = RunDescription("grouped_mixed_v2", experiments=_experiments)
