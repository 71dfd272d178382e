"""Fig. 5a: the bottleneck (per edit, the target probability the edit's optimisation reached, ``z_prob_last``, faint
points and rolling mean; its start value ``z_prob_first`` dashed; the rolling share of successful edits,
``immediate_efficacy == 1`` where logged, else ``z_prob_last > 0.5``) vs the edit index, rows = datasets, columns =
methods with such a log; Fig. 5b/c: mean|W| of each edited weight vs edits, rows = methods, columns = datasets."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .load import per_edit
from .names import is_weightless, method_display, order_methods
from .plot import auto_window, collect_legend, datasets_of, finish, grid, layer_label, methods_of, no_data, select, \
    short_param, style, titled, weight_edits_label, weightless_note

PAPER_BOTTLENECK_METHODS = ("rome", "memit")
SUCCESS_EPS = 1e-9


def success_series(edits: pd.DataFrame) -> tuple[pd.Series, str]:
    """Per edit 1.0 (success) / 0.0 / NaN, and what it means: ``immediate_efficacy == 1`` where the run logged
    it, else ``z_prob_last > 0.5``."""
    imm = edits["immediate_efficacy"] if "immediate_efficacy" in edits else pd.Series(dtype=float)
    if imm.notna().any():
        return (imm >= 1.0 - SUCCESS_EPS).astype(float).where(imm.notna()), "immediate Efficacy = 100%"
    z = edits["z_prob_last"]
    return (z > 0.5).astype(float).where(z.notna()), "reached p(target) > 0.5"


def fig5_bottleneck(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model=None,
                    window: int | None = None):
    edits = per_edit(norms)
    has = edits.dropna(subset=["z_prob_last", "immediate_efficacy"], how="all") if not edits.empty else edits
    found = list(has["method"].dropna().unique()) if not has.empty else []
    # methods with a log, and the paper's ROME/MEMIT when they are configured (a "no data" panel otherwise)
    wanted = [m for m in (methods or []) if str(m).lower() in PAPER_BOTTLENECK_METHODS]
    shown = order_methods(wanted + found, methods)
    datasets = datasets_of(norms, datasets)
    fig, axes = grid(max(1, len(datasets)), max(1, len(shown)))
    if not shown or not datasets:
        no_data(axes[0, 0])
        axes[0, 0].set_title("edit success", fontsize=9)
    used_windows = set()
    for i, dataset in enumerate(datasets):
        for j, method in enumerate(shown):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = select(edits, dataset=dataset, method=method).sort_values("edit")
            if g.empty or (g["z_prob_last"].isna().all() and g["immediate_efficacy"].isna().all()):
                no_data(ax, "no data" if g.empty else "no per-edit probability logged")
                continue
            w = window or auto_window(len(g))
            used_windows.add(w)
            x = g["edit"]
            last, first = g["z_prob_last"], g["z_prob_first"]
            if last.notna().any():
                ax.scatter(x, last, s=4, alpha=0.3, color="C0", lw=0, label="reached p(target), per edit")
                ax.plot(x, last.rolling(w, min_periods=1).mean(), color="C0", lw=1.5,
                        label="reached p(target), rolling mean")
            if first.notna().any():
                ax.plot(x, first.rolling(w, min_periods=1).mean(), color="C3", lw=1.0, ls="--",
                        label="initial p(target), rolling mean")
            succ, rule = success_series(g)
            ok = succ.notna()
            if ok.any():
                ax.plot(x[ok], succ[ok].rolling(w, min_periods=1).mean(), color="C2", lw=2.0,
                        label=f"share of successful edits ({rule}), rolling")
            ax.set_ylim(-0.03, 1.03)
            style(ax, weight_edits_label(g, "edit index"), "probability / share")
    title = "Fig. 5a - edit bottleneck: target probability reached per edit and share of successful edits"
    if used_windows:
        title += f" (rolling window {', '.join(str(w) for w in sorted(used_windows))} edits)"
    return finish(fig, collect_legend(axes), prov, titled(model, title))



def fig5_norms_per_layer(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model: str | None = None):
    methods = methods_of(norms, methods)
    datasets = datasets_of(norms, datasets)
    fig, axes = grid(len(methods), len(datasets))
    if not methods or not datasets:
        no_data(axes[0, 0])
        axes[0, 0].set_title("mean |W| per edited layer", fontsize=9)
    for i, method in enumerate(methods):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = select(norms, method=method, dataset=dataset)
            g = g.dropna(subset=["mean_abs_w"]) if not g.empty else g
            if g.empty:
                no_data(ax, weightless_note(method) if is_weightless(method) else "no data")
                continue
            params = g.groupby("param")["layer"].first().sort_values(kind="stable")
            labels = [layer_label(p, l) for p, l in params.items()]
            dup = len(set(labels)) < len(labels)
            cmap = plt.get_cmap("viridis")
            for k, (param, layer) in enumerate(params.items()):
                s = g[g["param"] == param].sort_values("edit")
                lab = short_param(param) if dup else layer_label(param, layer)
                ax.plot(s["edit"], s["mean_abs_w"], lw=1.2, color=cmap(k / max(1, len(params) - 1) * 0.9),
                        label=lab)
            style(ax, weight_edits_label(g), "mean |W|")
            ax.legend(fontsize=6, frameon=False)
            if is_weightless(method):
                ax.text(0.02, 0.03, weightless_note(method), transform=ax.transAxes, fontsize=6, color="0.3",
                        va="bottom")
    title = "Fig. 5b/c - L1 norm (mean |W|) of each edited weight vs number of edits"
    return finish(fig, None, prov, titled(model, title))
