"""Figures (matplotlib, Agg backend), one function per paper figure. Each takes the loaded DataFrames and returns a
Figure; ``save`` writes it atomically as PNG and PDF with a provenance footer. A panel without data says
"no data", so every figure is always produced, whatever inputs are missing.

- ``fig2_downstream``: downstream task scores vs number of edits (0 = base model); rows = datasets, columns =
  methods, one line per task with standard-error bars (Fig. 2).
- ``fig5_bottleneck``: per edit, the target probability the edit's optimisation reached (``z_prob_last``, faint
  points and rolling mean; its start value ``z_prob_first`` dashed) and the rolling share of successful edits
  (``immediate_efficacy == 1`` where logged, else ``z_prob_last > 0.5``; the legend says which) vs the edit index;
  rows = datasets, columns = methods with such a log (Fig. 5a).
- ``fig5_norms_per_layer``: mean|W| of each edited weight vs edits; rows = methods, columns = datasets (Fig. 5b/c).
- ``fig6_norms_methods``: top row: mean|W| (mean over a method's edited weights, or its first edited layer) vs
  edits, one line per method that changes weights (GRACE does not: noted in the legend); bottom row: the
  downstream average over the tasks vs edits (0 = base model), one line per method (Fig. 6a-c).
- ``fig8_edit_metrics``: Efficacy / Paraphrase / Specificity vs edits; rows = datasets, columns = metrics, one
  line per method; solid = the config's protocol, dashed = a second protocol when logged (Fig. 8).
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from seqedit.atomic import atomic_path  # noqa: E402

from . import provenance as _prov  # noqa: E402
from .tables import (  # noqa: E402
    METRICS,
    WEIGHTLESS_METHODS,
    is_weightless,
    method_display,
    metric_protocols,
    order_methods,
    order_plain,
    order_tasks,
    per_edit,
    protocol_columns,
    task_display,
)

PANEL_W, PANEL_H = 3.6, 2.6
MAX_PNG_PIXELS = 5000
METRIC_TITLES = {"efficacy": "Efficacy", "paraphrase": "Paraphrase", "specificity": "Specificity"}
PAPER_BOTTLENECK_METHODS = ("rome", "memit")
SUCCESS_EPS = 1e-9
_CYCLE = plt.get_cmap("tab10").colors
_PROTOCOL_STYLE = ["-", "--", ":", "-."]


def _color_map(keys: Sequence[str]) -> dict:
    return {k: _CYCLE[i % len(_CYCLE)] for i, k in enumerate(keys)}


def _grid(nrows: int, ncols: int, sharex: bool = False):
    nrows, ncols = max(nrows, 1), max(ncols, 1)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL_W * ncols + 2.2, PANEL_H * nrows + 1.2), squeeze=False, sharex=sharex,
        layout="constrained",
    )
    return fig, axes


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=9,
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _style(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _weightless_note(method: str) -> str:
    text = WEIGHTLESS_METHODS.get(str(method).lower(), "")
    return "\n".join(textwrap.wrap(text, 34))


def _finish(fig, legend: tuple[list, list] | None = None, prov: dict | None = None, title: str | None = None):
    """Suptitle on top, shared legend on the right, provenance footer (as the figure's supxlabel, so the
    constrained layout keeps room for it) at the bottom."""
    w, _ = fig.get_size_inches()
    if prov is not None:
        lines = textwrap.wrap(_prov.footer(prov), width=max(40, int(w * 21)))
        fig.supxlabel("\n".join(lines), fontsize=5.5, color="0.35", x=0.005, ha="left", multialignment="left")
    if title:  # left-aligned and wrapped to the panels' width, so it never runs into the legend on the right
        width = max(30, int((w - (2.4 if legend and legend[0] else 0.2)) * 10))
        fig.suptitle("\n".join(textwrap.wrap(title, width=width)), fontsize=10.5, x=0.01, ha="left")
    if legend and legend[0]:
        handles, labels = legend  # on the right: "outside upper" would collide with the suptitle
        labels = ["\n".join(textwrap.wrap(lab, 32)) for lab in labels]
        fig.legend(handles, labels, loc="outside right upper", fontsize=7.5, frameon=False, markerscale=1.5)
    return fig


def _collect_legend(axes, order: Sequence[str] | None = None) -> tuple[list, list]:
    """Unique legend entries of all panels, sorted by ``order`` (display labels), then by first appearance."""
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if not lab.startswith("_") and lab not in seen:
                seen[lab] = h
    labels = list(seen)
    if order:
        rank = {lab: i for i, lab in enumerate(order)}
        first = {lab: i for i, lab in enumerate(labels)}
        labels.sort(key=lambda lab: (rank.get(lab, len(rank)), first[lab]))
    return [seen[lab] for lab in labels], labels


def _titled(model: str | None, title: str) -> str:
    return f"{model}: {title}" if model else title


def save(fig, out_dir: str | Path, name: str, formats: Sequence[str] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    out_dir = Path(out_dir)
    w, h = fig.get_size_inches()
    dpi = max(60, min(dpi, int(MAX_PNG_PIXELS / max(w, h))))
    paths = []
    for ext in formats:
        path = out_dir / f"{name}.{ext}"
        with atomic_path(path, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        paths.append(path)
    plt.close(fig)
    return paths


def _methods(df: pd.DataFrame, preferred) -> list[str]:
    """Methods found in ``df`` plus those asked for (they get a "no data" panel), in display order."""
    found = list(df["method"].dropna().unique()) if df is not None and not df.empty else []
    return order_methods(list(preferred or []) + found, preferred)


def _datasets(df: pd.DataFrame, preferred) -> list[str]:
    found = list(df["dataset"].dropna().unique()) if df is not None and not df.empty else []
    return order_plain(list(preferred or []) + found, preferred)


def _layer_label(param: str, layer) -> str:
    if layer is None or (isinstance(layer, float) and math.isnan(layer)):
        return _short_param(param)
    return f"layer {int(layer)}"


def _short_param(param: str) -> str:
    s = str(param)
    for prefix in ("model.", "transformer."):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s[: -len(".weight")] if s.endswith(".weight") else s


def _select(df: pd.DataFrame, **keys) -> pd.DataFrame:
    if df is None or df.empty:
        return df.iloc[0:0] if df is not None else pd.DataFrame()
    mask = pd.Series(True, index=df.index)
    for k, v in keys.items():
        mask &= df[k] == v
    return df[mask]


def _checkpoint_ticks(ax, xs) -> None:
    """Ticks at the checkpoints themselves when there are few of them."""
    xs = sorted({int(x) for x in xs if x == x})
    if 1 < len(xs) <= 8:
        ax.set_xticks(xs)


def _auto_window(n: int) -> int:
    return max(1, min(100, n // 10))


# ----------------------------------------------------------------------------------------------------------------
# Fig. 2: downstream scores vs edits


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
    methods = _methods(ck, methods)
    datasets = _datasets(ck, datasets)
    tasks = order_tasks(list(ds["task"].unique())) if not ds.empty else []
    colors = _color_map(tasks)
    fig, axes = _grid(max(1, len(datasets)), max(1, len(methods)))
    if not methods or not datasets:
        ax = axes[0, 0]
        ax.set_title("downstream", fontsize=9)
        if base.empty:
            _no_data(ax)
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
            g = _select(ck, dataset=dataset, method=method)
            if g.empty:
                _no_data(ax)
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
            _style(ax, "number of edits", "score (%)")
            _checkpoint_ticks(ax, [0, *g["n_edits"]])
    title = "Fig. 2 - downstream performance vs number of edits (0 = base model; bars: +-1 standard error)"
    return _finish(fig, _collect_legend(axes, [task_display(t) for t in tasks]), prov, _titled(model, title))


# ----------------------------------------------------------------------------------------------------------------
# Fig. 5a: the bottleneck


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
    datasets = _datasets(norms, datasets)
    fig, axes = _grid(max(1, len(datasets)), max(1, len(shown)))
    if not shown or not datasets:
        _no_data(axes[0, 0])
        axes[0, 0].set_title("edit success", fontsize=9)
    used_windows = set()
    for i, dataset in enumerate(datasets):
        for j, method in enumerate(shown):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = _select(edits, dataset=dataset, method=method).sort_values("edit")
            if g.empty or (g["z_prob_last"].isna().all() and g["immediate_efficacy"].isna().all()):
                _no_data(ax, "no data" if g.empty else "no per-edit probability logged")
                continue
            w = window or _auto_window(len(g))
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
            _style(ax, "edit index", "probability / share")
    title = "Fig. 5a - edit bottleneck: target probability reached per edit and share of successful edits"
    if used_windows:
        title += f" (rolling window {', '.join(str(w) for w in sorted(used_windows))} edits)"
    return _finish(fig, _collect_legend(axes), prov, _titled(model, title))


# ----------------------------------------------------------------------------------------------------------------
# Fig. 5b/c: norms per edited layer


def fig5_norms_per_layer(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model: str | None = None):
    methods = _methods(norms, methods)
    datasets = _datasets(norms, datasets)
    fig, axes = _grid(len(methods), len(datasets))
    if not methods or not datasets:
        _no_data(axes[0, 0])
        axes[0, 0].set_title("mean |W| per edited layer", fontsize=9)
    for i, method in enumerate(methods):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = _select(norms, method=method, dataset=dataset)
            g = g.dropna(subset=["mean_abs_w"]) if not g.empty else g
            if g.empty:
                _no_data(ax, _weightless_note(method) if is_weightless(method) else "no data")
                continue
            params = g.groupby("param")["layer"].first().sort_values(kind="stable")
            labels = [_layer_label(p, l) for p, l in params.items()]
            dup = len(set(labels)) < len(labels)
            cmap = plt.get_cmap("viridis")
            for k, (param, layer) in enumerate(params.items()):
                s = g[g["param"] == param].sort_values("edit")
                lab = _short_param(param) if dup else _layer_label(param, layer)
                ax.plot(s["edit"], s["mean_abs_w"], lw=1.2, color=cmap(k / max(1, len(params) - 1) * 0.9),
                        label=lab)
            _style(ax, "number of edits", "mean |W|")
            ax.legend(fontsize=6, frameon=False)
            if is_weightless(method):
                ax.text(0.02, 0.03, _weightless_note(method), transform=ax.transAxes, fontsize=6, color="0.3",
                        va="bottom")
    title = "Fig. 5b/c - L1 norm (mean |W|) of each edited weight vs number of edits"
    return _finish(fig, None, prov, _titled(model, title))


# ----------------------------------------------------------------------------------------------------------------
# Fig. 6: norms of all methods and the downstream average


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


def fig6_norms_methods(norms: pd.DataFrame, ds: pd.DataFrame | None = None, methods=None, datasets=None,
                       prov=None, model=None, agg: str = "mean"):
    """``agg``: "mean" = mean over a method's edited weights at each edit; "first" = its lowest edited layer."""
    ds = ds if ds is not None else pd.DataFrame(columns=["dataset", "method", "is_base", "task", "n_edits"])
    ck = ds[~ds["is_base"].astype(bool)] if not ds.empty else ds
    base = ds[ds["is_base"].astype(bool)] if not ds.empty else ds
    all_methods = order_methods(_methods(norms, methods) + _methods(ck, methods), methods)
    datasets = order_plain(_datasets(norms, datasets) + _datasets(ck, datasets), datasets)
    colors = _color_map(all_methods)
    fig, axes = _grid(2, max(1, len(datasets)))
    weightless = [m for m in all_methods if is_weightless(m)]
    if not datasets:
        _no_data(axes[0, 0])
        _no_data(axes[1, 0])
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
            g = _select(norms, method=method, dataset=dataset)
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
            _style(ax, "number of edits",
                   "mean |W|" + (" (first edited layer)" if agg == "first" else " (avg. over edited layers)"))
        else:
            _no_data(ax)

        ax = axes[1, j]
        ax.set_title(f"(c) downstream average - {dataset}", fontsize=9)
        any_line = False
        for method in all_methods:
            g = _select(ck, dataset=dataset, method=method)
            if g.empty:
                continue
            avg, tasks = downstream_average(g, base)
            if avg.empty:
                continue
            n_tasks_used.add(len(tasks))
            ax.plot(avg.index, 100 * avg.values, marker="o", ms=3, lw=1.4, color=colors[method],
                    label=method_display(method))
            any_line = True
        if any_line:
            _style(ax, "number of edits (0 = base model)", "downstream average (%)")
            _checkpoint_ticks(ax, [0, *_select(ck, dataset=dataset)["n_edits"]])
        else:
            _no_data(ax)
    handles, labels = _collect_legend(axes, [method_display(m) for m in all_methods])
    for m in weightless:
        note = f"{method_display(m)}: not in (a/b) - base weights unchanged, mean|W| flat by design"
        if method_display(m) in labels:
            labels[labels.index(method_display(m))] = f"{method_display(m)} (c only)"
        handles.append(Line2D([], [], color="none"))
        labels.append(note)
    title = "Fig. 6 - mean |W| of the edited weights (a/b) and downstream average (c) vs number of edits"
    if n_tasks_used:
        title += f" (average over {', '.join(str(n) for n in sorted(n_tasks_used))} tasks)"
    return _finish(fig, (handles, labels), prov, _titled(model, title))


