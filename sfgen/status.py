"""The state of each experiment, read from markers, failure records and running locks (no database)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfgen.experiments import ExperimentSpec
from sfgen.markers import read_record
from sfgen.slots import try_lock


@dataclass
class ExperimentState:
    spec: ExperimentSpec
    state: str  # done | failed | running | pending
    record: dict[str, Any] | None

    @property
    def exit_code(self) -> int | None:
        return None if self.record is None else self.record.get("exit_code")


def _running(workflow_dir: Path, spec: ExperimentSpec) -> bool:
    path = workflow_dir / ".sfgen" / "running" / f"{spec.rule}.lock"
    if not path.exists():
        return False
    fd = try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def experiment_states(workflow_dir: Path, specs: list[ExperimentSpec]) -> list[ExperimentState]:
    states = []
    for spec in specs:
        marker = read_record(workflow_dir / spec.marker)
        if marker is not None:
            states.append(ExperimentState(spec, "done", marker))
        elif _running(workflow_dir, spec):
            states.append(ExperimentState(spec, "running", None))
        elif (failure := read_record(workflow_dir / spec.failure)) is not None:
            states.append(ExperimentState(spec, "failed", failure))
        else:
            states.append(ExperimentState(spec, "pending", None))
    return states
