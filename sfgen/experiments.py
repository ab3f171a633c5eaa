"""Describe a sweep as experiment specs (``sfgen.spec``): name, rule, command, root dir, environment.

Commands are kept as shell *words*: Sample Factory's string for benign values, with any argument a shell
would split or interpret quoted by shlex. The launcher parses them back with ``shlex.split`` and runs the
argv without a shell, so every value reaches the program literally.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterator
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


def _rule_candidates(name: str) -> Iterator[str]:
    """The rule names ``name`` may take, in order of preference: its safe form, then that with a short
    hash of the name (stable across compiles, so markers keep their names), then with salted hashes."""
    base = _rule_base(name)
    yield base
    yield f"{base}_{_hash8(name)}"
    for salt in itertools.count(1):
        yield f"{base}_{_hash8(f'{salt}:{name}')}"


def rule_names(names: list[str]) -> list[str]:
    """Readable, unique rule names: each takes its first candidate that no earlier name has taken (a hashed
    form can equal another experiment's plain one: ``a_b_648fa9b3``, ``a.b``, ``a_b``)."""
    taken = {"all"}
    rules = []
    for name in names:
        rule = next(candidate for candidate in _rule_candidates(name) if candidate not in taken)
        taken.add(rule)
        rules.append(rule)
    return rules


def _text_problem(text: str) -> str | None:
    """Why ``text`` cannot reach a program (a NUL byte ends a C string) or the UTF-8 Snakefile (a lone
    surrogate, which Python makes of bytes that are not UTF-8); None when it can."""
    if "\0" in text:
        return "holds a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)"
    return None


def _check_path(what: str, value: str) -> None:
    """A name that becomes a directory under the train dir. A ``/`` in it (a path-valued parameter,
    ``map=maps/a.wad``) makes nested directories, as Sample Factory's trainer does; refused are only names
    that would leave the train dir (absolute, or with a ``..`` component) and those no file system takes."""
    parts = value.split("/")
    nothing = all(part in ("", ".") for part in parts)  # it would name the train dir itself
    if nothing or value.startswith("/") or ".." in parts or _text_problem(value):
        raise InvalidExperimentError(
            f"{what} {value!r} is not a usable directory name under the train dir: use a non-empty relative "
            "path of valid Unicode without '..' components or NUL (change the run's name or its parameter values)"
        )
    if any(len(os.fsencode(part)) > 255 for part in parts):
        raise InvalidExperimentError(f"{what} {value[:40]!r}... has a part over 255 bytes: shorten it or its parameters")


def _check(generated: GeneratedExperiment) -> None:
    _check_path("experiment name", generated.name)
    _check_path("run or experiment directory", generated.root_dir)
    if problem := _text_problem(generated.base_cmd):
        raise InvalidExperimentError(f"experiment {generated.name}: its cmd {problem}: remove it")
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
        if problem := _text_problem(token):
            raise InvalidExperimentError(f"experiment {generated.name}: argument {token[:40]!r} {problem}: remove it")
    for key, value in (generated.env_vars or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise InvalidExperimentError(
                f"experiment {generated.name}: env var name {key!r} is invalid: use letters, digits and _"
            )
        if problem := _text_problem(str(value)):
            raise InvalidExperimentError(f"experiment {generated.name}: env var {key} {problem}: remove it")


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
            params={str(key): str(value) for key, value in e.params.items()},
        )
        for rule, e in zip(rules, generated)
    ]
