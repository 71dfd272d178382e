"""Table 2: zsRE edit metrics (Eff / Par / Spe / Avg, %) per protocol, checkpoint and method, with the 95% interval
of the sequential protocol's means (:mod:`.intervals`); best / second within each checkpoint."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from . import intervals as _iv
from .load import metric_protocols
from .names import DECIMALS, METRICS, method_display, order_methods, order_plain, order_protocols, \
    protocol_columns, protocol_text, sort_rows
from .render import interval_column, latex_document, latex_label, latex_table, md_footer, md_table

T2_COLUMNS = ["model", "dataset", "protocol", "n_edits", "method", "n_requests", "Eff", "Par", "Spe", "Avg",
              *_iv.interval_columns()]
T2_DATASET = "zsre"
T2_HEADERS = ["Edits", "Method", "Eff", "Par", "Spe", "Avg"]
T2_LEGEND = (
    "Eff = Efficacy (rewrite prompt), Par = Paraphrase (rephrased prompt), Spe = Specificity (locality prompt: "
    "agreement with the unedited model), each the teacher-forced token accuracy of the target (EasyEdit's "
    "definition) in %, averaged over the evaluated requests; Avg = mean of the three. [a, b] = 95% interval "
    "(bootstrap over the requests; sequential protocol). Within each number of edits, best in bold, second best "
    "underlined (per column; ties share the mark), only where the intervals separate them from the values below."
)


def request_bounds(paths: pd.Series, protocols: pd.Series) -> pd.DataFrame:
    """Interval columns (percent, 2 decimals) per row: from the metrics file at ``paths`` where the row's numbers
    are of :data:`.intervals.INTERVAL_PROTOCOL`, else NaN."""
    bounds = [_iv.request_intervals(p) if pr == _iv.INTERVAL_PROTOCOL else {} for p, pr in zip(paths, protocols)]
    return pd.DataFrame(bounds, index=paths.index, columns=_iv.interval_columns()).astype(float).round(DECIMALS)


def table2(metrics: pd.DataFrame, steps: Sequence[int] | None = None, methods: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None, dataset: str | None = T2_DATASET,
           protocols: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows (model, dataset, protocol, n_edits, method) with Eff/Par/Spe/Avg in percent (2 decimals); Avg is the
    mean of the three unrounded metrics. One block per protocol with numbers (the top-level protocol and those of
    the ``protocols`` block). ``dataset`` (default zsRE; None = all) selects the dataset, ``steps`` the
    checkpoints, ``methods``/``datasets`` filter and order."""
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=T2_COLUMNS)
    df = metrics
    if dataset is not None:
        df = df[df["dataset"] == dataset]
    if steps:
        df = df[df["n_edits"].isin(list(steps))]
    if methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    if datasets:
        df = df[df["dataset"].isin(list(datasets))]
    parts = []
    for protocol in (protocols or metric_protocols(df)) if not df.empty else []:
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


def interval_cells(g: pd.DataFrame, short: str) -> list[tuple[str, str]]:
    """Cells of column ``short`` of a group of rows: value [interval], marks only where the intervals allow."""
    return interval_column(g[short].tolist(), g[f"{short}_lo"].tolist(), g[f"{short}_hi"].tolist())


def _t2_blocks(t2: pd.DataFrame):
    """(model, dataset, protocol, rows, breaks): rows [Edits, Method, Eff, Par, Spe, Avg] with marks within each
    checkpoint; ``breaks`` = first row of each checkpoint."""
    for (model, dataset, protocol), g in t2.groupby(["model", "dataset", "protocol"], sort=False):
        rows, breaks = [], []
        for n_edits, gg in g.groupby("n_edits", sort=False):
            breaks.append(len(rows))
            cells = {s: interval_cells(gg, s) for s in T2_HEADERS[2:]}
            for i, method in enumerate(gg["method"]):
                rows.append([str(n_edits) if i == 0 else "", method_display(method)]
                            + [cells[s][i] for s in T2_HEADERS[2:]])
        yield model, dataset, protocol, rows, breaks


def table2_markdown(t2: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 2: zsRE sequential editing, edit metrics (%)'}", "", T2_LEGEND.replace(
        "best in bold, second best underlined", "**bold** = best, <u>underlined</u> = second best"), ""]
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
