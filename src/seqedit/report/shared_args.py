"""Command-line options that both report commands (`seqedit report`, `seqedit report-data`) take, defined once."""
from __future__ import annotations

import argparse


def add_shared_options(parser: argparse.ArgumentParser) -> None:
    """``--config`` (provenance), ``--general-perplexity`` and ``--edit-meta`` (C8's identical chains)."""
    parser.add_argument("--config", nargs="+", default=None,
                        help="config file(s) recorded (path + sha256) in the provenance, in the order given to "
                             "Snakemake")
    parser.add_argument("--general-perplexity", nargs="*", default=None,
                        help="results/perplexity_general/{model}/base.json and .../{dataset}/{method}/step_{k}.json "
                             "files (the held-out perplexity; omit when the config does not enable it)")
    parser.add_argument("--edit-meta", nargs="*", default=[],
                        help="edit checkpoints' metadata (results/edits/.../step_N.json): C8 counts identical "
                             "chains once")
