"""Load a run module (dotted name or .py path) and return its RUN_DESCRIPTION as sfgen's type."""

from __future__ import annotations

import importlib
import importlib.util
import os
import reprlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
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
    sys.path.insert(0, str(path.parent))  # _isolated restores sys.path
    spec.loader.exec_module(module)
    return module


def _import_dotted(run: str) -> Any:
    sys.path.insert(0, os.getcwd())  # _isolated restores sys.path
    try:
        return importlib.import_module(run)
    except ModuleNotFoundError as error:
        if error.name and (run == error.name or run.startswith(error.name + ".")):
            raise RunModuleError(
                f"no run module named '{run}' importable from {os.getcwd()}: "
                "run sfgen from the directory that holds it, or give the path of its .py file"
            ) from error
        raise


@contextmanager
def _isolated() -> Iterator[None]:
    """Import a run module without letting it change sfgen: the working directory (compile's --out and the
    experiments' workdir are relative to it) and ``sys.path`` are restored after, and its output, at the
    Python level and from child processes alike, goes to stderr (``sfgen list --json`` stays JSON)."""
    cwd, path = os.getcwd(), list(sys.path)
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)
        os.chdir(cwd)
        sys.path[:] = path


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


def _check_shape(run: str, description: rd.RunDescription) -> None:
    """Types Sample Factory's API takes, checked where the run module gave them, so a mistake is named
    rather than tripping the generator (an internal error, or ``shlex.split(None)`` reading stdin)."""

    def need(ok: bool, where: str, value: Any, expected: str, fix: str) -> None:
        if not ok:
            raise RunModuleError(
                f"RUN_DESCRIPTION in run module '{run}': {where} is {reprlib.repr(value)}, not {expected}: {fix}"
            )

    need(isinstance(description.run_name, str), "run_name", description.run_name, "a str", "name the run with a string")
    for name in ("experiment_arg_name", "experiment_dir_arg_name", "param_prefix"):
        value = getattr(description, name)
        need(isinstance(value, str), name, value, "a str", "pass a string")
    experiments = description.experiments
    fix = "pass experiments=[Experiment(...), ...]"
    need(isinstance(experiments, (list, tuple)), "experiments", experiments, "a list", fix)
    for index, experiment in enumerate(experiments):
        where = f"experiments[{index}]"
        fix = "build it with Experiment(name, cmd, params)"
        need(isinstance(experiment, rd.Experiment), where, experiment, "an Experiment", fix)
        name = experiment.base_name
        need(isinstance(name, str), f"{where} name", name, "a str", "name it with a string")
        need(isinstance(experiment.cmd, str), f"{where} cmd", experiment.cmd, "a str", "give the command as a string")
        for number, params in enumerate(experiment.params):
            fix = "pass ParamGrid(...).generate_params() or a list of dicts"
            need(isinstance(params, Mapping), f"{where} params[{number}]", params, "a dict", fix)
            for key in params:
                need(isinstance(key, str), f"{where} params[{number}] key", key, "a str", "name parameters by strings")
        env_vars, fix = experiment.env_vars, "pass env_vars={'NAME': 'value', ...}"
        need(env_vars is None or isinstance(env_vars, Mapping), f"{where} env_vars", env_vars, "a dict", fix)


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


_loaded: dict[tuple[str, str], rd.RunDescription] = {}


def load_run(run: str) -> rd.RunDescription:
    """Import ``run`` with Sample Factory's import paths served by sfgen and return its RUN_DESCRIPTION.
    A module is imported once per process and working directory: ``sfgen run`` reads its generation before
    compiling it, and the module's own output and side effects must happen once."""
    key = (run, os.getcwd())
    if key not in _loaded:
        _loaded[key] = _load(run)
    return _loaded[key]


def _load(run: str) -> rd.RunDescription:
    if not run:
        raise RunModuleError("no run module given: pass --run=MODULE (a dotted module name or a .py file)")
    is_path = run.endswith(".py") or os.sep in run
    try:
        with sample_factory_imports(), _isolated():
            module = _import_path(Path(run)) if is_path else _import_dotted(run)
    except (RunModuleError, KeyboardInterrupt):
        raise
    except BaseException as error:  # whatever the module raises: SystemExit, a BaseException of its own
        raise RunModuleError(_describe_error(run, error)) from error
    description = getattr(module, "RUN_DESCRIPTION", None)
    if description is None:
        raise RunModuleError(
            f"run module '{run}' defines no RUN_DESCRIPTION: add RUN_DESCRIPTION = RunDescription(...) to it"
        )
    if not isinstance(description, rd.RunDescription):
        if not all(hasattr(description, a) for a in ("run_name", "experiments", "param_prefix")):
            raise RunModuleError(
                f"RUN_DESCRIPTION in run module '{run}' is a {type(description).__name__}, not a RunDescription: "
                "build it with RunDescription(run_name, experiments=[...])"
            )
        try:
            description = _adopt(description)
        except Exception as error:
            raise RunModuleError(
                f"RUN_DESCRIPTION in run module '{run}' cannot be read as Sample Factory's RunDescription "
                f"({type(error).__name__}: {error}): build it with RunDescription(run_name, experiments=[...])"
            ) from error
    _check_shape(run, description)
    return description
