"""Table 2: zsRE edit metrics (Eff / Par / Spe / Avg, %) per protocol, checkpoint and method, with the 95% interval
of the sequential protocol's means (:mod:`.intervals`); best / second within each checkpoint. The first row of
each block is the unedited model (0 edits), the reference line, never marked nor ranked."""
from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

from . import intervals as _iv
from .failed_marks import status_cells, status_of, table_notes
from .load import metric_protocols
from .names import BASE_METHOD, DECIMALS, METRICS, method_display, order_methods, order_plain, order_protocols, \
    protocol_columns, protocol_text, sort_rows
from .render import fmt, interval_column, latex_document, latex_label, latex_table, md_footer, md_table

T2_COLUMNS = ["model", "dataset", "protocol", "n_edits", "method", "n_requests", "Eff", "Par", "Spe", "Avg",
              *_iv.interval_columns()]
T2_DATASET = "zsre"
T2_HEADERS = ["Edits", "Method", "Eff", "Par", "Spe", "Avg"]
T2_LEGEND = (
    "Eff = Efficacy (rewrite prompt), Par = Paraphrase (rephrased prompt), Spe = Specificity (locality prompt: "
    "agreement with the unedited model), each the teacher-forced token accuracy of the target (EasyEdit's "
    "definition) in %, averaged over the evaluated requests; Avg = mean of the three. [a, b] = 95% interval "
    "(bootstrap over the requests; sequential protocol). Within each number of edits, best in bold, second best "
    "underlined (per column; ties share the mark), only where the intervals separate them from the values below. "
    "Edits 0 = the unedited model on the requests of the longest chain: the reference, never marked."
)


def request_bounds(paths: pd.Series, protocols: pd.Series) -> pd.DataFrame:
    """Interval columns (percent, 2 decimals) per row: from the metrics file at ``paths`` where the row's numbers
    are of :data:`.intervals.INTERVAL_PROTOCOL`, else NaN."""
    bounds = [_iv.request_intervals(p) if pr == _iv.INTERVAL_PROTOCOL else {} for p, pr in zip(paths, protocols)]
    return pd.DataFrame(bounds, index=paths.index, columns=_iv.interval_columns()).astype(float).round(DECIMALS)


