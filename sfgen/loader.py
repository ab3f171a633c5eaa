"""Load a run module (dotted name or .py path) and return its RUN_DESCRIPTION as sfgen's type."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from sfgen import run_description as rd
from sfgen.compat import V2, sample_factory_imports
from sfgen.exceptions import RunModuleError


def _import_path(path: Path) -> Any:
    if not path.is_file():
        raise RunModuleError(f"run module file {path} does not exist: give an existing .py file or a module name")
    name = f"sfgen_run_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RunModuleError(f"cannot load {path} as a Python module: give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _import_dotted(run: str) -> Any:
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(run)
    except ModuleNotFoundError as error:
        if error.name and (run == error.name or run.startswith(error.name + ".")):
            raise RunModuleError(
                f"no run module named '{run}' importable from {os.getcwd()}: "
                "run sfgen from the directory that holds it, or give the path of its .py file"
            ) from error
        raise
    finally:
        sys.path.remove(os.getcwd())


def _describe_error(run: str, error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return f"run module '{run}' has a syntax error at {error.filename}:{error.lineno}: {error.msg}"
    where = ""
    tb = error.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(os.path.dirname(__file__)):
            where = f" ({tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
        tb = tb.tb_next
    return f"run module '{run}' failed while importing: {type(error).__name__}: {error}{where}"


def _adopt(description: Any) -> rd.RunDescription:
    """Accept Sample Factory's own RunDescription objects (when it is installed) by their attributes."""
    generation = 2 if type(description).__module__ == V2 else 1
    experiments = []
    for experiment in description.experiments:
        ours = (rd.ExperimentV2 if generation == 2 else rd.Experiment)(
            experiment.base_name, experiment.cmd, (), experiment.env_vars
        )
        ours.params = list(experiment.params)
        experiments.append(ours)
    common = dict(
        experiment_arg_name=description.experiment_arg_name,
        experiment_dir_arg_name=description.experiment_dir_arg_name,
        customize_experiment_name=description.customize_experiment_name,
        param_prefix=description.param_prefix,
    )
    if generation == 2:
        return rd.RunDescriptionV2(description.run_name, experiments, **common)
    return rd.RunDescription(
        description.run_name,
        experiments,
        experiment_dirs_sf_format=getattr(description, "experiment_dirs_sf_format", True),
        **common,
    )


def load_run(run: str) -> rd.RunDescription:
    """Import ``run`` with Sample Factory's import paths served by sfgen and return its RUN_DESCRIPTION."""
    if not run:
        raise RunModuleError("no run module given: pass --run=MODULE (a dotted module name or a .py file)")
    is_path = run.endswith(".py") or os.sep in run
    try:
        with sample_factory_imports():
            module = _import_path(Path(run)) if is_path else _import_dotted(run)
    except RunModuleError:
        raise
    except (Exception, SystemExit) as error:
        raise RunModuleError(_describe_error(run, error)) from error
    description = getattr(module, "RUN_DESCRIPTION", None)
    if description is None:
        raise RunModuleError(
            f"run module '{run}' defines no RUN_DESCRIPTION: add RUN_DESCRIPTION = RunDescription(...) to it"
        )
    if isinstance(description, rd.RunDescription):
        return description
    if all(hasattr(description, a) for a in ("run_name", "experiments", "param_prefix")):
        return _adopt(description)
    raise RunModuleError(
        f"RUN_DESCRIPTION in run module '{run}' is a {type(description).__name__}, not a RunDescription: "
        "build it with RunDescription(run_name, experiments=[...])"
    )
