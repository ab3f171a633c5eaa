"""Named errors. The CLI prints each as one line (no traceback) and exits non-zero."""


class SfgenError(Exception):
    """An error the user can fix; its message names the problem and the fix."""


class RunModuleError(SfgenError):
    """The run module is missing, broken, or does not describe a sweep."""


class InvalidExperimentError(SfgenError):
    """An experiment's name, directory, command or environment cannot be run safely."""


class WorkflowExistsError(SfgenError):
    """The output directory already holds the workflow of another run."""


class WorkflowRunningError(SfgenError):
    """A Snakemake is running the workflow: recompiling would change commands under it."""


class WorkflowWriteError(SfgenError):
    """The workflow directory cannot be written (permissions, space, a directory where a file goes)."""


class OptionError(SfgenError):
    """A command-line or --config option is unknown or has an invalid value."""


class TemplateError(SfgenError):
    """A Slurm or NGC job template cannot be used."""


class ClusterQueryError(SfgenError):
    """A cluster's command-line tool (squeue, scontrol, ngc) failed or did not answer in time."""
