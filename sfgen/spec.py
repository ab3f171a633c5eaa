"""One compiled experiment: the record the Snakefile lists, one per line, and that the launcher,
``sfgen status`` and the cluster backends read back.

A NamedTuple rather than a dataclass: every job's launcher loads it, and importing ``dataclasses``
(with ``inspect``) would be a quarter of the launcher's start.
"""

from __future__ import annotations

import shlex
from typing import Any, NamedTuple

from sfgen import layout


class ExperimentSpec(NamedTuple):
    """One experiment of a compiled workflow."""

    rule: str
    name: str
    cmd: str
    root_dir: str
    env_vars: dict[str, Any] | None
    params: dict[str, str] | None = None  # the combination's parameters as the command passes them (str())

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.cmd)

    @property
    def marker(self) -> str:
        """Completion marker, relative to the workflow dir: written only when the command exits 0."""
        return layout.marker(self.rule)

    @property
    def failure(self) -> str:
        """Record of the last failed attempt, relative to the workflow dir."""
        return layout.failure(self.rule)

    @property
    def log(self) -> str:
        """The experiment's stdout and stderr, relative to the workflow dir."""
        return layout.log(self.rule)

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()
