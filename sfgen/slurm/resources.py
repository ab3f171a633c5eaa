"""What each experiment asks Slurm for: sfgen's options as resources of Snakemake's slurm executor.

| sfgen option        | Snakemake resource | sbatch flag the plugin (2.8) sets |
| slurm_gpus_per_job  | gpu                | --gpus=G                          |
| slurm_cpus_per_gpu  | cpus_per_gpu       | --cpus-per-gpu=C (G x C CPUs)     |
| (G = 0)             | cpus_per_task      | --ntasks=1 --cpus-per-task=C      |
| slurm_partition     | slurm_partition    | -p P                              |
| slurm_account       | slurm_account      | -A A                              |
| slurm_runtime       | runtime            | -t MINUTES                        |
| slurm_timeout (SF2) | runtime            | -t MINUTES (rounded up; it sets slurm_runtime) |
| slurm_mem_mb        | mem_mb             | --mem MB                          |
| slurm_qos           | qos                | --qos=Q                           |
| slurm_constraint    | constraint         | -C F                              |
| slurm_extra         | slurm_extra        | as written                        |

The rules request them in local runs too, where Snakemake limits only the resources given to
``--resources`` (the local profile gives none of these), so they change nothing there.
"""

from __future__ import annotations

import functools
import shlex
from typing import Any

from sfgen.slurm.flags import check_extra

_PASSED = (  # option -> resource, for the options passed as they are
    ("slurm_partition", "slurm_partition"),
    ("slurm_account", "slurm_account"),
    ("slurm_runtime", "runtime"),
    ("slurm_mem_mb", "mem_mb"),
    ("slurm_qos", "qos"),
    ("slurm_constraint", "constraint"),
)


@functools.lru_cache(maxsize=8)
def _resources(
    gpus: int, cpus: int, passed: tuple[tuple[str, Any], ...], extra: str | None
) -> tuple[tuple[str, Any], ...]:
    result: list[tuple[str, Any]] = [("gpu", gpus), ("cpus_per_gpu", cpus)] if gpus > 0 else [("cpus_per_task", cpus)]
    result += [(resource, value) for resource, value in passed if value is not None]
    if extra:
        result.append(("slurm_extra", check_extra(extra)))
    return tuple(result)


def rule_resources(config: dict[str, Any]) -> dict[str, Any]:
    """The Slurm resources of every experiment rule (computed once per distinct configuration)."""
    passed = tuple((resource, config.get(option)) for option, resource in _PASSED)
    gpus, cpus = config["slurm_gpus_per_job"], config["slurm_cpus_per_gpu"]
    return dict(_resources(gpus, cpus, passed, config.get("slurm_extra")))


def sbatch_flags(resources: dict[str, Any]) -> list[str]:
    """The sbatch flags the slurm executor plugin (2.8) derives from ``resources``, in its order."""
    flags = []
    for resource, flag in (("slurm_account", "-A"), ("slurm_partition", "-p"), ("runtime", "-t"), ("constraint", "-C")):
        if resource in resources:
            flags += [flag, str(resources[resource])]
    if "qos" in resources:
        flags.append(f"--qos={resources['qos']}")
    if "mem_mb" in resources:
        flags += ["--mem", str(resources["mem_mb"])]
    if "gpu" in resources:
        flags.append(f"--cpus-per-gpu={resources['cpus_per_gpu']}")
    else:
        flags += ["--ntasks=1", f"--cpus-per-task={resources['cpus_per_task']}"]
    flags += shlex.split(resources.get("slurm_extra", ""))
    if "gpu" in resources:
        flags.append(f"--gpus={resources['gpu']}")
    return flags
