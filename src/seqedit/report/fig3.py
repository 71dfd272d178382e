"""Fig. 3: downstream scores vs number of edits for each MQD question form (T/F, MC, DG), per editing method.

Rows: methods (ROME, MEMIT, D4S by default); columns: the downstream tasks and their average; one line per
question form, labelled with its target perplexity under the unedited model; 0 edits is the base model; bars are
+-1 standard error (the average's: sqrt(sum se^2) / #tasks). Reads the DataFrame of
:func:`seqedit.report.load.load_downstream` (the files Fig. 2 reads). A panel without data says so. With the
held-out perplexity (issue 9, :func:`seqedit.report.general_ppl.change_table`), a last column: its change (%)
against the base model per form, bars = the paired 95% bootstrap interval over the text blocks. Without lm-eval
results on any form (config ``downstream: false`` on the MQD entries) the figure is that column alone.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from .claims_data import FORM_LABELS, PAPER_FORM_ORDER  # noqa: E402
from .names import method_display, order_tasks, task_display  # noqa: E402

FIGURE_NAME = "fig3_mqd_downstream"
METHODS = ("rome", "memit", "d4s")
AVERAGE = "average"
PERPLEXITY = "held-out perplexity"
CAPTION = ("Fig. 3: downstream scores vs number of edits for the three MQD question forms (True/False, "
           "Multiple-choice, Directly-generated; target perplexity under the unedited model in the legend). MQD is "
           "our rebuild from CounterFact facts: the paper's MQD was not released, and neither were ELKEN, 20Q and "
           "CKD (the paper's other Fig. 2 datasets), so they are not shown.")
_COLORS = {"mqd_tf": "tab:green", "mqd_mc": "tab:orange", "mqd_dg": "tab:red"}


def series(ds: pd.DataFrame, dataset: str, method: str, task: str) -> pd.DataFrame:
    """``n_edits, value, stderr`` of one (form, method) and task (or :data:`AVERAGE`), base model at 0 edits."""
    base = ds[ds["is_base"]]
    edited = ds[(~ds["is_base"]) & (ds["dataset"] == dataset) & (ds["method"] == method)]
    if edited.empty:
        return pd.DataFrame(columns=["n_edits", "value", "stderr"])
    rows = []
    for n, g in [(0, base), *edited.groupby("n_edits")]:
        g = g if task == AVERAGE else g[g["task"] == task]
        if task == AVERAGE:
            g = g[g["task"].isin(set(edited["task"]) & set(base["task"]))]
        if g.empty:
            continue
        k = len(g)
        se = math.sqrt(sum(s ** 2 for s in g["stderr"].fillna(math.nan))) / k
        rows.append({"n_edits": int(n), "value": g["value"].mean(), "stderr": se})
    return pd.DataFrame(rows, columns=["n_edits", "value", "stderr"]).sort_values("n_edits")


def perplexity_series(changes: pd.DataFrame, dataset: str, method: str) -> pd.DataFrame:
    """``n_edits, value, low, high`` (%) of the held-out perplexity's change, 0 at the base model (0 edits)."""
    g = changes[(changes["dataset"] == dataset) & (changes["method"] == method)].dropna(subset=["change_pct"])
    if g.empty:
        return pd.DataFrame(columns=["n_edits", "value", "low", "high"])
    rows = [{"n_edits": 0, "value": 0.0, "low": 0.0, "high": 0.0}]
    rows += [{"n_edits": int(r.n_edits), "value": r.change_pct, "low": r.change_pct_lo, "high": r.change_pct_hi}
             for r in g.sort_values("n_edits").itertuples()]
    return pd.DataFrame(rows)


def _draw(ax, ds, changes, form, method, task, label) -> bool:
    if task == PERPLEXITY:
        s = perplexity_series(changes, form, method)
        if s.empty:
            return False
        yerr = [s["value"] - s["low"], s["high"] - s["value"]]
        ax.errorbar(s["n_edits"], s["value"], yerr=yerr, marker="o", ms=3, lw=1.3, capsize=1.5,
                    color=_COLORS.get(form), label=label)
        return True
    s = series(ds, form, method, task) if not ds.empty else pd.DataFrame()
    if s.empty:
        return False
    ax.errorbar(s["n_edits"], 100 * s["value"], yerr=100 * s["stderr"], marker="o", ms=3, lw=1.3,
                capsize=1.5, color=_COLORS.get(form), label=label)
    return True


