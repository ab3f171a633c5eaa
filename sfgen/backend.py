"""Where experiments run: the one interface that local processes, Slurm and NGC implement.

Everything that differs between them is a method here, so compile, the Snakefile's hooks, ``sfgen run``
and ``sfgen status`` call the interface and name no backend; adding one (Kubernetes, LSF, Flux each have
a Snakemake executor) means one new module and a line in :data:`_MODULES`. The in-job side (GPU slot,
template prelude, retry check) is a separate light module per backend, ``sfgen.<name>.job``, that the
launcher loads by the name the run exported (``sfgen.launcher.BACKEND_ENV``, set by ``sfgen.hooks``): it must not import this interface.

=============  ===========  ====================  =======================================================
backend        SF runner    Snakemake executor    lives in
=============  ===========  ====================  =======================================================
``local``      processes    local                 ``sfgen.local`` (slots), ``sfgen.local.job``
``slurm``      slurm        slurm                 ``sfgen.slurm`` (resources, template, session, jobs)
``ngc``        ngc          cluster-generic       ``sfgen.ngc`` (submit/status/cancel programs, template)
=============  ===========  ====================  =======================================================
"""

from __future__ import annotations

import importlib
import signal
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfgen.exceptions import SfgenError
from sfgen.layout import RUN_OPTIONS
from sfgen.markers import write_record
from sfgen.options import RUNTIME_OPTIONS
from sfgen.spec import ExperimentSpec



@dataclass(frozen=True)
class LiveJob:
    """A cluster job of the workflow that has not ended."""

    job_id: str
    state: str | None  # the cluster's word for it (squeue's PENDING/RUNNING, NGC's QUEUED/RUNNING)
    since: str | None = None  # ISO time it was submitted, where known


class Backend:
    """Defaults: a backend that needs nothing of a given kind inherits these."""

    name = ""  # also its profile's folder: profiles/<name>
    runner = ""  # Sample Factory's --runner / --backend value
    executor = ""  # the Snakemake executor plugin that runs it
    print_only_option: str | None = None  # the option that prints instead of running, if it has one
    job_id_field = ""  # the field of sfgen status --json that names its jobs (slurm_job_id, ngc_job_id)
    job_label = ""  # how views name one of its jobs: "Slurm job" 12
    # where it records, by RULE.json, that an experiment's job was submitted, before any launcher runs:
    # ``sfgen run``'s live view shows those as started (NGC's job pointers)
    start_records: Path | None = None

    def compile_options(self, options: dict[str, Any], specs: list[ExperimentSpec], out: Path) -> dict[str, Any]:
        """The options checked and made self-contained for the Snakefile (templates embedded)."""
        return options

    def resources(self, config: dict[str, Any]) -> dict[str, Any]:
        """What every experiment's job asks this backend's executor for (other executors ignore them)."""
        return {}

    def configure(self, workflow: Any, config: dict[str, Any]) -> None:
        """At parse time, when this backend's executor runs the workflow: limits Snakemake must know
        before it builds the graph. No side effects on disk."""

    def check_run(self, options: dict[str, Any]) -> None:
        """Before ``sfgen run`` compiles anything: refuse what cannot work, with a one-line SfgenError."""

    def print_only(self, specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
        """Print what would be submitted, submit and write nothing."""
        raise SfgenError(f"--runner={self.runner} has no print-only mode")

    def on_start(self, workflow: Any, config: dict[str, Any]) -> None:
        """When Snakemake starts running the workflow (onstart), before the first job."""

    def on_end(self, workflow: Any, config: dict[str, Any]) -> None:
        """When the run ends (onsuccess, onerror): tidy what only the run needed."""

    def live_jobs(self, workflow_dir: Path, rules: set[str], warn: Any) -> dict[str, LiveJob]:
        """rule -> its job that has not ended, for status, re-attach and cancel; ``warn(message)`` for
        a cluster that cannot be asked."""
        return {}

    def cancel(self, workflow_dir: Path, jobs: dict[str, LiveJob]) -> list[str]:
        """Cancel these jobs (``sfgen cancel``); the problems, one line each (empty: all cancelled)."""
        return []

    def job_log(self, workflow_dir: Path, rule: str, job_id: str) -> str | None:
        """The cluster's own log of the experiment's job (relative to the workflow dir), where one exists."""
        return None


def record_run_options(workflow: Any, config: dict[str, Any]) -> None:
    """Keep a cluster run's effective options (with --config overrides) where its programs and
    ``sfgen status`` read them: they run outside Snakemake and see only the workflow dir."""
    snakefile = Path(workflow.main_snakefile).resolve()
    options = {name: config[name] for name in RUNTIME_OPTIONS if name in config}
    write_record(snakefile.parent / RUN_OPTIONS, {"snakefile": str(snakefile), "options": options})


def pass_stop_signals_to_jobs() -> None:
    """Pass SIGINT and SIGTERM sent to Snakemake alone on to its children (the launchers, the NGC programs),
    which stop their experiments or jobs: Snakemake itself would wait for running jobs to finish, for
    hours on a cluster (a Ctrl-C in a terminal reaches them anyway)."""

    def forward(previous: Any) -> Any:
        def handler(signum: int, frame: Any) -> None:
            import psutil

            for child in psutil.Process().children():
                with suppress(psutil.Error):
                    child.send_signal(signum)
            if callable(previous):
                previous(signum, frame)

        return handler

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward(signal.getsignal(signum)))


_MODULES = {"local": "sfgen.local", "slurm": "sfgen.slurm.backend", "ngc": "sfgen.ngc.backend"}


def get(name: str) -> Backend:
    """The backend called ``name`` (``local``, ``slurm``, ``ngc``)."""
    return importlib.import_module(_MODULES[name]).BACKEND


def every() -> list[Backend]:
    return [get(name) for name in _MODULES]


def for_runner(runner: str) -> Backend:
    """The backend of Sample Factory's ``--runner``/``--backend`` value."""
    return next(backend for backend in every() if backend.runner == runner)


def runners() -> list[str]:
    return sorted(backend.runner for backend in every())


def for_executor(executor: str | None) -> Backend | None:
    """The backend run by Snakemake's executor plugin ``executor`` (None: not one of sfgen's)."""
    return next((backend for backend in every() if backend.executor == executor), None)
