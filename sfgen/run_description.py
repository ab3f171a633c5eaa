"""Sample Factory's runner API (ParamGrid, ParamList, Experiment, RunDescription), both generations.

The public methods are Sample Factory's, with its signatures, return shapes and side effects, because run
modules and users' tooling call them. Names, commands and root dirs reproduce Sample Factory's generator
byte for byte, so existing train dirs and ``--restart_behavior=resume`` keep working. Two of its defects
are deliberately not reproduced: shuffles are seeded by the description itself (recompiling never renames
experiments) and never pass values through numpy (1 stays 1, True stays True).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from os.path import join
from typing import Any

from sfgen.exceptions import InvalidExperimentError


def _seeded_shuffle(combinations: list[Any]) -> list[Any]:
    """Shuffle with a seed derived from the combinations, so the order is the same on every compile."""
    seed = hashlib.sha256(repr(combinations).encode()).digest()
    shuffled = list(combinations)
    random.Random(seed).shuffle(shuffled)
    return shuffled


class ParamGenerator:
    """Base of the parameter generators: ``generate_params`` yields one dict per combination."""

    def generate_params(self, randomize: bool = True) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class ParamGrid(ParamGenerator):
    """Cartesian product of parameter values, first key slowest; a tuple key spreads grouped values."""

    def __init__(self, grid_tuples: Iterable[tuple[Any, Sequence[Any]]]):
        self.grid = OrderedDict(grid_tuples)

    def _combinations(self) -> list[list[Any]]:
        combinations: list[list[Any]] = [[]]
        for values in reversed(list(self.grid.values())):
            combinations = [[value, *rest] for value in values for rest in combinations]
        return combinations

    def generate_params(self, randomize: bool = True) -> Iterator[dict[str, Any]]:
        if len(self.grid) == 0:
            return
        combinations = self._combinations()
        if randomize:
            combinations = _seeded_shuffle(combinations)
        keys = tuple(self.grid.keys())
        for combination in combinations:
            params: dict[str, Any] = {}
            for key, value in zip(keys, combination):
                if isinstance(key, (list, tuple)):
                    params.update(zip(key, value))
                else:
                    params[key] = value
            yield params


class ParamList(ParamGenerator):
    """An explicit list of parameter combinations (dicts)."""

    def __init__(self, combinations: Sequence[dict[str, Any]]):
        self.combinations = combinations

    def generate_params(self, randomize: bool = True) -> Iterator[dict[str, Any]]:
        combinations = list(self.combinations)
        if randomize:
            combinations = _seeded_shuffle(combinations)
        yield from combinations


def _sf_command(cmd: str, arg_tokens: Iterable[str]) -> str:
    """The command string exactly as Sample Factory pastes it together: single spaces, nothing quoted."""
    return " ".join([cmd, *arg_tokens])


@dataclass(frozen=True)
class GeneratedExperiment:
    """One experiment as Sample Factory would launch it; ``arg_tokens`` keep values unsplit, which
    Sample Factory's command string cannot (a value with a space would become two arguments)."""

    name: str
    base_cmd: str
    arg_tokens: tuple[str, ...]
    root_dir: str
    env_vars: dict[str, Any] | None
    params: dict[str, Any]  # this combination's parameters, as the command passes them

    @property
    def sf_cmd(self) -> str:
        return _sf_command(self.base_cmd, self.arg_tokens)


def _shorthand(param: str, used: list[str]) -> str:
    """Sample Factory's abbreviation of a parameter name, lengthened while already used."""
    tokens = re.split("[._-]", param)
    if not all(tokens[:-1]):
        raise InvalidExperimentError(
            f"parameter name {param!r} has an empty part between separators, which Sample Factory cannot "
            "abbreviate: rename it (e.g. without doubled or leading '_', '.', '-')"
        )
    head = [t[0] for t in tokens[:-1]]
    last = tokens[-1]
    length = min(3, len(last))
    shorthand = ".".join([*head, last[:length]])
    while length <= len(last) and shorthand in used:
        length += 1
        shorthand = ".".join([*head, last[:length]])
    return shorthand


