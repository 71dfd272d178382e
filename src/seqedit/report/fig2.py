"""Fig. 2: downstream task scores vs number of edits (0 = base model); rows = datasets, columns = methods, one
line per task with standard-error bars."""
from __future__ import annotations

import pandas as pd

from .names import method_display, order_tasks, task_display
from .plot import checkpoint_ticks, collect_legend, color_map, datasets_of, finish, grid, methods_of, no_data, \
    select, style, titled


def _with_base(ck: pd.DataFrame, base: pd.DataFrame, task: str) -> pd.DataFrame:
    s = ck[ck["task"] == task][["n_edits", "value", "stderr"]]
    b = base[base["task"] == task][["n_edits", "value", "stderr"]]
    parts = [p for p in (b, s) if not p.empty]
    if not parts:
        return s
    return pd.concat(parts).drop_duplicates("n_edits", keep="last").sort_values("n_edits")


def fig2_downstream(ds: pd.DataFrame, methods=None, datasets=None, prov=None, model=None):
    ck = ds[~ds["is_base"]] if not ds.empty else ds
    base = ds[ds["is_base"]] if not ds.empty else ds
    methods = methods_of(ck, methods)
    datasets = datasets_of(ck, datasets)
    tasks = order_tasks(list(ds["task"].unique())) if not ds.empty else []
    colors = color_map(tasks)
    fig, axes = grid(max(1, len(datasets)), max(1, len(methods)))
    if not methods or not datasets:
        ax = axes[0, 0]
        ax.set_title("downstream", fontsize=9)
        if base.empty:
            no_data(ax)
        else:  # only the base model: show its scores at 0 edits
            for t in tasks:
                b = base[base["task"] == t]
                if not b.empty:
                    ax.errorbar([0], [100 * b["value"].iloc[0]], yerr=[100 * b["stderr"].fillna(0).iloc[0]],
                                marker="o", color=colors[t], capsize=2, label=task_display(t))
            ax.text(0.5, 0.95, "base model only", ha="center", va="top", transform=ax.transAxes, color="0.5")
    for i, dataset in enumerate(datasets):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = select(ck, dataset=dataset, method=method)
            if g.empty:
                no_data(ax)
                continue
            xmax = max(1, int(g["n_edits"].max()))
            for k, t in enumerate(tasks):
                s = _with_base(g, base, t)
                if s.empty:
                    continue
                # a small sideways offset per task keeps the error bars apart
                dx = (k - (len(tasks) - 1) / 2) * 0.008 * xmax
                bars = ax.errorbar(s["n_edits"] + dx, 100 * s["value"], yerr=100 * s["stderr"], marker="o",
                                   ms=3, lw=1.3, elinewidth=0.6, capsize=1.5, color=colors[t],
                                   label=task_display(t))
                for part in (*bars[1], *bars[2]):  # caps and bars lighter than the line
                    part.set_alpha(0.45)
            style(ax, "number of edits", "score (%)")
            checkpoint_ticks(ax, [0, *g["n_edits"]])
    title = "Fig. 2 - downstream performance vs number of edits (0 = base model; bars: +-1 standard error)"
    return finish(fig, collect_legend(axes, [task_display(t) for t in tasks]), prov, titled(model, title))
