"""seqedit: sequential knowledge editing (ROME, MEMIT, D4S, ...) as a Snakemake workflow."""

__version__ = "0.1.0"
