"""NGC backend: Snakemake's cluster-generic executor driving the ``ngc`` CLI with the user's job template."""

from __future__ import annotations

from typing import Any

from sfgen.experiments import ExperimentSpec


def print_commands(specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
    """``--ngc_print_only``: print each rendered ``ngc batch run`` command, call nothing."""
    raise NotImplementedError("issue 4")
