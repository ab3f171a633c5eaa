"""sbatch flags: which ones sfgen's options set, which ones Snakemake's slurm executor sets itself.

Used to read a template's ``#SBATCH`` lines and to check ``slurm_extra``: the plugin (2.8) refuses, at
submission and for every job, extra flags that repeat the ones it manages; sfgen refuses them at compile
time instead, naming the option to use.
"""

from __future__ import annotations

import shlex

from sfgen.exceptions import OptionError

# flag -> the sfgen option that sets it
OPTION_FLAGS = {
    "-p": "slurm_partition", "--partition": "slurm_partition",
    "-A": "slurm_account", "--account": "slurm_account",
    "-t": "slurm_runtime", "--time": "slurm_runtime",
    "--mem": "slurm_mem_mb",
    "-q": "slurm_qos", "--qos": "slurm_qos",
    "-C": "slurm_constraint", "--constraint": "slurm_constraint",
}
# GPUs and CPUs: always slurm_gpus_per_job x slurm_cpus_per_gpu
RESOURCE_FLAGS = {
    "-G", "--gpus", "--gres", "--gpus-per-node", "--gpus-per-task", "-c", "--cpus-per-task", "--cpus-per-gpu",
}
# flag -> why it cannot be set
_BY_SNAKEMAKE = "Snakemake's slurm executor sets it"
_NAME = _BY_SNAKEMAKE + " (the job name identifies the run)"
_LOG = _BY_SNAKEMAKE + " (the job log: .snakemake/slurm_logs/)"
_DIR = _BY_SNAKEMAKE + " (the workflow dir; the experiment runs in the workdir option)"
_TASK = "each experiment is one task"
_NODE = "each experiment runs on one node"
_CLUSTER = "submit from the cluster you run on"
SNAKEMAKE_FLAGS = {
    "-J": _NAME, "--job-name": _NAME,
    "-o": _LOG, "--output": _LOG, "-e": _LOG, "--error": _LOG,
    "--parsable": _BY_SNAKEMAKE, "--export": _BY_SNAKEMAKE + " (ALL)", "--comment": _BY_SNAKEMAKE + " (rule_RULE)",
    "-D": _DIR, "--chdir": _DIR, "--workdir": _DIR,
    "-n": _TASK, "--ntasks": _TASK, "--ntasks-per-gpu": _TASK,
    "-N": _NODE, "--nodes": _NODE,
    "--mem-per-cpu": "use --slurm_mem_mb (memory per job)",
    "-M": _CLUSTER, "--clusters": _CLUSTER,
}
_NO_VALUE = {"--parsable"}


def _takes_value(flag: str) -> bool:
    return flag not in _NO_VALUE


def split_flags(words: list[str]) -> list[tuple[str | None, str | None, list[str]]]:
    """(known flag, its value, the words it was written as) for each flag in ``words``; unknown words come
    back one by one with flag None, so they can be passed on unchanged."""
    known = set(OPTION_FLAGS) | RESOURCE_FLAGS | set(SNAKEMAKE_FLAGS)
    result: list[tuple[str | None, str | None, list[str]]] = []
    index = 0
    while index < len(words):
        word = words[index]
        flag, value, written = None, None, [word]
        if word.startswith("--") and word.split("=", 1)[0] in known:
            flag, _, value = word.partition("=")
            if "=" not in word and _takes_value(flag) and index + 1 < len(words):
                value, written = words[index + 1], [word, words[index + 1]]
                index += 1
        elif not word.startswith("--") and word[:2] in known:  # -p gpu, -pgpu
            flag, value = word[:2], word[2:] or None
            if value is None and index + 1 < len(words):
                value, written = words[index + 1], [word, words[index + 1]]
                index += 1
        result.append((flag, value, written))
        index += 1
    return result


def check_extra(extra: str) -> str:
    """``slurm_extra`` as shell words quoted again (the plugin pastes it into a shell command line, so a
    ``$(...)`` in it must stay text); a flag that sfgen or the plugin sets is an error naming what to use."""
    try:
        words = shlex.split(extra)
    except ValueError as error:
        raise OptionError(f"slurm_extra={extra!r}: {error}: balance its quotes") from None
    for flag, _, written in split_flags(words):
        if flag in OPTION_FLAGS:
            raise OptionError(f"slurm_extra has {' '.join(written)}: use --{OPTION_FLAGS[flag]} instead")
        if flag in RESOURCE_FLAGS:
            raise OptionError(
                f"slurm_extra has {' '.join(written)}: use --slurm_gpus_per_job and --slurm_cpus_per_gpu instead"
            )
        if flag in SNAKEMAKE_FLAGS:
            raise OptionError(f"slurm_extra has {' '.join(written)}, which sfgen cannot pass: {SNAKEMAKE_FLAGS[flag]}")
    return shlex.join(words)
