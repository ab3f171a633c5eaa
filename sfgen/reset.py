"""``sfgen reset``: forget that experiments finished or failed, so that the next run redoes them.

Only the completion marker and the failure record go; train dirs and logs stay (a trainer that resumes
from its checkpoint then continues where it was). Running experiments are left alone: their marker
would be written anyway when they end.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sfgen.exceptions import SfgenError
from sfgen.status import experiment_states, load_workflow, plural, select

CONFIRM_ABOVE = 5  # resetting more than this many asks first


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        raise SfgenError(
            f"refusing to reset {count} experiments without confirmation (stdin is not a terminal): pass --yes"
        )
    question = f"sfgen: reset {count} experiments, so that the next run redoes them? [y/N] "
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def reset(directory: Path, patterns: list[str], yes: bool) -> int:
    workflow = load_workflow(directory)
    chosen = experiment_states(directory, select(workflow.specs, patterns))
    running = [state for state in chosen if state.state == "running"]
    files = {}
    for state in chosen:
        paths = [directory / state.spec.marker, directory / state.spec.failure]
        if state.state != "running" and (existing := [path for path in paths if path.exists()]):
            files[state.spec.name] = existing
    for state in running:
        print(f"sfgen: {state.spec.name} is running: not reset (reset it after it ends)")
    if not files:
        pending = len(chosen) - len(running)
        print(f"sfgen: nothing to reset: {pending} matching experiments pending, {len(running)} running")
        return 1 if running else 0
    if len(files) > CONFIRM_ABOVE and not yes and not _confirm(len(files)):
        print("sfgen: nothing reset")
        return 1
    for name, paths in files.items():
        for path in paths:
            path.unlink(missing_ok=True)
        print(f"sfgen: reset {name} (removed {', '.join(str(path.relative_to(directory)) for path in paths)})")
    them = "it" if len(files) == 1 else "them"
    print(f"sfgen: reset {plural(len(files), 'experiment')}; the next run redoes {them} (train dirs and logs are kept)")
    return 1 if running else 0
