"""The workflow's run-time options: names, defaults and checks, shared by the CLI and the Snakefile.

Defaults are Sample Factory's CLI defaults: Sample Factory 1's runner's, except where its second
generation's launcher differs (:data:`SF2_DEFAULTS`), which apply when the user is on Sample Factory 2 (its
command line, ``--backend``, or a run module importing ``sample_factory.launcher``). ``sfgen compile``
writes the values it was given into the Snakefile; ``snakemake --config KEY=VALUE`` overrides them at run
time.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sfgen.exceptions import OptionError, TemplateError
from sfgen.layout import SLOT_DIR


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


def _integer(value: Any) -> int:
    """An int from the CLI's text or --config's parsed value; a float only if whole (2.0, not 2.5)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return int(value)
    raise ValueError(value)


def _number(value: Any) -> float:
    """A finite float: ``inf`` and ``nan`` would be Python source the Snakefile cannot hold, and a wait
    that never ends."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(value)
    return result


def _text(value: Any) -> str:
    """Text that a UTF-8 Snakefile can hold (a non-UTF-8 command-line byte arrives as a lone surrogate);
    a number --config parsed is taken as written."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(value)
    text = str(value)
    text.encode("utf-8")  # UnicodeEncodeError is a ValueError
    return text


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)\Z")
_SECONDS_PER = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(duration: str) -> float:
    """Seconds in a duration as timeout(1) reads it (``0``, ``90``, ``30m``, ``2h``, ``1d``, ``1.5h``); 0 means
    no limit. A ValueError for anything else."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(duration)
    return float(match.group(1)) * _SECONDS_PER[match.group(2)]


def _duration(value: Any) -> str:
    """A timeout(1) duration, kept as written: Sample Factory 2 hands ``--slurm_timeout`` to its sbatch
    template as ``$TIMEOUT`` for ``timeout $TIMEOUT $CMD``, so the template gets the text the user gave."""
    text = _text(value).strip()
    duration_seconds(text)
    return text


_EXPECTED = {
    _integer: "an integer",
    _number: "a number",
    _text: "UTF-8 text",
    _duration: "a timeout(1) duration: 0 (no limit), 90 (seconds), 30m, 2h, 1d",
}


@dataclass(frozen=True)
class Option:
    """One option. The local limits have a maximum too: a launcher makes a lock per GPU and run slot and
    waits pause_between between starts, so a huge value would hang a run instead of failing its start.
    ``None`` is a value only for options whose default is None (not set)."""

    name: str
    kind: Callable[[Any], Any]  # _integer, _number, _text or _duration
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def expected(self) -> str:
        """What a valid value is, for error messages: "an integer from 1 to 10000"."""
        bounds = ""
        if self.minimum is not None and self.maximum is not None:
            bounds = f" from {self.minimum:g} to {self.maximum:g}"
        elif self.minimum is not None:
            bounds = f" of at least {self.minimum:g}"
        return _EXPECTED[self.kind] + bounds

    def coerce(self, value: Any) -> Any:
        """The value as its kind, checked, or an OptionError naming the option, the value and what it takes."""
        if value is None and self.default is None:
            return None
        try:
            result = self.kind(value)
        except (TypeError, ValueError):
            result = None
        if result is None or (self.minimum is not None and result < self.minimum) or (
            self.maximum is not None and result > self.maximum
        ):
            raise OptionError(f"option {self.name}={value!r} is invalid: give {self.expected()} ({self.help})")
        return result


RUNTIME_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option("num_gpus", _integer, 1, "how many GPUs to use locally", minimum=0, maximum=1024),
        Option(
            "experiments_per_gpu",
            _integer,
            -1,
            "experiments sharing one GPU (locally, and in a Slurm job packing several); -1 or 0: leave "
            "CUDA_VISIBLE_DEVICES alone",
            minimum=-1,
            maximum=1024,
        ),
        Option("max_parallel", _integer, 4, "maximum simultaneous local experiments", minimum=1, maximum=10000),
        Option("pause_between", _number, 10.0, "seconds between experiment starts", minimum=0, maximum=3600),
        Option("workdir", _text, ".", "directory the experiments run in (their relative paths start here)"),
        Option("slot_dir", _text, SLOT_DIR, "GPU slot locks; workflows sharing it share the GPUs"),
        Option(
            "kill_timeout", _number, 5.0, "seconds an interrupted experiment gets before SIGKILL", minimum=0, maximum=3600
        ),
        Option("slurm_gpus_per_job", _integer, 1, "GPUs in a single Slurm job", minimum=0),
        Option("slurm_cpus_per_gpu", _integer, 14, "CPU cores per allocated GPU", minimum=1),
        Option(
            "slurm_experiments_per_job",
            _integer,
            1,
            "experiments packed into one Slurm job, sharing its GPUs as experiments_per_gpu says (1: a job each)",
            minimum=1,
            maximum=1024,
        ),
        Option("slurm_partition", _text, None, "Slurm partition (sbatch -p)"),
        Option(
            "slurm_sbatch_template",
            _text,
            None,
            "file run in the job before the experiment (SF's v1 prelude or v2 $CMD template); compile keeps its text",
        ),
        Option("slurm_workdir", _text, None, "directory where every Slurm job log is kept (the plugin's --slurm-logdir)"),
        Option("slurm_account", _text, None, "Slurm account (sbatch -A)"),
        Option("slurm_runtime", _integer, None, "time limit in minutes (sbatch -t)", minimum=1),
        Option(
            "slurm_timeout",
            _duration,
            None,
            "Sample Factory 2's time limit as timeout(1) takes it (0, 90, 30m, 2h, 1d): sets slurm_runtime "
            "(minutes, rounded up) and the template's $TIMEOUT",
        ),
        Option(
            "slurm_timeout_retries",
            _integer,
            3,
            "with a time limit: times an experiment Slurm stopped is resubmitted (its trainer resumes)",
            minimum=0,
        ),
        Option("slurm_mem_mb", _integer, None, "memory per job in MB (sbatch --mem)", minimum=1),
        Option("slurm_qos", _text, None, "Slurm QOS (sbatch --qos)"),
        Option("slurm_constraint", _text, None, "node features (sbatch -C)"),
        Option("slurm_extra", _text, None, "extra sbatch flags, e.g. '--exclusive'"),
        Option("ngc_job_template", _text, None, "file with the NGC command line template (ngc batch run ...); compile keeps its text"),
    ]
}


# Where Sample Factory 2's launcher (python -m sample_factory.launcher.run) has another default than 1's runner
SF2_DEFAULTS: dict[str, Any] = {"pause_between": 1.0}


def time_limit_minutes(timeout: str) -> int | None:
    """The Slurm time limit (whole minutes, rounded up) of a slurm_timeout; None for 0, no limit."""
    seconds = duration_seconds(timeout)
    return math.ceil(seconds / 60) if seconds > 0 else None


def validated(values: dict[str, Any]) -> dict[str, Any]:
    """Every option in ``values`` coerced and checked: the one check of option values, for the CLI, for
    ``--config`` (the generated Snakefile reads no other key, so any other key is a mistake) and for the
    values a template sets. A slurm_timeout other than 0 decides slurm_runtime, so that everything reading
    the time limit (the job's -t, resubmission, status) reads one option."""
    for key in values:
        if key not in RUNTIME_OPTIONS:
            close = difflib.get_close_matches(str(key), RUNTIME_OPTIONS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the options are {', '.join(RUNTIME_OPTIONS)}"
            raise OptionError(f"unknown option {key!r}: {hint}")
    result = {name: RUNTIME_OPTIONS[name].coerce(value) for name, value in values.items()}
    if result.get("slurm_timeout") is not None and (minutes := time_limit_minutes(result["slurm_timeout"])):
        result["slurm_runtime"] = minutes
    if result.get("experiments_per_gpu", -1) > 0 and result.get("num_gpus", 1) == 0:
        raise OptionError(
            f"option num_gpus=0 with experiments_per_gpu={result['experiments_per_gpu']} leaves no GPU slot to run "
            "in: give num_gpus of at least 1, or experiments_per_gpu=-1 to leave CUDA_VISIBLE_DEVICES alone"
        )
    _check_packing(result)
    return result


def _check_packing(values: dict[str, Any]) -> None:
    """Experiments packed into a Slurm job all start at once, each pinned to one of the job's GPUs: with
    experiments_per_gpu > 0 they must fit its GPUs x experiments_per_gpu slots."""
    per_job = values.get("slurm_experiments_per_job", 1)
    per_gpu = values.get("experiments_per_gpu", -1)
    if per_job <= 1 or per_gpu <= 0:
        return
    gpus = values.get("slurm_gpus_per_job", RUNTIME_OPTIONS["slurm_gpus_per_job"].default)
    if per_job > gpus * per_gpu:
        raise OptionError(
            f"option slurm_experiments_per_job={per_job} does not fit a Slurm job's slots: slurm_gpus_per_job={gpus} x "
            f"experiments_per_gpu={per_gpu} = {gpus * per_gpu} experiments at once: give slurm_experiments_per_job of at "
            f"most {gpus * per_gpu}, more GPUs per job, or experiments_per_gpu=-1 to let them share all of the job's GPUs"
        )


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
