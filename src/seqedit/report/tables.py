"""Loading the result files, and the Table 2 / Table 4 style tables (Markdown + CSV).

Loaders return long pandas DataFrames with ``model``, ``dataset`` and ``method`` columns taken from the file's
JSON contents where present, else from its path (``results/<kind>/{model}/{dataset}/{method}/...``).

Table 2 (edit metrics), Markdown: the best value of each column within one (dataset, n_edits) group is bold and
the second best underlined. Ranking is *dense* on the displayed values (percent rounded to 2 decimals): every
entry equal to the best displayed value is bold, every entry equal to the next distinct value is underlined.
Groups with a single finite value are not marked. NaN is shown as "-" and never ranked.

Table 4 (downstream): one row for the base model (0 edits) and, per (dataset, method), the scores at the last
checkpoint with ``(last - base)`` in parentheses, in percent points.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from seqedit.atomic import write_json, write_text

from . import provenance as _prov

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------------------------
# names and order

METHOD_ORDER = ["ft", "kn", "rome", "memit", "pmet", "alphaedit", "grace", "d4s"]
METHOD_DISPLAY = {
    "ft": "FT",
    "kn": "KN",
    "rome": "ROME",
    "memit": "MEMIT",
    "pmet": "PMET",
    "alphaedit": "AlphaEdit",
    "grace": "GRACE",
    "d4s": "D4S",
}
TASK_ORDER = ["arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2", "winogrande", "gsm8k"]
TASK_DISPLAY = {
    "arc_challenge": "ARC-C",
    "hellaswag": "HellaSwag",
    "mmlu": "MMLU",
    "truthfulqa_mc1": "TQA-MC1",
    "truthfulqa_mc2": "TQA-MC2",
    "winogrande": "WinoGrande",
    "gsm8k": "GSM8K",
}
METRICS = [("efficacy", "Eff"), ("paraphrase", "Par"), ("specificity", "Spe")]
DECIMALS = 2

NORM_COLUMNS = [
    "edit",
    "param",
    "layer",
    "mean_abs_w",
    "mean_abs_delta_total",
    "mean_abs_delta_step",
    "z_prob_first",
    "z_prob_last",
    "seconds",
]


def method_display(m: str | None) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "-"
    return METHOD_DISPLAY.get(str(m).lower(), str(m))


def task_display(t: str) -> str:
    return TASK_DISPLAY.get(t, t)


def _order_key(order: Sequence[str]):
    lowered = [o.lower() for o in order]

    def key(x) -> tuple:
        s = str(x)
        return (lowered.index(s.lower()), "") if s.lower() in lowered else (len(lowered), s.lower())

    return key


def order_methods(methods: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    """Unique methods, in ``preferred`` order (then the paper's order, then alphabetical)."""
    uniq = list(dict.fromkeys(m for m in methods if m is not None and not _isnan(m)))
    order = list(preferred or []) + [m for m in METHOD_ORDER if m not in [p.lower() for p in (preferred or [])]]
    return sorted(uniq, key=_order_key(order))


def order_tasks(tasks: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(tasks), key=_order_key(TASK_ORDER))


def order_plain(items: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    uniq = list(dict.fromkeys(i for i in items if i is not None and not _isnan(i)))
    return sorted(uniq, key=_order_key(list(preferred or [])))


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


# ----------------------------------------------------------------------------------------------------------------
# loaders

_STEP_RE = re.compile(r"step_(\d+)$")


def _existing(paths: Iterable[str | os.PathLike] | None) -> list[Path]:
    out = []
    for p in paths or []:
        p = Path(p)
        if p.is_file():
            out.append(p)
        else:
            log.warning("report: input %s does not exist; skipped", p)
    return out


def _path_keys(path: Path, depth: int) -> list[str | None]:
    """The ``depth`` folder names above ``path``'s file (outermost first); None where the path is too short."""
    parents = list(path.parts[:-1])
    keys = parents[-depth:] if depth else []
    return [None] * (depth - len(keys)) + keys


def _step_from_path(path: Path) -> int | None:
    m = _STEP_RE.search(path.stem)
    return int(m.group(1)) if m else None


def load_norms(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """``results/norms/{model}/{dataset}/{method}.csv`` files -> one DataFrame (model, dataset, method, ...)."""
    frames = []
    for p in _existing(paths):
        model, dataset = _path_keys(p, 2)
        try:
            df = pd.read_csv(p)
        except pd.errors.EmptyDataError:
            log.warning("report: %s is empty; skipped", p)
            continue
        for col in NORM_COLUMNS:
            if col not in df.columns:
                df[col] = float("nan")
        for key, val in (("model", model), ("dataset", dataset), ("method", p.stem)):
            if key not in df.columns:
                df[key] = val
            else:
                df[key] = df[key].fillna(val) if val is not None else df[key]
        frames.append(df)
    cols = ["model", "dataset", "method", *NORM_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)
    for col in ["edit", "layer"]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in NORM_COLUMNS[3:]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df = df.dropna(subset=["edit"])
    df["edit"] = df["edit"].astype(int)
    df["param"] = df["param"].astype(str)
    # a resumed run may have logged an edit twice: keep the last record
    df = df.drop_duplicates(subset=["model", "dataset", "method", "param", "edit"], keep="last")
    return df.sort_values(["model", "dataset", "method", "param", "edit"]).reset_index(drop=True)[
        cols + [c for c in df.columns if c not in cols]
    ]


def _read_json(p: Path) -> dict | None:
    try:
        with open(p, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("report: cannot read %s (%s); skipped", p, exc)
        return None
    if not isinstance(obj, dict):
        log.warning("report: %s is not a JSON object; skipped", p)
        return None
    return obj


def load_metrics(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """``results/metrics/{model}/{dataset}/{method}/step_{k}.json`` files -> one row per checkpoint."""
    rows = []
    for p in _existing(paths):
        obj = _read_json(p)
        if obj is None:
            continue
        model, dataset, method = _path_keys(p, 3)
        n = obj.get("n_edits", _step_from_path(p))
        rows.append(
            {
                "model": obj.get("model") or model,
                "dataset": obj.get("dataset") or dataset,
                "method": obj.get("method") or method,
                "n_edits": int(n) if n is not None else None,
                "protocol": obj.get("protocol"),
                "n_requests": obj.get("n_requests"),
                **{k: _float(obj.get(k)) for k, _ in METRICS},
                "path": str(p),
            }
        )
    cols = ["model", "dataset", "method", "n_edits", "protocol", "n_requests"] + [k for k, _ in METRICS] + ["path"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    df = df.dropna(subset=["n_edits"])
    df["n_edits"] = df["n_edits"].astype(int)
    df = df.drop_duplicates(subset=["model", "dataset", "method", "n_edits"], keep="last")
    return df.sort_values(["model", "dataset", "method", "n_edits"]).reset_index(drop=True)


def _float(x) -> float:
    try:
        return float(x) if x is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def load_downstream(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """Downstream JSON files (base ``{model}/base.json`` and ``{model}/{dataset}/{method}/step_{k}.json``)
    -> one row per (file, task). The base model has ``is_base`` True, ``n_edits`` 0 and no dataset/method."""
    rows = []
    for p in _existing(paths):
        obj = _read_json(p)
        if obj is None:
            continue
        n = obj.get("n_edits")
        if n is None:
            n = _step_from_path(p)
        is_base = p.stem == "base" or (not obj.get("method") and (n is None or int(n) == 0))
        if is_base:
            (model,) = _path_keys(p, 1)
            dataset = method = None
            n = 0
        else:
            model, dataset, method = _path_keys(p, 3)
        model = obj.get("model") or model
        if not is_base:
            dataset = obj.get("dataset") or dataset
            method = obj.get("method") or method
        tasks = obj.get("tasks") or {}
        for task, res in tasks.items():
            if not isinstance(res, dict):
                res = {"value": res}
            rows.append(
                {
                    "model": model,
                    "dataset": dataset,
                    "method": method,
                    "n_edits": int(n) if n is not None else None,
                    "is_base": bool(is_base),
                    "task": task,
                    "metric": res.get("metric"),
                    "value": _float(res.get("value")),
                    "stderr": _float(res.get("stderr")),
                    "path": str(p),
                }
            )
    cols = ["model", "dataset", "method", "n_edits", "is_base", "task", "metric", "value", "stderr", "path"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    df = df.dropna(subset=["n_edits"])
    df["n_edits"] = df["n_edits"].astype(int)
    df = df.drop_duplicates(subset=["model", "dataset", "method", "n_edits", "task", "is_base"], keep="last")
    return df.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Markdown helpers


def fmt(x: float, decimals: int = DECIMALS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{decimals}f}"


def fmt_signed(x: float, decimals: int = DECIMALS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    r = round(x, decimals)
    if r == 0:
        r = 0.0  # no "-0.00"
    return f"{r:+.{decimals}f}"


def rank_marks(values: Sequence[float], decimals: int = DECIMALS) -> list[str]:
    """'best' / 'second' / '' per value: dense ranking on the values rounded to ``decimals`` (higher is better)."""
    rounded = [None if (v is None or math.isnan(v)) else round(float(v), decimals) for v in values]
    finite = [r for r in rounded if r is not None]
    if len(finite) < 2:
        return [""] * len(values)
    distinct = sorted(set(finite), reverse=True)
    best = distinct[0]
    second = distinct[1] if len(distinct) > 1 else None
    out = []
    for r in rounded:
        if r is None:
            out.append("")
        elif r == best:
            out.append("best")
        elif second is not None and r == second:
            out.append("second")
        else:
            out.append("")
    return out


def decorate(text: str, mark: str) -> str:
    if mark == "best":
        return f"**{text}**"
    if mark == "second":
        return f"<u>{text}</u>"
    return text


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> str:
    align = list(align or ["l"] * len(headers))
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(sep[a] for a in align) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_footer(prov: dict) -> str:
    return f"<sub>Provenance: {_prov.footer(prov)}</sub>"


# ----------------------------------------------------------------------------------------------------------------
# Table 2: edit metrics


def table2(
    metrics: pd.DataFrame,
    steps: Sequence[int] | None = None,
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rows (model, dataset, n_edits, method) with Eff/Par/Spe/Avg in percent (2 decimals). Avg is the mean of
    the three unrounded metrics. ``steps`` restricts the checkpoints, ``methods``/``datasets`` filter and order."""
    cols = ["model", "dataset", "method", "n_edits", "n_requests", "Eff", "Par", "Spe", "Avg"]
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=cols)
    df = metrics.copy()
    if steps:
        df = df[df["n_edits"].isin(list(steps))]
    if methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    if datasets:
        df = df[df["dataset"].isin(list(datasets))]
    if df.empty:
        return pd.DataFrame(columns=cols)
    raw = df[[k for k, _ in METRICS]].astype(float)
    out = df[["model", "dataset", "method", "n_edits", "n_requests"]].copy()
    for key, short in METRICS:
        out[short] = (100 * raw[key]).round(DECIMALS)
    out["Avg"] = (100 * raw.mean(axis=1, skipna=False)).round(DECIMALS)
    m_order = order_methods(out["method"], methods)
    d_order = order_plain(out["dataset"], datasets)
    out["_d"] = out["dataset"].map(d_order.index)
    out["_m"] = out["method"].map(m_order.index)
    out = out.sort_values(["model", "_d", "n_edits", "_m"]).drop(columns=["_d", "_m"])
    return out.reset_index(drop=True)[cols]


def table2_markdown(t2: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 2: sequential editing, edit metrics (%)'}", ""]
    parts.append(
        "Eff = Efficacy, Par = Paraphrase, Spe = Specificity, Avg = mean of the three. Within each number of "
        "edits, **bold** = best and <u>underlined</u> = second best of the column (ties share the mark)."
    )
    parts.append("")
    if t2.empty:
        parts += ["_no data_", ""]
    for model, dm in t2.groupby("model", sort=False):
        parts += [f"## Model: {model}", ""]
        for dataset, dd in dm.groupby("dataset", sort=False):
            parts += [f"### Dataset: {dataset}", ""]
            rows = []
            for n_edits, g in dd.groupby("n_edits", sort=False):
                marks = {short: rank_marks(g[short].tolist()) for short in ["Eff", "Par", "Spe", "Avg"]}
                for i, (_, r) in enumerate(g.iterrows()):
                    rows.append(
                        [str(n_edits), method_display(r["method"])]
                        + [decorate(fmt(r[s]), marks[s][i]) for s in ["Eff", "Par", "Spe", "Avg"]]
                    )
            parts += [md_table(["Edits", "Method", "Eff", "Par", "Spe", "Avg"], rows, "rlrrrr"), ""]
    if prov is not None:
        parts += [md_footer(prov), ""]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------------------------
# Table 4: downstream


def table4(
    downstream: pd.DataFrame,
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Long table: per (model, dataset, method, task) the base score, the score at the last checkpoint and the
    change (edited - base), all in percent (2 decimals). The base model has rows with dataset/method empty and
    n_edits 0 (edited = base, change 0)."""
    cols = [
        "model",
        "dataset",
        "method",
        "n_edits",
        "task",
        "metric",
        "base",
        "edited",
        "change",
        "base_stderr",
        "edited_stderr",
    ]
    if downstream is None or downstream.empty:
        return pd.DataFrame(columns=cols)
    df = downstream.copy()
    rows = []
    for model, dm in df.groupby("model", sort=False):
        base = dm[dm["is_base"]].set_index("task")
        ck = dm[~dm["is_base"] & (dm["n_edits"] > 0)]
        if methods:
            ck = ck[ck["method"].str.lower().isin([m.lower() for m in methods])]
        if datasets:
            ck = ck[ck["dataset"].isin(list(datasets))]
        tasks = order_tasks(list(base.index) + list(ck["task"]))
        for task in tasks:
            if task in base.index:
                b = base.loc[task]
                rows.append(
                    {
                        "model": model,
                        "dataset": None,
                        "method": None,
                        "n_edits": 0,
                        "task": task,
                        "metric": b["metric"],
                        "base": 100 * b["value"],
                        "edited": 100 * b["value"],
                        "change": 0.0,
                        "base_stderr": 100 * b["stderr"],
                        "edited_stderr": 100 * b["stderr"],
                    }
                )
        d_order = order_plain(ck["dataset"], datasets)
        m_order = order_methods(ck["method"], methods)
        for dataset in d_order:
            for method in m_order:
                g = ck[(ck["dataset"] == dataset) & (ck["method"] == method)]
                if g.empty:
                    continue
                last = int(g["n_edits"].max())
                g = g[g["n_edits"] == last].set_index("task")
                for task in order_tasks(g.index):
                    e = g.loc[task]
                    bv = 100 * base.loc[task, "value"] if task in base.index else float("nan")
                    bs = 100 * base.loc[task, "stderr"] if task in base.index else float("nan")
                    rows.append(
                        {
                            "model": model,
                            "dataset": dataset,
                            "method": method,
                            "n_edits": last,
                            "task": task,
                            "metric": e["metric"],
                            "base": bv,
                            "edited": 100 * e["value"],
                            "change": 100 * e["value"] - bv,
                            "base_stderr": bs,
                            "edited_stderr": 100 * e["stderr"],
                        }
                    )
    out = pd.DataFrame(rows, columns=cols)
    for c in ["base", "edited", "change", "base_stderr", "edited_stderr"]:
        out[c] = pd.to_numeric(out[c], errors="coerce").round(DECIMALS)
    return out


def table4_markdown(t4: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 4: downstream performance before and after sequential editing (%)'}", ""]
    parts.append(
        "Scores of the base model (0 edits) and of the last checkpoint of each (dataset, method); "
        "the change (edited - base, percent points) is in parentheses. Avg = mean over the tasks shown."
    )
    parts.append("")
    if t4.empty:
        parts += ["_no data_", ""]
    for model, dm in t4.groupby("model", sort=False):
        parts += [f"## Model: {model}", ""]
        tasks = order_tasks(dm["task"])
        metric_of = {}
        for t in tasks:
            m = dm.loc[dm["task"] == t, "metric"].dropna()
            metric_of[t] = str(m.iloc[0]) if len(m) else ""
        headers = ["Dataset", "Method", "Edits"] + [
            f"{task_display(t)} ({metric_of[t]})" if metric_of[t] else task_display(t) for t in tasks
        ] + ["Avg"]
        rows = []
        base = dm[dm["n_edits"] == 0].set_index("task")
        if not base.empty:
            vals = [base.loc[t, "base"] if t in base.index else float("nan") for t in tasks]
            finite = [v for v in vals if not math.isnan(v)]
            avg = sum(finite) / len(finite) if finite else float("nan")
            rows.append(["-", "Base model", "0"] + [fmt(v) for v in vals] + [fmt(avg)])
        ck = dm[dm["n_edits"] > 0]
        for (dataset, method), g in ck.groupby(["dataset", "method"], sort=False, dropna=False):
            g = g.set_index("task")
            cells, e_vals, b_vals = [], [], []
            for t in tasks:
                if t not in g.index:
                    cells.append("-")
                    continue
                r = g.loc[t]
                cells.append(f"{fmt(r['edited'])} ({fmt_signed(r['change'])})")
                if not math.isnan(r["edited"]) and not math.isnan(r["base"]):
                    e_vals.append(r["edited"])
                    b_vals.append(r["base"])
            if e_vals:
                ea, ba = sum(e_vals) / len(e_vals), sum(b_vals) / len(b_vals)
                cells.append(f"{fmt(ea)} ({fmt_signed(ea - ba)})")
            else:
                cells.append("-")
            rows.append([str(dataset), method_display(method), str(int(g["n_edits"].iloc[0]))] + cells)
        parts += [md_table(headers, rows, "llr" + "r" * (len(tasks) + 1)), ""]
    if prov is not None:
        parts += [md_footer(prov), ""]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------------------------
# writing


def write_table(df: pd.DataFrame, markdown: str, out_dir: str | Path, name: str, prov: dict) -> list[Path]:
    """``{name}.md``, ``{name}.csv`` (plain CSV) and ``{name}.provenance.json``, each written atomically."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{name}.md", out_dir / f"{name}.csv", out_dir / f"{name}.provenance.json"]
    write_text(paths[0], markdown)
    write_text(paths[1], df.to_csv(index=False, float_format=f"%.{DECIMALS}f"))
    write_json(paths[2], {"table": name, "files": [p.name for p in paths[:2]], **prov})
    return paths
