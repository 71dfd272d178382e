"""Figures (matplotlib, Agg backend). Each function takes the loaded DataFrames and returns a Figure; ``save``
writes it atomically as PNG and PDF with a provenance footer. A panel without data says "no data", so every
figure is always produced, whatever inputs are missing.

- ``norms_per_layer``: mean|W| of each edited weight vs edits; rows = methods, columns = datasets (Fig 5b/c).
- ``norms_methods``: mean|W| (mean over the edited weights, or the first edited layer) vs edits, one line per
  method, one axis per dataset (Fig 6a/b): D4S should stay flat while ROME/MEMIT grow.
- ``edit_metrics``: Efficacy/Paraphrase/Specificity vs edits; rows = datasets, columns = metrics (Fig 8).
- ``downstream``: task scores vs edits (0 = base model); rows = datasets, columns = methods (Fig 2 / 6c).
- ``bottleneck``: z_prob_last (solid) and z_prob_first (dashed) vs edit index, rolling means over faint
  per-edit points; rows = datasets, columns = methods that have a value optimisation (Fig 5a).
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

from seqedit.atomic import atomic_path  # noqa: E402

from . import provenance as _prov  # noqa: E402
from .tables import METRICS, method_display, order_methods, order_plain, order_tasks, task_display  # noqa: E402

PANEL_W, PANEL_H = 3.6, 2.6
MAX_PNG_PIXELS = 5000
METRIC_TITLES = {"efficacy": "Efficacy", "paraphrase": "Paraphrase", "specificity": "Specificity"}
_CYCLE = plt.get_cmap("tab10").colors


def _color_map(keys: Sequence[str]) -> dict:
    return {k: _CYCLE[i % len(_CYCLE)] for i, k in enumerate(keys)}


def _grid(nrows: int, ncols: int, sharex: bool = False):
    nrows, ncols = max(nrows, 1), max(ncols, 1)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL_W * ncols + 0.6, PANEL_H * nrows + 1.0), squeeze=False, sharex=sharex,
        layout="constrained",
    )
    return fig, axes


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.5", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(fig, legend: tuple[list, list] | None = None, prov: dict | None = None, title: str | None = None):
    """Suptitle and shared legend on top, provenance footer (as the figure's supxlabel, so the constrained
    layout keeps room for it) at the bottom."""
    w, _ = fig.get_size_inches()
    if prov is not None:
        lines = textwrap.wrap(_prov.footer(prov), width=max(40, int(w * 21)))
        fig.supxlabel("\n".join(lines), fontsize=5.5, color="0.35", x=0.005, ha="left", multialignment="left")
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, width=max(30, int(w * 9)))), fontsize=11)
    if legend and legend[0]:
        handles, labels = legend  # on the right: "outside upper" would collide with the suptitle
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False, markerscale=2)
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
    found = list(df["method"].dropna().unique()) if not df.empty else []
    return order_methods(list(preferred or []) + found, preferred)


def _datasets(df: pd.DataFrame, preferred) -> list[str]:
    found = list(df["dataset"].dropna().unique()) if not df.empty else []
    return order_plain(list(preferred or []) + found, preferred)


def _layer_label(param: str, layer) -> str:
    if layer is None or (isinstance(layer, float) and math.isnan(layer)):
        return param
    return f"layer {int(layer)}"


# ----------------------------------------------------------------------------------------------------------------


def norms_per_layer(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model: str | None = None):
    methods = _methods(norms, methods)
    datasets = _datasets(norms, datasets)
    fig, axes = _grid(len(methods), len(datasets))
    if not methods or not datasets:
        _no_data(axes[0, 0])
        axes[0, 0].set_title("mean |W| per edited layer")
    for i, method in enumerate(methods):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = norms[(norms["method"] == method) & (norms["dataset"] == dataset)].dropna(subset=["mean_abs_w"])
            if g.empty:
                _no_data(ax)
                continue
            params = g.groupby("param")["layer"].first().sort_values(kind="stable")
            labels = [_layer_label(p, l) for p, l in params.items()]
            dup = len(set(labels)) < len(labels)
            cmap = plt.get_cmap("viridis")
            for k, (param, layer) in enumerate(params.items()):
                s = g[g["param"] == param].sort_values("edit")
                lab = param if dup else _layer_label(param, layer)
                ax.plot(s["edit"], s["mean_abs_w"], lw=1.2, color=cmap(k / max(1, len(params) - 1) * 0.9),
                        label=lab)
            ax.set_xlabel("number of edits", fontsize=8)
            ax.set_ylabel("mean |W|", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6.5, frameon=False)
    title = "L1 norm (mean |W|) of the edited weights vs number of edits"
    return _finish(fig, None, prov, f"{model}: {title}" if model else title)


def norms_methods(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model=None, agg: str = "mean"):
    """``agg``: "mean" = mean over a method's edited weights at each edit; "first" = its lowest edited layer."""
    methods = _methods(norms, methods)
    datasets = _datasets(norms, datasets)
    fig, axes = _grid(1, len(datasets))
    colors = _color_map(methods)
    if not datasets:
        _no_data(axes[0, 0])
    for j, dataset in enumerate(datasets):
        ax = axes[0, j]
        ax.set_title(dataset, fontsize=9)
        any_line = False
        for method in methods:
            g = norms[(norms["method"] == method) & (norms["dataset"] == dataset)].dropna(subset=["mean_abs_w"])
            if g.empty:
                continue
            if agg == "first":
                first = g.sort_values(["layer", "param"]).iloc[0]["param"]
                s = g[g["param"] == first].set_index("edit")["mean_abs_w"].sort_index()
            else:
                s = g.groupby("edit")["mean_abs_w"].mean().sort_index()
            ax.plot(s.index, s.values, lw=1.4, color=colors[method], label=method_display(method))
            any_line = True
        if not any_line:
            _no_data(ax)
            continue
        ax.set_xlabel("number of edits", fontsize=8)
        ax.set_ylabel("mean |W|" + (" (first edited layer)" if agg == "first" else " (avg. edited layers)"),
                      fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    title = "L1 norm of the edited weights vs number of edits, all methods"
    return _finish(fig, _collect_legend(axes, [method_display(m) for m in methods]), prov,
                   f"{model}: {title}" if model else title)


def edit_metrics(metrics: pd.DataFrame, methods=None, datasets=None, prov=None, model=None):
    methods = _methods(metrics, methods)
    datasets = _datasets(metrics, datasets)
    fig, axes = _grid(max(1, len(datasets)), len(METRICS))
    colors = _color_map(methods)
    for j, (key, _) in enumerate(METRICS):
        for i in range(max(1, len(datasets))):
            ax = axes[i, j]
            dataset = datasets[i] if datasets else None
            ax.set_title(f"{METRIC_TITLES[key]}" + (f" - {dataset}" if dataset else ""), fontsize=9)
            g = metrics[metrics["dataset"] == dataset] if dataset else metrics.iloc[0:0]
            any_line = False
            for method in methods:
                s = g[g["method"] == method].dropna(subset=[key]).sort_values("n_edits")
                if s.empty:
                    continue
                ax.plot(s["n_edits"], 100 * s[key], marker="o", ms=3.5, lw=1.4, color=colors[method],
                        label=method_display(method))
                any_line = True
            if not any_line:
                _no_data(ax)
                continue
            ax.set_ylim(-3, 103)
            ax.set_xlabel("number of edits", fontsize=8)
            ax.set_ylabel(f"{METRIC_TITLES[key]} (%)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    title = "Edit metrics of all edits so far vs number of edits"
    return _finish(fig, _collect_legend(axes, [method_display(m) for m in methods]), prov,
                   f"{model}: {title}" if model else title)


def downstream(ds: pd.DataFrame, methods=None, datasets=None, prov=None, model=None):
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
                    ax.plot([0], [100 * b["value"].iloc[0]], marker="o", color=colors[t], label=task_display(t))
            ax.text(0.5, 0.95, "base model only", ha="center", va="top", transform=ax.transAxes, color="0.5")
    for i, dataset in enumerate(datasets):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = ck[(ck["dataset"] == dataset) & (ck["method"] == method)]
            if g.empty:
                _no_data(ax)
                continue
            any_line = False
            for t in tasks:
                s = g[g["task"] == t][["n_edits", "value"]]
                b = base[base["task"] == t][["n_edits", "value"]]
                if s.empty and b.empty:
                    continue
                s = pd.concat([b, s]).drop_duplicates("n_edits", keep="last").sort_values("n_edits")
                ax.plot(s["n_edits"], 100 * s["value"], marker="o", ms=3, lw=1.3, color=colors[t],
                        label=task_display(t))
                any_line = True
            if not any_line:
                _no_data(ax)
                continue
            ax.set_xlabel("number of edits", fontsize=8)
            ax.set_ylabel("score (%)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    title = "Downstream performance vs number of edits (0 = base model)"
    return _finish(fig, _collect_legend(axes, [task_display(t) for t in tasks]), prov,
                   f"{model}: {title}" if model else title)


def _auto_window(n: int) -> int:
    return max(1, min(100, n // 20))


def bottleneck(norms: pd.DataFrame, methods=None, datasets=None, prov=None, model=None, window: int | None = None):
    has_z = norms.dropna(subset=["z_prob_last"]) if not norms.empty else norms
    methods = _methods(has_z, methods)
    # methods without a value optimisation (FT, GRACE, ...) get no column unless asked for explicitly
    datasets = _datasets(norms, datasets)
    fig, axes = _grid(max(1, len(datasets)), max(1, len(methods)))
    if not methods or not datasets:
        _no_data(axes[0, 0])
        axes[0, 0].set_title("edit success probability", fontsize=9)
    used_windows = set()
    for i, dataset in enumerate(datasets):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            ax.set_title(f"{method_display(method)} - {dataset}", fontsize=9)
            g = norms[(norms["method"] == method) & (norms["dataset"] == dataset)]
            per_edit = g.groupby("edit")[["z_prob_first", "z_prob_last"]].first().sort_index()
            if per_edit["z_prob_last"].notna().sum() == 0 and per_edit["z_prob_first"].notna().sum() == 0:
                _no_data(ax, "no data" if g.empty else "no value optimisation")
                continue
            w = window or _auto_window(len(per_edit))
            used_windows.add(w)
            x = per_edit.index
            last, first = per_edit["z_prob_last"], per_edit["z_prob_first"]
            ax.scatter(x, last, s=3, alpha=0.25, color="C0", lw=0, label="last (per edit)")
            ax.plot(x, last.rolling(w, min_periods=1).mean(), color="C0", lw=1.6, label="last (rolling mean)")
            if first.notna().any():
                ax.plot(x, first.rolling(w, min_periods=1).mean(), color="C3", lw=1.3, ls="--",
                        label="first (rolling mean)")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("edit index", fontsize=8)
            ax.set_ylabel("p(target)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    title = "Probability of the edit target before/after the value optimisation"
    if used_windows:
        title += f" (rolling window {', '.join(str(w) for w in sorted(used_windows))} edits)"
    return _finish(fig, _collect_legend(axes), prov,
                   f"{model}: {title}" if model else title)
