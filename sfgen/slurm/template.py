"""Sample Factory's sbatch templates, run inside the Slurm job right before the experiment.

Sample Factory wrote one sbatch script per experiment: the template, then the command. Two forms exist:

* v1 (SF 1.x): a prelude such as ``conda activate env; cd dir``; the command ran after it in the same
  shell. sfgen runs the prelude, then ``exec "$@"`` with the experiment's argv as positional
  parameters, so the prelude's ``cd`` and exports apply and no parameter value is ever shell source.
* v2 (SF 2.x, ``string.Template``): the template places ``$CMD`` itself and may use ``$GPU``, ``$CPU``
  (the job's CPUs: slurm_cpus_per_gpu x slurm_gpus_per_job, as SF 2 computes it), ``$PARTITION``,
  ``$FILENAME`` and ``$TIMEOUT`` (``--slurm_timeout`` as given, else slurm_runtime in minutes, else 0);
  ``$$`` stands for ``$``. ``$CMD`` becomes ``"$@"``, the other placeholders shell-quoted values; any other
  ``$NAME`` (``$HOME``) is left for the shell, where SF raised KeyError.

``#SBATCH`` lines before the first command become sbatch options (see :func:`fold_directives`): options
sfgen has a name for fill that option when it was not given, flags Snakemake or sfgen set are reported
and dropped, the rest are appended to ``slurm_extra``. A template must not submit jobs itself (SF's
``sbatch_timeout.sh`` resubmitted with ``sbatch $FILENAME``): a job submitted behind Snakemake's back
would run untracked while the experiment counted as done; a time limit (``--slurm_timeout`` or
``--slurm_runtime``) has Snakemake resubmit instead.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfgen.exceptions import TemplateError
from sfgen.layout import SLURM_SCRIPTS_DIR
from sfgen.markers import write_atomic
from sfgen.options import read_template, time_limit_minutes, validated
from sfgen.slurm.flags import OPTION_FLAGS, RESOURCE_FLAGS, SNAKEMAKE_FLAGS, split_flags
from sfgen.spec import ExperimentSpec

PLACEHOLDERS = ("CMD", "GPU", "CPU", "PARTITION", "FILENAME", "TIMEOUT")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf"\$(?:(?P<dollar>\$)|(?P<named>{_NAME})|\{{(?P<braced>{_NAME})\}})")  # string.Template's
_USES_CMD = re.compile(r"\$(?:CMD\b|\{CMD\})")
_DIRECTIVE = re.compile(r"#SBATCH(?:\s+(?P<rest>.*))?$")
_SUBMITS = re.compile(r"(?:^|[\s;&|(`])sbatch(?:\s|$)")


@dataclass(frozen=True)
class SbatchTemplate:
    """A template's text and what sfgen reads from it."""

    text: str
    origin: str = "the Slurm sbatch template"

    @property
    def form(self) -> str:
        """``v2`` when it places ``$CMD`` itself, else ``v1`` (a prelude)."""
        return "v2" if _USES_CMD.search(self.text) else "v1"

    @property
    def interpreter(self) -> list[str]:
        """The shebang's program and arguments (``#!/bin/bash -l`` keeps ``-l``), else bash as sbatch would."""
        first = self.text.split("\n", 1)[0]
        return shlex.split(first[2:]) if first.startswith("#!") and first[2:].strip() else ["/bin/bash"]

    def directives(self) -> list[tuple[int, list[str]]]:
        """(line number, words) of the ``#SBATCH`` lines that sbatch reads: those before the first command."""
        found = []
        for number, line in enumerate(self.text.splitlines(), 1):
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                break
            match = _DIRECTIVE.match(stripped)
            if match:
                try:
                    found.append((number, shlex.split(match.group("rest") or "", comments=True)))
                except ValueError as error:
                    problem = f"{self.origin} line {number}: {error}"
                    raise TemplateError(f"{problem}: balance the quotes of the #SBATCH line") from None
        return found

    def check(self) -> None:
        """Refuse a template that submits jobs itself (see the module docstring)."""
        for number, line in enumerate(self.text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            if _SUBMITS.search(stripped):
                raise TemplateError(
                    f"{self.origin} line {number} runs sbatch: Snakemake submits and tracks the jobs, so a job "
                    "submitted here would run untracked; remove the line (for Sample Factory's timeout "
                    "resubmission give --slurm_timeout=DURATION or --slurm_runtime=MINUTES: timed-out experiments "
                    "are resubmitted)"
                )

    def script(self, options: dict[str, Any], filename: str) -> str:
        """The shell script the job runs; the experiment's argv arrives as its positional parameters."""
        if self.form == "v1":
            return f"{self.text.rstrip()}\nexec \"$@\"\n"
        partition = options.get("slurm_partition")
        gpus = options["slurm_gpus_per_job"]
        values = {
            "CMD": '"$@"',
            "GPU": shlex.quote(str(gpus)),
            # SF 2: cpus_per_gpu x gpus_per_job; a job without GPUs gets cpus_per_gpu CPUs (cpus_per_task)
            "CPU": shlex.quote(str(options["slurm_cpus_per_gpu"] * max(gpus, 1))),
            # SF passed "-p NAME " (or nothing), written before the next flag: `sbatch $PARTITION--gres=...`
            "PARTITION": f"-p {shlex.quote(partition)} " if partition else "",
            "FILENAME": shlex.quote(filename),
            "TIMEOUT": shlex.quote(_timeout(options)),
        }

        def substitute(match: re.Match) -> str:
            if match.group("dollar"):
                return "$"
            name = match.group("named") or match.group("braced")
            return values[name] if name in values else match.group(0)

        return _PLACEHOLDER.sub(substitute, self.text)


def _timeout(options: dict[str, Any]) -> str:
    """``$TIMEOUT``: SF 2's --slurm_timeout as the user wrote it, else the time limit in minutes, else ``0``
    (``timeout 0 CMD`` never times out, as SF 2's default)."""
    if options.get("slurm_timeout") is not None:
        return options["slurm_timeout"]
    runtime = options.get("slurm_runtime")
    return f"{runtime}m" if runtime else "0"


def load(path: str) -> str:
    """The template file's text, or a one-line error naming the file."""
    return read_template(path, "Slurm sbatch template", "slurm_sbatch_template")


def _minutes(value: str) -> int | None:
    """Slurm's --time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in whole minutes, rounded up; None for
    no limit."""
    if value.upper() in ("INFINITE", "UNLIMITED"):
        return None
    match = re.fullmatch(r"(?:(\d+)-)?(\d+(?::\d+){0,2})", value)
    if not match:
        raise ValueError(value)
    parts = [int(part) for part in match.group(2).split(":")]
    if match.group(1) is not None:  # D-H[:M[:S]]
        hours, minutes, seconds = (parts + [0, 0])[:3]
        hours += int(match.group(1)) * 24
    elif len(parts) == 3:  # H:M:S
        hours, minutes, seconds = parts
    else:  # M[:S]
        hours, (minutes, seconds) = 0, (parts + [0])[:2]
    return math.ceil((hours * 3600 + minutes * 60 + seconds) / 60)


def _megabytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", value.upper())
    if not match:
        raise ValueError(value)
    scale = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2)]
    return math.ceil(int(match.group(1)) * scale)


