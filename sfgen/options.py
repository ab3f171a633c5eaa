"""The workflow's run-time options: names, defaults and checks, shared by the CLI and the Snakefile.

Defaults are Sample Factory's CLI defaults. ``sfgen compile`` writes the values it was given into the
Snakefile; ``snakemake --config KEY=VALUE`` overrides them at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sfgen.exceptions import OptionError, TemplateError


def parse_bool(value: Any) -> bool:
    """Booleans as Sample Factory's CLI reads them: True/False, 1/0, yes/no."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean")


@dataclass(frozen=True)
class Option:
    name: str
    kind: Callable[[Any], Any]
    default: Any
    help: str
    minimum: float | None = None

    def coerce(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            result = self.kind(value)
        except (TypeError, ValueError):
            raise OptionError(f"option {self.name}={value!r} is not a {self.kind.__name__}: {self.help}") from None
        if self.minimum is not None and result < self.minimum:
            raise OptionError(f"option {self.name}={value!r} must be at least {self.minimum}: {self.help}")
        return result


def _text(value: Any) -> str:
    return str(value)


RUNTIME_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option("num_gpus", int, 1, "how many GPUs to use locally", minimum=0),
        Option(
            "experiments_per_gpu",
            int,
            -1,
            "experiments sharing one GPU locally (-1: leave CUDA_VISIBLE_DEVICES alone)",
        ),
        Option("max_parallel", int, 4, "maximum simultaneous local experiments", minimum=1),
        Option("pause_between", float, 10.0, "seconds between experiment starts", minimum=0),
        Option("workdir", _text, ".", "directory the experiments run in (their relative paths start here)"),
        Option("slot_dir", _text, ".sfgen/slots", "GPU slot locks; workflows sharing it share the GPUs"),
        Option("kill_timeout", float, 5.0, "seconds an interrupted experiment gets before SIGKILL", minimum=0),
        Option("slurm_gpus_per_job", int, 1, "GPUs in a single Slurm job", minimum=0),
        Option("slurm_cpus_per_gpu", int, 14, "CPU cores per allocated GPU", minimum=1),
        Option("slurm_partition", _text, None, "Slurm partition (sbatch -p)"),
        Option(
            "slurm_sbatch_template",
            _text,
            None,
            "file run in the job before the experiment (SF's v1 prelude or v2 $CMD template); compile keeps its text",
        ),
        Option("slurm_workdir", _text, None, "directory for Slurm's job logs (sfgen run passes it as --slurm-logdir)"),
        Option("slurm_account", _text, None, "Slurm account (sbatch -A)"),
        Option("slurm_runtime", int, None, "time limit in minutes (sbatch -t)", minimum=1),
        Option(
            "slurm_timeout_retries",
            int,
            3,
            "with slurm_runtime: times an experiment Slurm stopped is resubmitted (its trainer resumes)",
            minimum=0,
        ),
        Option("slurm_mem_mb", int, None, "memory per job in MB (sbatch --mem)", minimum=1),
        Option("slurm_qos", _text, None, "Slurm QOS (sbatch --qos)"),
        Option("slurm_constraint", _text, None, "node features (sbatch -C)"),
        Option("slurm_extra", _text, None, "extra sbatch flags, e.g. '--exclusive'"),
        Option("ngc_job_template", _text, None, "file with the NGC command line template (ngc batch run ...); compile keeps its text"),
    ]
}


def validated(values: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check every known option in ``values``; unknown keys pass through untouched."""
    result = dict(values)
    for name, option in RUNTIME_OPTIONS.items():
        if name in result:
            result[name] = option.coerce(result[name])
    return result


def with_defaults(given: dict[str, Any]) -> dict[str, Any]:
    """Every run-time option: the given values (None meaning not given) over the defaults, checked."""
    values = {name: option.default for name, option in RUNTIME_OPTIONS.items()}
    values.update({name: value for name, value in given.items() if value is not None})
    return validated(values)


def read_template(path: str, what: str, option: str) -> str:
    """The text of the template file an option names, or a one-line error naming the file and the option."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise TemplateError(f"cannot read the {what} {path}: {reason}: pass an existing text file to --{option}") from None