class Experiment:
    """A base command and the parameter combinations to append to it."""

    index_plain_names = False  # v1: without customize_experiment_name every run is named ``base``

    def __init__(
        self,
        name: str,
        cmd: str,
        param_generator: Iterable[dict[str, Any]] = (),
        env_vars: dict[str, Any] | None = None,
    ):
        self.base_name = name
        self.cmd = cmd
        self.params = list(param_generator)
        self.env_vars = env_vars

    def generate_experiments(
        self, experiment_arg_name: str, customize_experiment_name: bool, param_prefix: str
    ) -> Iterator[tuple[str, str]]:
        """Sample Factory's ``(command, name)`` per combination, in order (one run without params)."""
        for name, tokens, _params in self._named_args(experiment_arg_name, customize_experiment_name, param_prefix):
            yield _sf_command(self.cmd, tokens), name

    def _named_args(
        self, experiment_arg_name: str, customize_experiment_name: bool, param_prefix: str
    ) -> Iterator[tuple[str, list[str], dict[str, Any]]]:
        """``(name, argument tokens, params)`` per combination: the command's arguments before they are joined."""
        for idx, params in enumerate(self.params or [{}]):
            tokens: list[str] = []
            name_tokens = [self.base_name]
            used: list[str] = []
            for param, value in params.items():
                tokens.append(f"{param_prefix}{param}={value}")
                shorthand = _shorthand(param, used)
                used.append(shorthand)
                name_tokens.append(f"{shorthand}_{value}")
            if customize_experiment_name:
                name = f"{idx:02d}_" + "_".join(name_tokens)
            elif self.index_plain_names:
                name = f"{idx:02d}_{self.base_name}"
            else:
                name = self.base_name
            tokens.append(f"{experiment_arg_name}={name}")
            yield name, tokens, params


class RunDescription:
    """A named sweep: its experiments and how their names and directories reach the command line."""

    def __init__(
        self,
        run_name: str,
        experiments: Sequence[Experiment],
        experiment_dirs_sf_format: bool = True,
        experiment_arg_name: str = "--experiment",
        experiment_dir_arg_name: str = "--train_dir",
        customize_experiment_name: bool = True,
        param_prefix: str = "--",
    ):
        self.run_name = run_name
        self.experiments = experiments
        self.experiment_suffix = ""
        self.experiment_dirs_sf_format = experiment_dirs_sf_format
        self.experiment_arg_name = experiment_arg_name
        self.experiment_dir_arg_name = experiment_dir_arg_name
        self.customize_experiment_name = customize_experiment_name
        self.param_prefix = param_prefix

    def generate_experiments(
        self, train_dir: str, makedirs: bool = True
    ) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
        """Sample Factory's ``(command, name, root_dir, env_vars)`` per experiment, in its order.

        As in Sample Factory, with ``makedirs`` each ``train_dir/root_dir`` passed to the command as
        ``experiment_dir_arg_name`` is created just before its experiment is yielded (never in v1's
        ``experiment_dirs_sf_format``, whose command passes ``--train_dir`` and ``--experiments_root``).
        """
        for generated in self.generate(train_dir):
            if makedirs and not self.experiment_dirs_sf_format:
                os.makedirs(join(train_dir, generated.root_dir), exist_ok=True)
            yield generated.sf_cmd, generated.name, generated.root_dir, generated.env_vars

    def generate(self, train_dir: str) -> Iterator[GeneratedExperiment]:
        """Every experiment of the sweep in Sample Factory's order, arguments unjoined; creates nothing."""
        for experiment in self.experiments:
            root_dir = join(self.run_name, f"{experiment.base_name}_{self.experiment_suffix}")
            generated = experiment._named_args(
                self.experiment_arg_name, self.customize_experiment_name, self.param_prefix
            )
            for name, tokens, params in generated:
                if self.experiment_dirs_sf_format:
                    tokens += [f"--train_dir={train_dir}", f"--experiments_root={root_dir}"]
                else:
                    tokens.append(f"{self.experiment_dir_arg_name}={join(train_dir, root_dir)}")
                yield GeneratedExperiment(name, experiment.cmd, tuple(tokens), root_dir, experiment.env_vars, params)


class ParamGridV2(ParamGrid):
    """Sample Factory 2's grid: not shuffled unless asked."""

    def generate_params(self, randomize: bool = False) -> Iterator[dict[str, Any]]:
        return super().generate_params(randomize)


class ExperimentV2(Experiment):
    """Sample Factory 2's experiment: plain names keep their ``NN_`` index."""

    index_plain_names = True


class RunDescriptionV2(RunDescription):
    """Sample Factory 2's run description: always passes the experiment dir as one argument (and makes it)."""

    def __init__(
        self,
        run_name: str,
        experiments: Sequence[Experiment],
        experiment_arg_name: str = "--experiment",
        experiment_dir_arg_name: str = "--train_dir",
        customize_experiment_name: bool = True,
        param_prefix: str = "--",
    ):
        super().__init__(
            run_name,
            experiments,
            experiment_dirs_sf_format=False,
            experiment_arg_name=experiment_arg_name,
            experiment_dir_arg_name=experiment_dir_arg_name,
            customize_experiment_name=customize_experiment_name,
            param_prefix=param_prefix,
        )