_CONVERT = {"slurm_runtime": _minutes, "slurm_mem_mb": _megabytes}


def _given(option: str, options: dict[str, Any]) -> str:
    """How the user set ``option``: a time limit may come from Sample Factory 2's --slurm_timeout."""
    timeout = options.get("slurm_timeout")
    if option == "slurm_runtime" and timeout is not None and time_limit_minutes(timeout):
        return f"--slurm_timeout={timeout}"
    return f"--{option}={options[option]}"


def fold_directives(template: SbatchTemplate, options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Options with the template's ``#SBATCH`` lines applied, and notes on the lines that were dropped.

    As in Sample Factory, whose sbatch command line beat the script's own lines: an option given on
    sfgen's command line wins over the template; GPUs and CPUs always come from slurm_gpus_per_job and
    slurm_cpus_per_gpu (SF always passed --gres and -c)."""
    result = dict(options)
    notes: list[str] = []
    extra: list[str] = []
    for number, words in template.directives():
        where = f"{template.origin} line {number}"
        for flag, value, written in split_flags(words):
            if flag in OPTION_FLAGS:
                option = OPTION_FLAGS[flag]
                if result.get(option) is not None:
                    notes.append(f"{where}: {' '.join(written)} ignored: {_given(option, result)} given")
                    continue
                try:
                    result[option] = _CONVERT.get(option, str)(value or "")
                except ValueError:
                    problem = f"{where}: cannot read {' '.join(written)}"
                    raise TemplateError(f"{problem}: write it as sbatch accepts it") from None
            elif flag in RESOURCE_FLAGS:
                notes.append(
                    f"{where}: {' '.join(written)} ignored: --slurm_gpus_per_job={result['slurm_gpus_per_job']} and "
                    f"--slurm_cpus_per_gpu={result['slurm_cpus_per_gpu']} set the GPUs and CPUs (as in Sample Factory)"
                )
            elif flag in SNAKEMAKE_FLAGS:
                notes.append(f"{where}: {' '.join(written)} ignored: {SNAKEMAKE_FLAGS[flag]}")
            else:
                extra += written
    if extra:
        result["slurm_extra"] = shlex.join(extra) + (f" {result['slurm_extra']}" if result.get("slurm_extra") else "")
    return validated(result), notes


def embed(options: dict[str, Any]) -> dict[str, Any]:
    """Options with the template FILE replaced by its checked text and its ``#SBATCH`` lines applied.

    The Snakefile keeps the text, so a compiled workflow runs as compiled whatever happens to the file.
    Notes on dropped ``#SBATCH`` lines go to stderr."""
    path = options["slurm_sbatch_template"]
    template = SbatchTemplate(load(path), f"Slurm sbatch template {path}")
    template.check()
    result, notes = fold_directives(template, options)
    for note in notes:
        print(f"sfgen: {note}", file=sys.stderr)
    result["slurm_sbatch_template"] = template.text
    return result


def job_command(workflow_dir: Path, spec: ExperimentSpec, options: dict[str, Any]) -> list[str]:
    """The argv that runs ``spec`` through the template in a Slurm job: the shebang's interpreter, the job's
    script (written to .sfgen/slurm/RULE.sh, which is ``$FILENAME``), then the experiment's argv."""
    template = SbatchTemplate(options["slurm_sbatch_template"])
    path = (workflow_dir / SLURM_SCRIPTS_DIR / f"{spec.rule}.sh").resolve()
    write_atomic(path, template.script(options, str(path)))
    return [*template.interpreter, str(path), *spec.argv]
