"""``sfgen reset``: forget that experiments finished or failed, so that the next run redoes them.

Only the completion marker and the failure record go; train dirs and logs stay (a trainer that resumes
from its checkpoint then continues where it was). Running experiments are left alone: their marker
would be written anyway when they end.
"""

from __future__ import annotations

from pathlib import Path

from sfgen.confirm import confirmed
from sfgen.layout import failure_elsewhere
from sfgen.state import experiment_states, load_workflow, plural, select


def reset(directory: Path, patterns: list[str], yes: bool) -> int:
    workflow = load_workflow(directory)
    chosen = experiment_states(directory, select(workflow.specs, patterns))
    running = [state for state in chosen if state.state == "running"]
    files = {}
    for state in chosen:
        paths = [directory / state.spec.marker, directory / state.spec.failure, directory / failure_elsewhere(state.spec.rule)]
        if state.state != "running" and (existing := [path for path in paths if path.exists()]):
            files[state.spec.name] = existing
    for state in running:
        print(f"sfgen: {state.spec.name} is running: not reset (reset it after it ends)")
    if not files:
        pending = len(chosen) - len(running)
        print(f"sfgen: nothing to reset: {pending} matching experiments pending, {len(running)} running")
        return 1 if running else 0
    if not confirmed("reset", len(files), "so that the next run redoes them", yes):
        print("sfgen: nothing reset")
        return 1
    for name, paths in files.items():
        for path in paths:
            path.unlink(missing_ok=True)
        print(f"sfgen: reset {name} (removed {', '.join(str(path.relative_to(directory)) for path in paths)})")
    them = "it" if len(files) == 1 else "them"
    print(f"sfgen: reset {plural(len(files), 'experiment')}; the next run redoes {them} (train dirs and logs are kept)")
    return 1 if running else 0
