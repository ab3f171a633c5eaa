"""sfgen: compile Sample Factory sweeps into Snakemake workflows that run locally, on Slurm or on NGC."""

__version__ = "0.1.0"
