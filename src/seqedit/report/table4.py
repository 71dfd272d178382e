"""Table 4: downstream scores (%) of the base model and of the last checkpoint of each (dataset, method), the change
(edited - base) in parentheses."""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from .failed_marks import status_cells, status_of, table_notes
from .names import DECIMALS, method_display, order_methods, order_plain, order_tasks, task_display
from .render import fmt, fmt_signed, latex_document, latex_label, latex_table, md_footer, md_table

T4_COLUMNS = ["model", "dataset", "method", "n_edits", "task", "metric", "num_fewshot", "base", "edited", "change",
              "base_stderr", "edited_stderr"]
T4_LEGEND = (
    "Scores (%) of the base model (0 edits) and of the last checkpoint of each (dataset, method), +- lm-eval's "
    "standard error; the change (edited - base, percent points) is in parentheses. Column headers give each task's "
    "metric and shot count. Avg = mean over the tasks of the row, the change against the base average over the "
    "same tasks."
)


def table4(downstream: pd.DataFrame, methods: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table: per (model, dataset, method, task) the base score, the score at the last checkpoint and the
    change (edited - base), all in percent (2 decimals). The base model has rows with dataset/method empty and
    n_edits 0 (edited = base, change 0)."""
    if downstream is None or downstream.empty:
        return pd.DataFrame(columns=T4_COLUMNS)
    rows = []
    for model, dm in downstream.groupby("model", sort=False):
        base = dm[dm["is_base"]].set_index("task")
        ck = dm[~dm["is_base"] & (dm["n_edits"] > 0)]
        if methods:
            ck = ck[ck["method"].str.lower().isin([m.lower() for m in methods])]
        if datasets:
            ck = ck[ck["dataset"].isin(list(datasets))]
        for task in order_tasks(list(base.index) + list(ck["task"])):
            if task in base.index:
                b = base.loc[task]
                rows.append(dict(model=model, dataset=None, method=None, n_edits=0, task=task, metric=b["metric"],
                                 num_fewshot=b.get("num_fewshot"), base=100 * b["value"], edited=100 * b["value"], change=0.0,
                                 base_stderr=100 * b["stderr"], edited_stderr=100 * b["stderr"]))
        for dataset in order_plain(ck["dataset"], datasets):
            for method in order_methods(ck["method"], methods):
                g = ck[(ck["dataset"] == dataset) & (ck["method"] == method)]
                if g.empty:
                    continue
                last = int(g["n_edits"].max())
                g = g[g["n_edits"] == last].set_index("task")
                for task in order_tasks(g.index):
                    e = g.loc[task]
                    bv = 100 * base.loc[task, "value"] if task in base.index else float("nan")
                    bs = 100 * base.loc[task, "stderr"] if task in base.index else float("nan")
                    rows.append(dict(model=model, dataset=dataset, method=method, n_edits=last, task=task,
                                     metric=e["metric"], num_fewshot=e.get("num_fewshot"), base=bv, edited=100 * e["value"],
                                     change=100 * e["value"] - bv, base_stderr=bs, edited_stderr=100 * e["stderr"]))
    out = pd.DataFrame(rows, columns=T4_COLUMNS)
    numeric = ["base", "edited", "change", "base_stderr", "edited_stderr"]
    out[numeric] = out[numeric].apply(pd.to_numeric, errors="coerce").round(DECIMALS)
    return out


def _mean(values) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def _with_se(value, stderr) -> str:
    return f"{fmt(value)} ±{stderr:.1f}" if stderr is not None and not math.isnan(stderr) else fmt(value)


def _header(dm: pd.DataFrame, task: str) -> str:
    rows = dm[dm["task"] == task]
    metric = next(iter(rows["metric"].dropna().astype(str)), "")
    shots = sorted({int(n) for n in rows["num_fewshot"].dropna()}) if "num_fewshot" in rows else []
    parts = [p for p in (metric, "/".join(str(n) for n in shots) + "-shot" if shots else "") if p]
    return f"{task_display(task)} ({', '.join(parts)})" if parts else task_display(task)


def _t4_sections(t4: pd.DataFrame):
    """(model, headers, rows) per model."""
    for model, dm in t4.groupby("model", sort=False):
        tasks = order_tasks(dm["task"].dropna())  # a failed run's row has no task
        headers = ["Dataset", "Method", "Edits"] + [_header(dm, t) for t in tasks] + ["Avg"]
        rows = []
        base = dm[dm["n_edits"] == 0].set_index("task")
        if not base.empty:
            vals = [base.loc[t, "base"] if t in base.index else float("nan") for t in tasks]
            rows.append(["-", "Base model", "0"]
                        + [_with_se(base.loc[t, "base"], base.loc[t, "base_stderr"]) if t in base.index else "-"
                           for t in tasks] + [fmt(_mean(vals))])
        for (dataset, method), g in dm[dm["n_edits"] > 0].groupby(["dataset", "method"], sort=False, dropna=False):
            g = g.set_index("task")
            cells = [f"{_with_se(g.loc[t, 'edited'], g.loc[t, 'edited_stderr'])} ({fmt_signed(g.loc[t, 'change'])})"
                     if t in g.index else "-" for t in tasks]
            both = g.loc[[t for t in tasks if t in g.index], ["edited", "base"]].dropna()
            if both.empty:
                cells.append("-")
            else:
                ea, ba = _mean(both["edited"]), _mean(both["base"])
                cells.append(f"{fmt(ea)} ({fmt_signed(ea - ba)})")
            rows.append(status_cells([str(dataset), method_display(method), str(int(g["n_edits"].iloc[0]))] + cells,
                                     status_of(g, 0), 3))
        yield model, headers, rows


def table4_markdown(t4: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 4: downstream performance before and after sequential editing (%)'}", ""]
    parts += [T4_LEGEND, ""] + ([" ".join(table_notes(t4)), ""] if table_notes(t4) else [])
    if t4.empty:
        parts += ["_no data_", ""]
    for model, headers, rows in _t4_sections(t4):
        parts += [f"## Model: {model}", ""]
        parts += [md_table(headers, rows, "llr" + "r" * (len(headers) - 3)), ""]
    if prov is not None:
        parts += [md_footer(prov), ""]
    return "\n".join(parts)


def table4_latex(t4: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    blocks = []
    for model, headers, rows in _t4_sections(t4):
        breaks = [1] if rows and rows[0][1] == "Base model" else []
        blocks.append(latex_table(headers, rows, "llr" + "r" * (len(headers) - 3),
                                  f"{model}: downstream scores before and after sequential editing. " + T4_LEGEND,
                                  latex_label("table4", model), breaks))
    return latex_document(title or "Table 4", blocks, prov, marks=False)
