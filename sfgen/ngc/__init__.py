"""NGC backend: Snakemake's cluster-generic executor driving the ``ngc`` CLI with the user's job template."""

from __future__ import annotations

import shlex
from typing import Any

from sfgen.exceptions import OptionError
from sfgen.spec import ExperimentSpec


def print_commands(specs: list[ExperimentSpec], options: dict[str, Any]) -> int:
    """``--ngc_print_only``: print each rendered ``ngc batch run`` command, call nothing."""
    from sfgen.ngc.template import JobTemplate, load

    path = options.get("ngc_job_template")
    if not path:
        raise OptionError("--ngc_print_only needs the job template: pass --ngc_job_template=FILE")
    template = JobTemplate(load(path), f"NGC job template {path}")
    lines = [shlex.join(template.argv(spec, options)) for spec in specs]
    print("\n".join(lines))
    return 0
