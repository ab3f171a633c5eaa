"""Make Sample Factory's import paths resolve to sfgen while a run module loads.

Run scripts say ``from sample_factory.runner.run_description import ...`` (v1) or
``from sample_factory.launcher.run_description import ...`` (v2). Where Sample Factory is not installed,
these names are served by sfgen's implementation with each generation's rules, and only while the run
module is being imported.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager

from sfgen import run_description as rd

V1 = "sample_factory.runner.run_description"
V2 = "sample_factory.launcher.run_description"
SF2_ALGO_VERSION = 83  # sample_factory.utils.algo_version in Sample Factory 2.1.1, read by its example runs


def _seeds_from(rng: random.Random) -> Callable[[int], list[int]]:
    def seeds(num_seeds: int) -> list[int]:
        """Sample Factory's ``seeds()`` helper: random 7-digit seeds, but the same ones on every compile
        (Sample Factory drew new ones each time, renaming every experiment)."""
        return [rng.randrange(1000000, 9999999) for _ in range(num_seeds)]

    return seeds


def _exports() -> dict[str, dict[str, Any]]:
    seeds = _seeds_from(random.Random("sfgen seeds"))  # a fresh, fixed sequence for each run module load
    return {
        **_RUN_DESCRIPTIONS,
        "sample_factory.runner.runs.run_utils": {"seeds": seeds},
        "sample_factory.launcher.launcher_utils": {"seeds": seeds},
        "sample_factory.utils.algo_version": {"ALGO_VERSION": SF2_ALGO_VERSION},
    }


_RUN_DESCRIPTIONS = {
    V1: {
        "ParamGenerator": rd.ParamGenerator,
        "ParamGrid": rd.ParamGrid,
        "ParamList": rd.ParamList,
        "Experiment": rd.Experiment,
        "RunDescription": rd.RunDescription,
    },
    V2: {
        "ParamGenerator": rd.ParamGenerator,
        "ParamGrid": rd.ParamGridV2,
        "ParamList": rd.ParamList,
        "Experiment": rd.ExperimentV2,
        "RunDescription": rd.RunDescriptionV2,
    },
}


def _sample_factory_installed() -> bool:
    try:
        return importlib.util.find_spec("sample_factory") is not None
    except (ImportError, ValueError):
        return False


def _modules() -> dict[str, types.ModuleType]:
    modules: dict[str, types.ModuleType] = {}
    for dotted, exports in _exports().items():
        parts = dotted.split(".")
        for depth in range(1, len(parts)):
            package = ".".join(parts[:depth])
            if package not in modules:
                modules[package] = types.ModuleType(package)
                modules[package].__path__ = []
        module = types.ModuleType(dotted, f"sfgen's implementation of {dotted}")
        module.__dict__.update(exports)
        module.__all__ = list(exports)
        modules[dotted] = module
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    return modules


@contextmanager
def sample_factory_imports() -> Iterator[None]:
    """Serve Sample Factory's run_description modules from sfgen for the duration of the block."""
    if _sample_factory_installed():
        yield
        return
    modules = _modules()
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