def of_datasets(df: pd.DataFrame | None, dataset: str | None = None,
                datasets: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Rows of ``dataset`` (None = all) among ``datasets`` (None = all)."""
    if df is None or df.empty:
        return None
    if dataset is not None:
        df = df[df["dataset"] == dataset]
    return df[df["dataset"].isin(list(datasets))] if datasets else df


def with_base(edited: pd.DataFrame | None, base: pd.DataFrame | None) -> pd.DataFrame | None:
    """The unedited model's rows (:data:`.names.BASE_METHOD`, 0 edits) before the edited ones."""
    frames = [f for f in (base, edited) if f is not None and not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else None


def table2(metrics: pd.DataFrame, steps: Sequence[int] | None = None, methods: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None, dataset: str | None = T2_DATASET,
           protocols: Sequence[str] | None = None, base: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows (model, dataset, protocol, n_edits, method) with Eff/Par/Spe/Avg in percent (2 decimals); Avg is the
    mean of the three unrounded metrics. One block per protocol with numbers (the top-level protocol and those of
    the ``protocols`` block). ``dataset`` (default zsRE; None = all) selects the dataset, ``steps`` the
    checkpoints, ``methods``/``datasets`` filter and order. ``base``: the unedited model's metrics (loaded
    ``base.json``), its row first in each block (n_edits 0, method :data:`.names.BASE_METHOD`; not filtered by
    ``steps`` or ``methods``)."""
    df = of_datasets(metrics, dataset, datasets)
    if df is not None and steps:
        df = df[df["n_edits"].isin(list(steps))]
    if df is not None and methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    edited = df
    df = with_base(edited, of_datasets(base, dataset, datasets))
    if df is None:
        return pd.DataFrame(columns=T2_COLUMNS)
    parts = []  # a block per protocol of the edited rows (the unedited model's numbers hold for every protocol)
    for protocol in protocols or metric_protocols(edited if edited is not None else df):
        cols = protocol_columns(protocol)
        if not set(cols) <= set(df.columns):
            continue
        raw = df[cols].astype(float)
        keep = raw.notna().any(axis=1)
        if not keep.any():
            continue
        raw = raw[keep]
        out = df.loc[keep, ["model", "dataset", "n_edits", "method", "n_requests"]].copy()
        out.insert(2, "protocol", protocol)
        for (_, short), col in zip(METRICS, cols):
            out[short] = (100 * raw[col]).round(DECIMALS)
        out["Avg"] = (100 * raw.mean(axis=1, skipna=False)).round(DECIMALS)
        parts.append(pd.concat([out, request_bounds(df.loc[keep, "path"], out["protocol"])], axis=1))
    if not parts:
        return pd.DataFrame(columns=T2_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return sort_rows(out, ["model", "dataset", "protocol", "n_edits", "method"],
                     dataset=order_plain(out["dataset"], datasets), protocol=order_protocols(out["protocol"]),
                     method=order_methods(out["method"], methods))[T2_COLUMNS]


def base_apart(g: pd.DataFrame, ranked: Callable[[pd.DataFrame], list], plain: Callable[[pd.DataFrame], list]) -> list:
    """Cells of a group of rows in their order: ``ranked`` over the edited rows (marked among themselves), ``plain``
    over the unedited model's (never marked, not in the ranking)."""
    is_base = (g["method"] == BASE_METHOD).tolist()
    edited, unedited = iter(ranked(g[[not b for b in is_base]])), iter(plain(g[is_base]))
    return [next(unedited) if b else next(edited) for b in is_base]


def interval_cells(g: pd.DataFrame, short: str) -> list[tuple[str, str]]:
    """Cells of column ``short`` of a group of rows: value [interval], marks only where the intervals allow (the
    unedited model's row unmarked)."""

    def columns(x):
        return x[short].tolist(), x[f"{short}_lo"].tolist(), x[f"{short}_hi"].tolist()

    return base_apart(g, lambda x: interval_column(*columns(x)),
                      lambda x: [(_iv.with_interval(fmt(v), lo, hi), "") for v, lo, hi in zip(*columns(x))])


def _t2_blocks(t2: pd.DataFrame):
    """(model, dataset, protocol, rows, breaks): rows [Edits, Method, Eff, Par, Spe, Avg] with marks within each
    checkpoint; ``breaks`` = first row of each checkpoint."""
    for (model, dataset, protocol), g in t2.groupby(["model", "dataset", "protocol"], sort=False):
        rows, breaks = [], []
        for n_edits, gg in g.groupby("n_edits", sort=False):
            breaks.append(len(rows))
            cells = {s: interval_cells(gg, s) for s in T2_HEADERS[2:]}
            for i, method in enumerate(gg["method"]):  # a failed run's cells say so (status_cells)
                rows.append(status_cells([str(n_edits) if i == 0 else "", method_display(method)]
                                         + [cells[s][i] for s in T2_HEADERS[2:]], status_of(gg, i), 2))
        yield model, dataset, protocol, rows, breaks


def table2_markdown(t2: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 2: zsRE sequential editing, edit metrics (%)'}", "", T2_LEGEND.replace(
        "best in bold, second best underlined", "**bold** = best, <u>underlined</u> = second best"), ""]
    parts += [" ".join(table_notes(t2)), ""] if table_notes(t2) else []
    if t2.empty:
        parts += ["_no data_", ""]
    many = t2["model"].nunique() > 1 if not t2.empty else False
    last_model = None
    for model, dataset, protocol, rows, _ in _t2_blocks(t2):
        if many and model != last_model:
            parts += [f"## Model: {model}", ""]
            last_model = model
        parts += [f"### {dataset}, {protocol} protocol", "", f"Numbers from the {protocol_text(protocol)}.", ""]
        parts += [md_table(T2_HEADERS, rows, "rlrrrr"), ""]
    if prov is not None:
        parts += [md_footer(prov), ""]
    return "\n".join(parts)


def table2_latex(t2: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    blocks = []
    for model, dataset, protocol, rows, breaks in _t2_blocks(t2):
        cap = (f"{model}: {dataset}, edit metrics (%) vs number of edits, {protocol_text(protocol)}. "
               + T2_LEGEND)
        blocks.append(latex_table(T2_HEADERS, rows, "rlrrrr", cap, latex_label("table2", model, dataset, protocol),
                                  breaks))
    return latex_document(title or "Table 2", blocks, prov)
