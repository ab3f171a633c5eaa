"""Slurm backend: Snakemake's slurm executor plugin, with Sample Factory's sbatch templates and options."""

from __future__ import annotations

from typing import Any

from sfgen.experiments import ExperimentSpec


def print_submissions(specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
    """``--slurm_print_only``: print what would be submitted per experiment, submit nothing."""
    raise NotImplementedError("issue 3")
