"""The report's fixed output names (so a Snakefile can declare them without the plotting stack)."""
from __future__ import annotations

from pathlib import Path

FIGURES: dict[str, str] = {
    "fig2_downstream": "Fig. 2: downstream task scores vs number of edits (0 = base model), one panel per "
                       "(dataset, method), one line per task, stderr bars",
    "fig5_bottleneck": "Fig. 5a: target probability reached by each edit's optimisation and the rolling share of "
                       "successful edits vs edit index",
    "fig5_norms_per_layer": "Fig. 5b/c: mean|W| of each edited weight vs number of edits (rows: methods, "
                            "columns: datasets)",
    "fig6_norms_methods": "Fig. 6: (a/b) mean|W| over the edited layers vs number of edits, every method that "
                          "changes weights; (c) downstream average vs number of edits",
    "fig8_edit_metrics": "Fig. 8: Efficacy / Paraphrase / Specificity vs number of edits, one line per method, "
                         "one row per dataset",
}
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")

TABLES: dict[str, str] = {
    "table2_zsre": "Table 2: zsRE, Eff / Par / Spe / Avg (%) per protocol, number of edits and method; best bold, "
                   "second underlined",
    "table3_counterfact_mquake": "Table 3: CounterFact (token accuracy and ROME's probability metrics, fluency) and "
                                 "MQuAKE (multi-hop, single-hop accuracy) per method at the last checkpoint",
    "table4_downstream": "Table 4: downstream scores (%) of the base model and of the last checkpoint, change in "
                         "parentheses",
    "table_general_perplexity": "Held-out perplexity of the base model and of each checkpoint, with the change "
                                "(%) and its paired 95% bootstrap interval over the text blocks (issue 9; 'no data' "
                                "unless config general_perplexity enables it)",
    "claims": "The paper's claims C1-C6: evidence from this run and a verdict computed from the result files "
              "(reproduced / not reproduced / inconclusive)",
}
TABLE_FORMATS: tuple[str, ...] = ("md", "csv", "tex", "provenance.json")


def figure_outputs(figures_dir: str | Path, formats: tuple[str, ...] = FIGURE_FORMATS) -> list[Path]:
    """Every file the report writes into ``figures_dir``."""
    return [Path(figures_dir) / f"{name}.{ext}" for name in FIGURES for ext in formats]


def table_outputs(tables_dir: str | Path, formats: tuple[str, ...] = TABLE_FORMATS) -> list[Path]:
    """Every file the report writes into ``tables_dir``."""
    return [Path(tables_dir) / f"{name}.{ext}" for name in TABLES for ext in formats]
