"""Describe a sweep as experiment specs (``sfgen.spec``): name, rule, command, root dir, environment.

Commands are kept as shell *words*: Sample Factory's string for benign values, with any argument a shell
would split or interpret quoted by shlex. The launcher parses them back with ``shlex.split`` and runs the
argv without a shell, so every value reaches the program literally.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections import Counter
from typing import Any

from sfgen.exceptions import InvalidExperimentError
from sfgen.run_description import GeneratedExperiment, RunDescription
from sfgen.spec import ExperimentSpec

_SHELL_SPECIAL = set("'\"\\$`;&|<>(){}!")
_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", ">", ">>", "<", "<<", "2>", "2>&1"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_RULE = 100


def shell_word(token: str) -> str:
    """``token`` as Sample Factory pastes it when harmless, else quoted so it stays one literal word."""
    if token and not any(c in _SHELL_SPECIAL or c.isspace() for c in token) and token[0] not in "#~":
        return token
    return shlex.quote(token)


def _hash8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _rule_base(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    if not base or not base[0].isalpha():
        base = f"exp_{base}".rstrip("_")
    if len(base) > _MAX_RULE:
        base = f"{base[:_MAX_RULE]}_{_hash8(name)}"
    return base


def rule_names(names: list[str]) -> list[str]:
    """Readable, unique rule names; a name whose safe form is taken by an earlier one gets a short hash."""
    taken = {"all"}
    rules = []
    for name in names:
        rule = _rule_base(name)
        if rule in taken:
            rule = f"{rule}_{_hash8(name)}"
        taken.add(rule)
        rules.append(rule)
    return rules


def _check_component(what: str, value: str) -> None:
    if not value or value in (".", "..") or "/" in value or "\0" in value:
        raise InvalidExperimentError(
            f"{what} {value!r} is not a usable directory name: use a non-empty name without '/' or NUL"
        )
    if len(os.fsencode(value)) > 255:
        raise InvalidExperimentError(f"{what} {value[:40]!r}... is over 255 bytes: shorten it or its parameters")


def _check(generated: GeneratedExperiment) -> None:
    _check_component("experiment name", generated.name)
    for part in generated.root_dir.split("/"):
        _check_component("run or experiment directory", part)
    try:
        words = shlex.split(generated.base_cmd)
    except ValueError as error:
        raise InvalidExperimentError(
            f"experiment {generated.name}: its cmd cannot be split into words ({error}): balance its quotes"
        ) from error
    if not words:
        raise InvalidExperimentError(f"experiment {generated.name}: its cmd is empty: give the program to run")
    operators = sorted(set(words) & _SHELL_OPERATORS)
    if operators:
        raise InvalidExperimentError(
            f"experiment {generated.name}: its cmd uses shell operator(s) {' '.join(operators)}, but sfgen runs "
            "commands without a shell: put setup into env_vars or a Slurm template, or wrap it in a script"
        )
    for token in generated.arg_tokens:
        if "\0" in token:
            raise InvalidExperimentError(f"experiment {generated.name}: a parameter value holds a NUL byte: remove it")
    for key, value in (generated.env_vars or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise InvalidExperimentError(
                f"experiment {generated.name}: env var name {key!r} is invalid: use letters, digits and _"
            )
        if "\0" in str(value):
            raise InvalidExperimentError(f"experiment {generated.name}: env var {key} holds a NUL byte: remove it")


def _env_vars(env_vars: Any) -> dict[str, Any] | None:
    if env_vars is None:
        return None
    return {key: value if isinstance(value, (str, int, float, bool)) else str(value) for key, value in env_vars.items()}


def describe(run: RunDescription, train_dir: str = "./train_dir", experiment_suffix: str = "") -> list[ExperimentSpec]:
    """The sweep's experiments in Sample Factory's order, checked and given rule names."""
    run.experiment_suffix = experiment_suffix
    generated = list(run.generate(train_dir))
    if not generated:
        raise InvalidExperimentError(
            f"run '{run.run_name}' has no experiments: give each Experiment a non-empty ParamGrid/ParamList"
        )
    for experiment in generated:
        _check(experiment)
    duplicates = sorted(name for name, count in Counter(e.name for e in generated).items() if count > 1)
    if duplicates:
        raise InvalidExperimentError(
            f"duplicate experiment names: {', '.join(duplicates)}: make them unique "
            "(e.g. customize_experiment_name=True, or distinct Experiment names)"
        )
    rules = rule_names([e.name for e in generated])
    return [
        ExperimentSpec(
            rule=rule,
            name=e.name,
            cmd=" ".join([e.base_cmd, *map(shell_word, e.arg_tokens)]),
            root_dir=e.root_dir,
            env_vars=_env_vars(e.env_vars),
        )
        for rule, e in zip(rules, generated)
    ]
