"""Report stage: figures and tables from the workflow's result files.

This module stays light (no matplotlib, no pandas at import time) so a Snakefile can import the fixed output
names without paying for the plotting stack::

    from seqedit.report import figure_outputs, table_outputs

Outputs (names never depend on the data, so Snakemake can declare them; missing inputs give "no data" panels):

figures dir: ``{name}.png`` and ``{name}.pdf`` for every name in :data:`FIGURES`.
tables dir:  ``{name}.md``, ``{name}.csv``, ``{name}.tex`` and ``{name}.provenance.json`` for every name in
:data:`TABLES`.

The names carry the paper's figure/table number. The CSV files carry no comment lines (plain
``pandas.read_csv``); their provenance is in the sibling ``{name}.provenance.json`` (see
:mod:`seqedit.report.provenance`). Markdown tables end with a provenance footer line, LaTeX tables start with
a provenance comment, and every figure has a small provenance footer text.
"""
from __future__ import annotations

from .outputs import FIGURE_FORMATS, FIGURES, TABLE_FORMATS, TABLES, figure_outputs, table_outputs  # noqa: F401


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
