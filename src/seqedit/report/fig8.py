"""Fig. 8: Efficacy / Paraphrase / Specificity vs edits; rows = datasets, columns = metrics, one line per method;
solid = the config's protocol, dashed = a second protocol when logged; a black star at 0 edits = the unedited model
(its metrics on the requests of the longest chain), where known."""
from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D

from .load import metric_protocols
from .names import METRICS, method_display, protocol_columns
from .plot import checkpoint_ticks, collect_legend, color_map, datasets_of, finish, grid, methods_of, no_data, \
    requests_edited_label, select, style, titled

METRIC_TITLES = {"efficacy": "Efficacy", "paraphrase": "Paraphrase", "specificity": "Specificity"}
_PROTOCOL_STYLE = ["-", "--", ":", "-."]


BASE_LEGEND = "unedited (0 edits)"


def fig8_edit_metrics(metrics: pd.DataFrame, methods=None, datasets=None, prov=None, model=None,
                      base: pd.DataFrame | None = None):
    methods = methods_of(metrics, methods)
    datasets = datasets_of(metrics, datasets)
    protocols = metric_protocols(metrics)
    styles = {p: _PROTOCOL_STYLE[k % len(_PROTOCOL_STYLE)] for k, p in enumerate(protocols)}
    fig, axes = grid(max(1, len(datasets)), len(METRICS))
    colors = color_map(methods)
    for j, (key, _) in enumerate(METRICS):
        for i in range(max(1, len(datasets))):
            ax = axes[i, j]
            dataset = datasets[i] if datasets else None
            ax.set_title(f"{METRIC_TITLES[key]}" + (f" - {dataset}" if dataset else ""), fontsize=9)
            g = select(metrics, dataset=dataset) if dataset else metrics.iloc[0:0]
            any_line = False
            for method in methods:
                gm = g[g["method"] == method] if not g.empty else g
                for p in protocols:
                    col = protocol_columns(p)[j]
                    if gm.empty or col not in gm:
                        continue
                    s = gm.dropna(subset=[col]).sort_values("n_edits")
                    if s.empty:
                        continue
                    ax.plot(s["n_edits"], 100 * s[col], marker="o", ms=3.2, lw=1.4, ls=styles[p],
                            color=colors[method], label=method_display(method))
                    any_line = True
            if not any_line:
                no_data(ax)
                continue
            unedited = select(base, dataset=dataset) if base is not None and not base.empty else None
            at_zero = unedited[key].dropna() if unedited is not None else []
            if len(at_zero):  # the value every method starts from
                ax.plot([0], [100 * at_zero.iloc[0]], marker="*", ms=8, ls="none", color="black", label=BASE_LEGEND)
            ax.set_ylim(-3, 103)
            style(ax, requests_edited_label(g), f"{METRIC_TITLES[key]} (%)")
            checkpoint_ticks(ax, list(g["n_edits"]) + ([0] if len(at_zero) else []))
    handles, labels = collect_legend(axes, [method_display(m) for m in methods])
    for p in protocols:
        handles.append(Line2D([], [], color="0.2", ls=styles[p], lw=1.4))
        labels.append(f"{p} protocol")
    what = {"sequential": "all edits so far re-evaluated at each checkpoint",
            "immediate": "each edit evaluated right after it was made", "unspecified": "protocol not recorded"}
    title = "Fig. 8 - edit metrics (token accuracy) vs number of edits"
    if protocols:
        title += "; " + ", ".join(f"{p}: {what.get(p, p)}" for p in protocols)
    return finish(fig, (handles, labels), prov, titled(model, title))