# ----------------------------------------------------------------------------------------------------------------
# Fig. 8: edit metrics vs edits


def fig8_edit_metrics(metrics: pd.DataFrame, methods=None, datasets=None, prov=None, model=None):
    methods = _methods(metrics, methods)
    datasets = _datasets(metrics, datasets)
    protocols = metric_protocols(metrics)
    styles = {p: _PROTOCOL_STYLE[k % len(_PROTOCOL_STYLE)] for k, p in enumerate(protocols)}
    fig, axes = _grid(max(1, len(datasets)), len(METRICS))
    colors = _color_map(methods)
    for j, (key, _) in enumerate(METRICS):
        for i in range(max(1, len(datasets))):
            ax = axes[i, j]
            dataset = datasets[i] if datasets else None
            ax.set_title(f"{METRIC_TITLES[key]}" + (f" - {dataset}" if dataset else ""), fontsize=9)
            g = _select(metrics, dataset=dataset) if dataset else metrics.iloc[0:0]
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
                _no_data(ax)
                continue
            ax.set_ylim(-3, 103)
            _style(ax, "number of edits", f"{METRIC_TITLES[key]} (%)")
            _checkpoint_ticks(ax, g["n_edits"])
    handles, labels = _collect_legend(axes, [method_display(m) for m in methods])
    for p in protocols:
        handles.append(Line2D([], [], color="0.2", ls=styles[p], lw=1.4))
        labels.append(f"{p} protocol")
    what = {"sequential": "all edits so far re-evaluated at each checkpoint",
            "immediate": "each edit evaluated right after it was made", "unspecified": "protocol not recorded"}
    title = "Fig. 8 - edit metrics (token accuracy) vs number of edits"
    if protocols:
        title += "; " + ", ".join(f"{p}: {what.get(p, p)}" for p in protocols)
    return _finish(fig, (handles, labels), prov, _titled(model, title))
