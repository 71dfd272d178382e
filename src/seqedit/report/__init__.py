"""Report stage: figures and tables from the workflow's result files.

This module stays light (no matplotlib, no pandas at import time) so a Snakefile can import the fixed output
names without paying for the plotting stack::

    from seqedit.report import figure_outputs, table_outputs

Outputs (names never depend on the data, so Snakemake can declare them; missing inputs give "no data" panels):

figures dir: ``{name}.png`` and ``{name}.pdf`` for every name in :data:`FIGURES`.
tables dir:  ``{name}.md``, ``{name}.csv`` and ``{name}.provenance.json`` for every name in :data:`TABLES`.

The CSV files carry no comment lines (plain ``pandas.read_csv``); their provenance is in the sibling
``{name}.provenance.json`` (see :mod:`seqedit.report.provenance`). Markdown tables end with a provenance footer
line and every figure has a small provenance footer text.
"""
from __future__ import annotations

from pathlib import Path

FIGURES: dict[str, str] = {
    "norms_per_layer": "mean|W| of each edited weight vs number of edits (rows: methods, columns: datasets)",
    "norms_methods": "mean|W| over the edited layers vs number of edits, all methods on one axis per dataset",
    "edit_metrics": "Efficacy / Paraphrase / Specificity vs number of edits, one line per method",
    "downstream": "downstream task scores vs number of edits (0 = base model), one panel per method",
    "bottleneck": "probability of the edit target after (solid) and before (dashed) the value optimisation",
}
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")

TABLES: dict[str, str] = {
    "table2_edit_metrics": "Eff / Par / Spe / Avg (%) per dataset, method and number of edits",
    "table4_downstream": "downstream scores (%) of the base model and of the last checkpoint, change in parentheses",
}
TABLE_FORMATS: tuple[str, ...] = ("md", "csv", "provenance.json")


def figure_outputs(figures_dir: str | Path, formats: tuple[str, ...] = FIGURE_FORMATS) -> list[Path]:
    """Every file the report writes into ``figures_dir``."""
    return [Path(figures_dir) / f"{name}.{ext}" for name in FIGURES for ext in formats]


def table_outputs(tables_dir: str | Path) -> list[Path]:
    """Every file the report writes into ``tables_dir``."""
    return [Path(tables_dir) / f"{name}.{ext}" for name in TABLES for ext in TABLE_FORMATS]


def make_report(*args, **kwargs):
    """Shortcut for :func:`seqedit.report.cli.make_report` (imported lazily)."""
    from .cli import make_report as _make_report

    return _make_report(*args, **kwargs)


__all__ = [
    "FIGURES",
    "FIGURE_FORMATS",
    "TABLES",
    "TABLE_FORMATS",
    "figure_outputs",
    "table_outputs",
    "make_report",
]
