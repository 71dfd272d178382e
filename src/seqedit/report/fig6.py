"""Fig. 6: top row, mean|W| (mean over a method's edited weights, or its first edited layer) vs edits, one line per
method that changes weights (GRACE does not: noted in the legend); second row, the downstream average over the tasks
vs edits (0 = base model), one line per method (Fig. 6a-c); when the held-out perplexity is given (issue 9), a third
row (d): its change against the base model (%, paired 95% interval over the text blocks) vs edits."""
from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D

from .names import is_weightless, method_display, order_methods, order_plain, order_tasks
from .plot import checkpoint_ticks, collect_legend, color_map, datasets_of, finish, grid, methods_of, no_data, \
    select, style, titled, weight_edits_label


def downstream_average(ck: pd.DataFrame, base: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """Mean score (fraction) over the tasks present at every point (base model at 0 edits included when
    present) per number of edits, and those tasks."""
    parts = [p for p in (base, ck) if p is not None and not p.empty]
    if not parts:
        return pd.Series(dtype=float), []
    both = pd.concat(parts)
    table = both.pivot_table(index="n_edits", columns="task", values="value", aggfunc="last").sort_index()
    table = table.dropna(axis=1, how="any")
    if table.empty or table.shape[1] == 0:
        return pd.Series(dtype=float), []
    return table.mean(axis=1), order_tasks(table.columns)


def average_stderr(ck: pd.DataFrame, base: pd.DataFrame, tasks) -> pd.Series:
    """Standard error of the task average per number of edits: ``sqrt(sum se^2) / n_tasks``."""
    both = pd.concat([p for p in (base, ck) if p is not None and not p.empty])
    both = both[both["task"].isin(list(tasks))]
    if both.empty or "stderr" not in both:
        return pd.Series(dtype=float)
    table = both.pivot_table(index="n_edits", columns="task", values="stderr", aggfunc="last").sort_index()
    return (table ** 2).sum(axis=1, min_count=len(tasks)) ** 0.5 / len(tasks)


def perplexity_panel(ax, changes: pd.DataFrame, dataset: str, methods, colors) -> bool:
    """Row (d): the held-out perplexity's change (%) vs edits, 0 at the base model, with its paired 95% interval
    (``changes``: :func:`seqedit.report.general_ppl.change_table`). False when nothing was drawn."""
    drawn = False
    for method in methods:
        g = select(changes, dataset=dataset, method=method).dropna(subset=["change_pct"])
        if g.empty:
            continue
        xs = [0, *g["n_edits"]]
        ax.plot(xs, [0.0, *g["change_pct"]], marker="o", ms=3, lw=1.4, color=colors[method],
                label=method_display(method))
        ax.fill_between(xs, [0.0, *g["change_pct_lo"]], [0.0, *g["change_pct_hi"]], color=colors[method],
                        alpha=0.15, lw=0)
        drawn = True
    if drawn:
        ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
        style(ax, "number of edits (0 = base model)", "held-out perplexity change (%)")
        checkpoint_ticks(ax, [0, *select(changes, dataset=dataset)["n_edits"]])
    return drawn


def fig6_norms_methods(norms: pd.DataFrame, ds: pd.DataFrame | None = None, methods=None, datasets=None,
                       prov=None, model=None, agg: str = "mean", general_perplexity: pd.DataFrame | None = None):
    """``agg``: "mean" = mean over a method's edited weights at each edit; "first" = its lowest edited layer.
    ``general_perplexity``: :func:`seqedit.report.general_ppl.load_general_perplexity`'s frame (row (d)), or None."""
    from .general_ppl import change_table

    changes = change_table(general_perplexity) if general_perplexity is not None else None
    with_ppl = changes is not None and not changes.empty
    ds = ds if ds is not None else pd.DataFrame(columns=["dataset", "method", "is_base", "task", "n_edits"])
    ck = ds[~ds["is_base"].astype(bool)] if not ds.empty else ds
    base = ds[ds["is_base"].astype(bool)] if not ds.empty else ds
    ppl_edited = changes[changes["method"].notna()] if with_ppl else None
    all_methods = order_methods(methods_of(norms, methods) + methods_of(ck, methods)
                                + (methods_of(ppl_edited, methods) if with_ppl else []), methods)
    datasets = order_plain(datasets_of(norms, datasets) + datasets_of(ck, datasets)
                           + (datasets_of(ppl_edited, datasets) if with_ppl else []), datasets)
    colors = color_map(all_methods)
    fig, axes = grid(3 if with_ppl else 2, max(1, len(datasets)))
    weightless = [m for m in all_methods if is_weightless(m)]
    if not datasets:
        no_data(axes[0, 0])
        no_data(axes[1, 0])
        axes[0, 0].set_title("(a/b) mean |W|", fontsize=9)
        axes[1, 0].set_title("(c) downstream average", fontsize=9)
    n_tasks_used = set()
    for j, dataset in enumerate(datasets):
        ax = axes[0, j]
        ax.set_title(f"(a/b) mean |W| - {dataset}", fontsize=9)
        any_line = False
        for method in all_methods:
            if is_weightless(method):
                continue  # base weights unchanged: nothing to show (said in the legend)
            g = select(norms, method=method, dataset=dataset)
            g = g.dropna(subset=["mean_abs_w"]) if not g.empty else g
            if g.empty:
                continue
            if agg == "first":
                first = g.sort_values(["layer", "param"]).iloc[0]["param"]
                s = g[g["param"] == first].set_index("edit")["mean_abs_w"].sort_index()
            else:
                s = g.groupby("edit")["mean_abs_w"].mean().sort_index()
            ax.plot(s.index, s.values, lw=1.4, color=colors[method], label=method_display(method))
            any_line = True
        if any_line:
            style(ax, weight_edits_label(select(norms, dataset=dataset)),
                   "mean |W|" + (" (first edited layer)" if agg == "first" else " (avg. over edited layers)"))
        else:
            no_data(ax)

        ax = axes[1, j]
        ax.set_title(f"(c) downstream average - {dataset}", fontsize=9)
        any_line = False
        for method in all_methods:
            g = select(ck, dataset=dataset, method=method)
            if g.empty:
                continue
            avg, tasks = downstream_average(g, base)
            if avg.empty:
                continue
            n_tasks_used.add(len(tasks))
            ax.plot(avg.index, 100 * avg.values, marker="o", ms=3, lw=1.4, color=colors[method],
                    label=method_display(method))
            se = average_stderr(g, base, tasks).reindex(avg.index)
            if se.notna().any():  # +-1 standard error band of the average (tasks taken as independent)
                ax.fill_between(avg.index, 100 * (avg - se).values, 100 * (avg + se).values, color=colors[method],
                                alpha=0.15, lw=0)
            any_line = True
        if any_line:
            style(ax, "number of edits (0 = base model)", "downstream average (%)")
            checkpoint_ticks(ax, [0, *select(ck, dataset=dataset)["n_edits"]])
        else:
            no_data(ax)
        if with_ppl:
            axes[2, j].set_title(f"(d) held-out perplexity - {dataset}", fontsize=9)
            if not perplexity_panel(axes[2, j], ppl_edited, dataset, all_methods, colors):
                no_data(axes[2, j])
    handles, labels = collect_legend(axes, [method_display(m) for m in all_methods])
    for m in weightless:
        note = f"{method_display(m)}: not in (a/b) - base weights unchanged, mean|W| flat by design"
        if method_display(m) in labels:
            labels[labels.index(method_display(m))] = f"{method_display(m)} (c only)"
        handles.append(Line2D([], [], color="none"))
        labels.append(note)
    title = ("Fig. 6 - mean |W| of the edited weights (a/b), downstream average (c)"
             + (", held-out perplexity change (d)" if with_ppl else "") + " vs number of edits")
    if n_tasks_used:
        title += f" (average over {', '.join(str(n) for n in sorted(n_tasks_used))} tasks)"
    return finish(fig, (handles, labels), prov, titled(model, title))
