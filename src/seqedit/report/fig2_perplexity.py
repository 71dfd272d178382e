"""Fig. 2 by the held-out perplexity: its change vs number of edits for every editing dataset, one panel per method.

The paper's Fig. 2 compares editing datasets by downstream scores (``fig2_downstream``, lm-eval). On SmolLM2-135M
lm-eval's 95% intervals (+-7 points at 175 items) hide what 20 edits do, and the findings config runs lm-eval on
zsRE only; the held-out perplexity resolves changes of 0.1% (claim C8 (perplexity)). This figure draws what C8
(perplexity) tests: per method, one line per dataset entry, the change (%) of the perplexity against the unedited
model (0 edits), bars = the paired 95% bootstrap interval over the text blocks
(:func:`seqedit.report.general_ppl.change_table`). Entries whose checkpoints are the same tensors (MQD's DG form and
CounterFact, ``edits_from``) draw the same line; the legend says so.
"""
from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .fig3 import perplexity_series, save_fig3  # noqa: E402
from .names import method_display  # noqa: E402

FIGURE_NAME = "fig2_perplexity"
CAPTION = ("Fig. 2 (held-out perplexity): change of the held-out perplexity vs number of edits per editing dataset "
           "(0 = unedited model; bars: paired 95% bootstrap interval over the text blocks). ELKEN, 20Q and CKD (the "
           "paper's other Fig. 2 datasets) were not released; MQD is our rebuild from CounterFact facts.")


def _datasets(changes: pd.DataFrame, method: str) -> list[str]:
    rows = changes[(changes["method"] == method) & changes["dataset"].notna()]
    return list(dict.fromkeys(rows["dataset"]))


def _twins(same_edits: dict | None, method: str, dataset: str, names: list[str]) -> list[str]:
    """The other entries among ``names`` with a checkpoint of ``method`` that is ``dataset``'s tensors."""
    twins: set[str] = set()
    for (their_method, _), hashes in (same_edits or {}).items():
        if their_method == method and dataset in hashes:
            twins |= {d for d, h in hashes.items() if d != dataset and d in names and h == hashes[dataset]}
    return sorted(twins)


def fig2_perplexity(general_perplexity: pd.DataFrame | None, methods: Sequence[str], footer: str | None = None,
                    model: str | None = None, same_edits: dict | None = None):
    """The figure (not saved). ``general_perplexity``: :func:`seqedit.report.general_ppl.load_general_perplexity`'s
    frame (None or empty: one "no data" panel per method); ``same_edits``: :func:`seqedit.report.same_edits.
    load_edit_hashes`'s ``{(method, n_edits): {dataset: tensors_sha256}}``, to name the entries that draw one line."""
    from .general_ppl import change_table

    changes = change_table(general_perplexity) if general_perplexity is not None else pd.DataFrame()
    methods = list(methods) or ["-"]
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(methods), squeeze=False, layout="constrained",
                             figsize=(4.2 * len(methods) + 2.4, 3.6))
    for ax, method in zip(axes[0], methods):
        ax.set_title(f"{method_display(method)} - held-out perplexity", fontsize=9)
        names = _datasets(changes, method) if not changes.empty else []
        if not names:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="0.45")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for index, dataset in enumerate(names):
            series = perplexity_series(changes, dataset, method)
            twins = _twins(same_edits, method, dataset, names)
            label = dataset + (f" (= {', '.join(twins)}: same checkpoints)" if twins else "")
            ax.errorbar(series["n_edits"], series["value"],
                        yerr=[series["value"] - series["low"], series["high"] - series["value"]],
                        marker="o", ms=3, lw=1.3, capsize=1.5, color=colors(index % 10), label=label)
        ax.set_xlabel("number of edits", fontsize=8)
        ax.set_ylabel("change (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    title = "Fig. 2 - held-out perplexity change vs number of edits per editing dataset (paired 95% interval)"
    fig.suptitle(f"{model}: {title}" if model else title, fontsize=10.5, x=0.01, ha="left")
    note = CAPTION + (f"\n{footer}" if footer else "")
    fig.supxlabel("\n".join(textwrap.wrap(note, width=int(fig.get_size_inches()[0] * 19))), fontsize=6,
                  color="0.35", x=0.005, ha="left", multialignment="left")
    return fig


def save_fig2_perplexity(fig, out_dir) -> list:
    return save_fig3(fig, out_dir, name=FIGURE_NAME)
