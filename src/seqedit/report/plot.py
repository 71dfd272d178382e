"""What the figures share (matplotlib, Agg backend): the panel grid, "no data" panels, axis style, the shared
legend, title and provenance footer, and ``save`` (PNG and PDF, atomically)."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from seqedit.atomic import atomic_path  # noqa: E402

from . import provenance as _prov  # noqa: E402
from .names import WEIGHTLESS_METHODS, order_methods, order_plain  # noqa: E402

PANEL_W, PANEL_H = 3.6, 2.6
MAX_PNG_PIXELS = 5000
_CYCLE = plt.get_cmap("tab10").colors


def color_map(keys: Sequence[str]) -> dict:
    return {k: _CYCLE[i % len(_CYCLE)] for i, k in enumerate(keys)}


def grid(nrows: int, ncols: int, sharex: bool = False):
    nrows, ncols = max(nrows, 1), max(ncols, 1)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL_W * ncols + 2.2, PANEL_H * nrows + 1.2), squeeze=False, sharex=sharex,
        layout="constrained",
    )
    return fig, axes


def no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=9,
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def style(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def weightless_note(method: str) -> str:
    text = WEIGHTLESS_METHODS.get(str(method).lower(), "")
    return "\n".join(textwrap.wrap(text, 34))


def finish(fig, legend: tuple[list, list] | None = None, prov: dict | None = None, title: str | None = None):
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


def collect_legend(axes, order: Sequence[str] | None = None) -> tuple[list, list]:
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


def titled(model: str | None, title: str) -> str:
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


def methods_of(df: pd.DataFrame, preferred) -> list[str]:
    """Methods found in ``df`` plus those asked for (they get a "no data" panel), in display order."""
    found = list(df["method"].dropna().unique()) if df is not None and not df.empty else []
    return order_methods(list(preferred or []) + found, preferred)


def datasets_of(df: pd.DataFrame, preferred) -> list[str]:
    found = list(df["dataset"].dropna().unique()) if df is not None and not df.empty else []
    return order_plain(list(preferred or []) + found, preferred)


def layer_label(param: str, layer) -> str:
    if layer is None or (isinstance(layer, float) and math.isnan(layer)):
        return short_param(param)
    return f"layer {int(layer)}"


def short_param(param: str) -> str:
    s = str(param)
    for prefix in ("model.", "transformer."):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s[: -len(".weight")] if s.endswith(".weight") else s


def select(df: pd.DataFrame, **keys) -> pd.DataFrame:
    if df is None or df.empty:
        return df.iloc[0:0] if df is not None else pd.DataFrame()
    mask = pd.Series(True, index=df.index)
    for k, v in keys.items():
        mask &= df[k] == v
    return df[mask]


def checkpoint_ticks(ax, xs) -> None:
    """Ticks at the checkpoints themselves when there are few of them."""
    xs = sorted({int(x) for x in xs if x == x})
    if 1 < len(xs) <= 8:
        ax.set_xticks(xs)


def auto_window(n: int) -> int:
    return max(1, min(100, n // 10))


def weight_edits_label(norms: pd.DataFrame, default: str = "number of edits") -> str:
    """The x label of a per-weight-edit panel (norms, the edit log): a request that applies several rewrites
    (an MQuAKE case) makes one weight edit per rewrite, so such a panel counts rewrites, not requests."""
    if "request" in norms and norms["request"].notna().any() \
            and norms["edit"].nunique() > norms["request"].nunique():
        return f"{default} (rewrites: an MQuAKE case edits one per rewrite)"
    return default


def requests_edited_label(metrics: pd.DataFrame, default: str = "number of edits") -> str:
    """The x label of a per-checkpoint panel of edit metrics: for MQuAKE an edit is a case (all its rewrites)."""
    if "mq_n_cases" in metrics and metrics["mq_n_cases"].notna().any():
        return f"{default} (MQuAKE cases, each with all its rewrites)"
    return default