def _label(dataset: str, ppl: Mapping[str, float] | None) -> str:
    text = FORM_LABELS.get(dataset, dataset)
    if ppl and dataset in ppl:
        text += f" (target PPL {ppl[dataset]:.1f})"
    return text


def _form_tasks(ds: pd.DataFrame, forms: Sequence[str], has_perplexity: bool) -> list[str]:
    """The lm-eval tasks of the columns: those with results on an MQD form. None (the config runs no lm-eval on the
    forms) leaves only the held-out perplexity column when there is one, else the base model's tasks ("no data")."""
    if ds.empty:
        return []
    edited = ds[(~ds["is_base"]) & ds["dataset"].isin(list(forms))]
    if not edited.empty:
        return order_tasks(edited["task"].unique())
    return [] if has_perplexity else order_tasks(ds["task"].unique())


def fig3_mqd(ds: pd.DataFrame, perplexity: Mapping[str, float] | None = None, methods: Sequence[str] = METHODS,
             forms: Sequence[str] = PAPER_FORM_ORDER, tasks: Sequence[str] | None = None,
             footer: str | None = None, model: str | None = None, general_perplexity: pd.DataFrame | None = None):
    """The figure (not saved); ``perplexity``: ``{form dataset: mean target PPL}`` for the legend;
    ``general_perplexity``: :func:`seqedit.report.general_ppl.load_general_perplexity`'s frame, or None."""
    from .general_ppl import change_table

    changes = change_table(general_perplexity) if general_perplexity is not None else pd.DataFrame()
    if tasks is None:
        tasks = _form_tasks(ds, forms, has_perplexity=not changes.empty)
    columns = [*tasks, AVERAGE] if len(tasks) > 1 else list(tasks)
    columns += [PERPLEXITY] if not changes.empty else []
    columns = columns or [AVERAGE]  # no result at all: one "no data" panel per method
    fig, axes = plt.subplots(len(methods), len(columns), squeeze=False, layout="constrained",
                             figsize=(max(3.2 * len(columns) + 2.2, 8.0), 2.5 * len(methods) + 1.4))
    for i, method in enumerate(methods):
        for j, task in enumerate(columns):
            ax = axes[i, j]
            name = task if task in (AVERAGE, PERPLEXITY) else task_display(task)
            ax.set_title(f"{method_display(method)} - {name}", fontsize=9)
            drawn = False
            for form in forms:
                drawn = _draw(ax, ds, changes, form, method, task, _label(form, perplexity)) or drawn
            if not drawn:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="0.45")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            ax.set_xlabel("number of edits", fontsize=8)
            ax.set_ylabel("change (%)" if task == PERPLEXITY else "score (%)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    handles, labels = {}, []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if labels:
        fig.legend([handles[lab] for lab in labels], labels, loc="outside right upper", fontsize=7.5, frameon=False)
    title = "Fig. 3 - downstream performance vs number of edits per MQD question form (0 = base model; +-1 SE)"
    if columns == [PERPLEXITY]:
        title = ("Fig. 3 - held-out perplexity change vs number of edits per MQD question form (0 = base model; "
                 "paired 95% interval; no lm-eval on the forms in this config)")
    elif PERPLEXITY in columns:
        title += "; held-out perplexity change: paired 95% interval"
    title = "\n".join(textwrap.wrap(f"{model}: {title}" if model else title, width=int(fig.get_size_inches()[0] * 9)))
    fig.suptitle(title, fontsize=10.5, x=0.01, ha="left")
    note = CAPTION + (f"\n{footer}" if footer else "")
    fig.supxlabel("\n".join(textwrap.wrap(note, width=int(fig.get_size_inches()[0] * 19))), fontsize=6,
                  color="0.35", x=0.005, ha="left", multialignment="left")
    return fig


def save_fig3(fig, out_dir: str | Path, name: str = FIGURE_NAME, formats: Sequence[str] = ("png", "pdf"),
              dpi: int = 130) -> list[Path]:
    paths = []
    for ext in formats:
        path = Path(out_dir) / f"{name}.{ext}"
        with atomic_path(path, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        paths.append(path)
    plt.close(fig)
    return paths
