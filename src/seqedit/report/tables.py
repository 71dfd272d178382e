"""Loading the result files, and the paper's tables (Markdown, CSV and LaTeX).

Loaders return long pandas DataFrames with ``model``, ``dataset`` and ``method`` columns taken from the file's
JSON contents where present, else from its path (``results/<kind>/{model}/{dataset}/{method}/...``). Blocks a
result file lacks (``protocols``, ``counterfact``, ``mquake``, the norms CSV's ``immediate_*`` columns) load as NaN,
and the tables and figures show them as "-" / "no data".

- Table 2 (``table2``, zsRE): per protocol and checkpoint, Eff / Par / Spe / Avg (%) of every method.
- Table 3 (``table3``): CounterFact (token accuracy Eff / Par / Spe / Avg and ROME's probability metrics ES / PS /
  NS / S, fluency) and MQuAKE (multi-hop and single-hop accuracy) per method, at the last checkpoint of each run.
- Table 4 (``table4``): downstream scores of the base model and of the last checkpoint, change in parentheses.

Best / second best (Tables 2 and 3): within one group (Table 2: protocol and number of edits; Table 3: number of
edits), every entry equal to the best *displayed* value of a column (percent rounded to 2 decimals, higher is
better) is bold, every entry equal to the next distinct displayed value underlined: dense ranking, ties share the
mark. A column with fewer than two finite values is not marked. NaN is shown as "-" (LaTeX "--") and never ranked.
Markdown marks with ``**bold**`` and ``<u>underline</u>``, LaTeX with ``\\textbf`` and ``\\underline``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Iterable, Sequence, Union

import pandas as pd

from seqedit.atomic import write_json, write_text

from . import provenance as _prov
from . import intervals as _iv

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------------------------
# names and order

METHOD_ORDER = ["ft", "ft_m", "kn", "rome", "memit", "pmet", "alphaedit", "grace", "d4s"]
METHOD_DISPLAY = {
    "ft": "FT",
    "ft_m": "FT-M",
    "kn": "KN",
    "rome": "ROME",
    "memit": "MEMIT",
    "pmet": "PMET",
    "alphaedit": "AlphaEdit",
    "grace": "GRACE",
    "d4s": "D4S",
}
# methods that leave the base weights untouched: their mean|W| is flat by design
WEIGHTLESS_METHODS = {"grace": "GRACE keeps its edits in a codebook adaptor; the base weights never change, so its "
                               "mean|W| is flat by design"}
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

PROTOCOL_ORDER = ["sequential", "immediate"]
UNSPECIFIED = "unspecified"
PROTOCOL_TEXT = {
    "sequential": "sequential protocol (the paper's): after k edits, all of the first k requests are re-evaluated "
                  "on the current model",
    "immediate": "immediate protocol: each request is evaluated right after its own edit, the scores averaged over "
                 "the first k requests",
    UNSPECIFIED: "unrecorded protocol (the metrics files do not say which)",
}

# metrics JSON blocks (fractions in [0, 1] unless said otherwise)
CF_KEYS = (
    "efficacy_success",
    "efficacy_magnitude",
    "paraphrase_success",
    "paraphrase_magnitude",
    "neighborhood_success",
    "neighborhood_magnitude",
    "score",
    "fluency",  # weighted bi/tri-gram entropy, not a fraction
    "fluency_base",
    "n_generation_prompts",
)
MQ_KEYS = ("multi_hop_accuracy", "single_hop_accuracy", "n_cases", "n_questions", "n_hops", "match_rule")
MQ_TEXT_KEYS = {"match_rule"}

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
    "request",
    "immediate_efficacy",
    "immediate_paraphrase",
    "immediate_specificity",
]
_NORM_NUMERIC = [c for c in NORM_COLUMNS if c not in ("edit", "param", "layer", "request")]


def method_display(m: str | None) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "-"
    return METHOD_DISPLAY.get(str(m).lower(), str(m))


def is_weightless(m) -> bool:
    return str(m).lower() in WEIGHTLESS_METHODS


def task_display(t: str) -> str:
    return TASK_DISPLAY.get(t, t)


def protocol_text(p: str) -> str:
    return PROTOCOL_TEXT.get(p, f"{p} protocol")


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


def order_protocols(protocols: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(p for p in protocols if p), key=_order_key(PROTOCOL_ORDER + [UNSPECIFIED]))


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
    """``results/norms/{model}/{dataset}/{method}.csv`` files -> one DataFrame (model, dataset, method, ...).

    Columns missing from a file (older runs: ``request``, ``immediate_*``) are NaN. A run whose CSV has no rows
    (a method that edits no weight) contributes nothing."""
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
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)
    for col in ["edit", "layer"]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in _NORM_NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df = df.dropna(subset=["edit"])
    df["edit"] = df["edit"].astype(int)
    df["param"] = df["param"].astype(str)
    # a resumed run may have logged an edit twice: keep the last record
    df = df.drop_duplicates(subset=["model", "dataset", "method", "param", "edit"], keep="last")
    return df.sort_values(["model", "dataset", "method", "param", "edit"]).reset_index(drop=True)[
        cols + [c for c in df.columns if c not in cols]
    ]


def per_edit(norms: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, dataset, method, edit): the per-edit fields of the norms CSV (repeated there once per
    edited weight): z-probabilities, immediate metrics, seconds, request."""
    keys = ["model", "dataset", "method", "edit"]
    fields = ["z_prob_first", "z_prob_last", "immediate_efficacy", "immediate_paraphrase", "immediate_specificity",
              "seconds", "request"]
    if norms is None or norms.empty:
        return pd.DataFrame(columns=keys + fields)
    return norms.groupby(keys, sort=True, dropna=False)[fields].first().reset_index()


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


def _float(x) -> float:
    if isinstance(x, bool):
        return float(x)
    try:
        return float(x) if x is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def protocol_columns(protocol: str) -> list[str]:
    return [f"{protocol}_{k}" for k, _ in METRICS]


def load_metrics(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """``results/metrics/{model}/{dataset}/{method}/step_{k}.json`` files -> one row per checkpoint.

    Columns: model, dataset, method, n_edits, protocol (of the top-level numbers; "unspecified" when the file
    does not say), n_requests, efficacy, paraphrase, specificity (top level); ``{protocol}_{metric}`` for every
    protocol found (the ``protocols`` block, else the top-level numbers under their protocol); ``cf_{key}`` for
    the ``counterfact`` block and ``mq_{key}`` for the ``mquake`` block (NaN where absent); path."""
    rows, found = [], set()
    for p in _existing(paths):
        obj = _read_json(p)
        if obj is None:
            continue
        model, dataset, method = _path_keys(p, 3)
        n = obj.get("n_edits", _step_from_path(p))
        protocol = obj.get("protocol") or UNSPECIFIED
        row = {
            "model": obj.get("model") or model,
            "dataset": obj.get("dataset") or dataset,
            "method": obj.get("method") or method,
            "n_edits": int(n) if n is not None else None,
            "protocol": protocol,
            "n_requests": obj.get("n_requests"),
            **{k: _float(obj.get(k)) for k, _ in METRICS},
        }
        blocks = obj.get("protocols") if isinstance(obj.get("protocols"), dict) else {}
        for name, block in blocks.items():
            if isinstance(block, dict):
                found.add(name)
                for k, _ in METRICS:
                    row[f"{name}_{k}"] = _float(block.get(k))
        if protocol not in blocks or all(math.isnan(row.get(c, float("nan"))) for c in protocol_columns(protocol)):
            found.add(protocol)
            for k, _ in METRICS:
                row[f"{protocol}_{k}"] = row[k]
        cf = obj.get("counterfact") if isinstance(obj.get("counterfact"), dict) else {}
        for k in CF_KEYS:
            row[f"cf_{k}"] = _float(cf.get(k))
        mq = obj.get("mquake") if isinstance(obj.get("mquake"), dict) else {}
        for k in MQ_KEYS:
            row[f"mq_{k}"] = mq.get(k) if k in MQ_TEXT_KEYS else _float(mq.get(k))
        row["path"] = str(p)
        rows.append(row)
    base = ["model", "dataset", "method", "n_edits", "protocol", "n_requests"] + [k for k, _ in METRICS]
    found = order_protocols(found)
    prot_cols = [c for p in found for c in protocol_columns(p)]
    cols = base + prot_cols + [f"cf_{k}" for k in CF_KEYS] + [f"mq_{k}" for k in MQ_KEYS] + ["path"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    for c in prot_cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df.dropna(subset=["n_edits"])
    df["n_edits"] = df["n_edits"].astype(int)
    df = df.drop_duplicates(subset=["model", "dataset", "method", "n_edits"], keep="last")
    return df.sort_values(["model", "dataset", "method", "n_edits"]).reset_index(drop=True)


def metric_protocols(metrics: pd.DataFrame) -> list[str]:
    """Protocols with at least one number in ``metrics``, the paper's (sequential) first."""
    if metrics is None or metrics.empty:
        return []
    found = []
    for c in metrics.columns:
        for k, _ in METRICS:
            if c.endswith(f"_{k}") and not c.startswith(("cf_", "mq_")) and metrics[c].notna().any():
                found.append(c[: -len(k) - 1])
    return order_protocols(found)


def main_protocols(metrics: pd.DataFrame) -> list[str]:
    """The protocols of the top-level numbers (what the config's ``evaluation.protocol`` produced)."""
    if metrics is None or metrics.empty:
        return []
    return order_protocols(metrics["protocol"].dropna().astype(str))


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
# cells, Markdown and LaTeX rendering
#
# A table body is a list of rows; a cell is a string or a (text, mark) pair, mark in {"best", "second", ""}.
# The same rows are rendered as Markdown (md_table) and LaTeX (latex_table).

Cell = Union[str, tuple]


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


def fmt_count(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return str(int(x))


def rank_marks(values: Sequence[float], decimals: int = DECIMALS) -> list[str]:
    """'best' / 'second' / '' per value: dense ranking on the values rounded to ``decimals`` (higher is better)."""
    rounded = [None if (v is None or _isnan(float(v))) else round(float(v), decimals) for v in values]
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


def marked_column(values: Sequence[float], decimals: int = DECIMALS) -> list[tuple[str, str]]:
    """Formatted values with their best/second marks."""
    return list(zip([fmt(v, decimals) for v in values], rank_marks(values, decimals)))


def decorate(text: str, mark: str) -> str:
    """Markdown: best bold, second underlined."""
    if mark == "best":
        return f"**{text}**"
    if mark == "second":
        return f"<u>{text}</u>"
    return text


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def latex_escape(text) -> str:
    """Plain text -> LaTeX text mode (the ten special characters, and < > | which OT1 fonts misprint)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def decorate_tex(text: str, mark: str) -> str:
    """LaTeX: escaped text, best ``\\textbf``, second ``\\underline``; a missing value "-" becomes "--"."""
    body = "--" if text == "-" else latex_escape(text)
    if mark == "best":
        return f"\\textbf{{{body}}}"
    if mark == "second":
        return f"\\underline{{{body}}}"
    return body


def _split(cell: Cell) -> tuple[str, str]:
    if isinstance(cell, tuple):
        return str(cell[0]), str(cell[1] or "")
    return str(cell), ""


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], align: Sequence[str] | None = None) -> str:
    align = list(align or ["l"] * len(headers))
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(sep[a] for a in align) + "|"]
    lines += ["| " + " | ".join(esc(decorate(*_split(c))) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_footer(prov: dict) -> str:
    return f"<sub>Provenance: {_prov.footer(prov)}</sub>"


def latex_label(*parts) -> str:
    return "tab:" + "-".join(re.sub(r"[^A-Za-z0-9]+", "-", str(p)).strip("-") for p in parts if p)


def latex_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    align: str,
    caption: str | None = None,
    label: str | None = None,
    breaks: Iterable[int] = (),
) -> str:
    """One ``table`` float holding a booktabs ``tabular``; ``breaks``: row indices preceded by a ``\\midrule``."""
    breaks = set(breaks)
    out = ["\\begin{table}[t]", "\\centering", "\\small"]
    if caption:
        out.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out += [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(latex_escape(h) for h in headers) + r" \\",
            "\\midrule"]
    for i, row in enumerate(rows):
        if i in breaks and i > 0:
            out.append("\\midrule")
        out.append(" & ".join(decorate_tex(*_split(c)) for c in row) + r" \\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out)


def latex_document(title: str, blocks: Sequence[str], prov: dict | None = None, notes: Sequence[str] = (),
                   marks: bool = True) -> str:
    """A ``.tex`` fragment for ``\\input``: provenance and notes as comments, then the table floats (or a
    "no data" comment). Needs ``\\usepackage{booktabs}``."""
    lines = [f"% {title}"]
    if prov is not None:
        lines.append(f"% Provenance: {_prov.footer(prov)}")
    lines += [f"% {n}" for n in notes]
    lines.append("% Requires \\usepackage{booktabs}."
                 + (" Best value of a column in \\textbf, second best \\underline." if marks else ""))
    lines.append("")
    if not blocks:
        lines += ["% no data", "\\begin{center}\\emph{no data}\\end{center}"]
    for b in blocks:
        lines += [b, ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Table 2: zsRE edit metrics per protocol and checkpoint

T2_COLUMNS = ["model", "dataset", "protocol", "n_edits", "method", "n_requests", "Eff", "Par", "Spe", "Avg",
              *_iv.interval_columns()]
T2_DATASET = "zsre"


def table2(
    metrics: pd.DataFrame,
    steps: Sequence[int] | None = None,
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    dataset: str | None = T2_DATASET,
    protocols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rows (model, dataset, protocol, n_edits, method) with Eff/Par/Spe/Avg in percent (2 decimals); Avg is the
    mean of the three unrounded metrics. One block per protocol with numbers (the top-level protocol and those of
    the ``protocols`` block). ``dataset`` (default zsRE; None = all) selects the dataset, ``steps`` the
    checkpoints, ``methods``/``datasets`` filter and order."""
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=T2_COLUMNS)
    df = metrics.copy()
    if dataset is not None:
        df = df[df["dataset"] == dataset]
    if steps:
        df = df[df["n_edits"].isin(list(steps))]
    if methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    if datasets:
        df = df[df["dataset"].isin(list(datasets))]
    if df.empty:
        return pd.DataFrame(columns=T2_COLUMNS)
    parts = []
    for protocol in protocols or metric_protocols(df):
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
        for (key, short), col in zip(METRICS, cols):
            out[short] = (100 * raw[col]).round(DECIMALS)
        out["Avg"] = (100 * raw.mean(axis=1, skipna=False)).round(DECIMALS)
        bounds = pd.DataFrame([_iv.request_intervals(p) if protocol == _iv.INTERVAL_PROTOCOL else {}
                               for p in df.loc[keep, "path"]], index=out.index, columns=_iv.interval_columns())
        parts.append(pd.concat([out, bounds.astype(float).round(DECIMALS)], axis=1))
    if not parts:
        return pd.DataFrame(columns=T2_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    m_order = order_methods(out["method"], methods)
    d_order = order_plain(out["dataset"], datasets)
    p_order = order_protocols(out["protocol"])
    out["_d"] = out["dataset"].map(d_order.index)
    out["_m"] = out["method"].map(m_order.index)
    out["_p"] = out["protocol"].map(p_order.index)
    out = out.sort_values(["model", "_d", "_p", "n_edits", "_m"]).drop(columns=["_d", "_m", "_p"])
    return out.reset_index(drop=True)[T2_COLUMNS]


def _t2_blocks(t2: pd.DataFrame):
    """(model, dataset, protocol, rows, breaks): rows [Edits, Method, Eff, Par, Spe, Avg] with marks within each
    checkpoint; ``breaks`` = first row of each checkpoint."""
    for (model, dataset, protocol), g in t2.groupby(["model", "dataset", "protocol"], sort=False):
        rows, breaks = [], []
        for n_edits, gg in g.groupby("n_edits", sort=False):
            breaks.append(len(rows))
            marks = {s: _interval_marked(gg, s) for s in ("Eff", "Par", "Spe", "Avg")}
            for i, (_, r) in enumerate(gg.iterrows()):
                rows.append([str(n_edits) if i == 0 else "", method_display(r["method"])]
                            + [marks[s][i] for s in ("Eff", "Par", "Spe", "Avg")])
        yield model, dataset, protocol, rows, breaks


def _interval_marked(g: pd.DataFrame, short: str) -> list[tuple[str, str]]:
    """Cells of one column: value [95% interval] where known, marks only where the intervals separate them."""
    values = g[short].tolist()
    lows = g[f"{short}_lo"].tolist() if f"{short}_lo" in g else [float("nan")] * len(values)
    highs = g[f"{short}_hi"].tolist() if f"{short}_hi" in g else [float("nan")] * len(values)
    marks = _iv.interval_marks(rank_marks(values), values, lows, highs)
    return [(_iv.with_interval(fmt(v), lo, hi), m) for v, lo, hi, m in zip(values, lows, highs, marks)]


T2_HEADERS = ["Edits", "Method", "Eff", "Par", "Spe", "Avg"]
T2_LEGEND = (
    "Eff = Efficacy (rewrite prompt), Par = Paraphrase (rephrased prompt), Spe = Specificity (locality prompt: "
    "agreement with the unedited model), each the teacher-forced token accuracy of the target (EasyEdit's "
    "definition) in %, averaged over the evaluated requests; Avg = mean of the three. [a, b] = 95% interval "
    "(bootstrap over the requests; sequential protocol). Within each number of edits, best in bold, second best "
    "underlined (per column; ties share the mark), only where the intervals separate them from the values below."
)


def table2_markdown(t2: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 2: zsRE sequential editing, edit metrics (%)'}", "", T2_LEGEND.replace(
        "best in bold, second best underlined", "**bold** = best, <u>underlined</u> = second best"), ""]
    if t2.empty:
        parts += ["_no data_", ""]
    models = t2["model"].nunique() if not t2.empty else 0
    last_model = None
    for model, dataset, protocol, rows, _ in _t2_blocks(t2):
        if models > 1 and model != last_model:
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


# ----------------------------------------------------------------------------------------------------------------
# Table 3: CounterFact and MQuAKE at the last checkpoint

T3_DATASETS = ("counterfact", "mquake")
# (CSV column, metrics column, scale): percent for fractions, raw for fluency and counts
T3_FIELDS = [
    ("Eff", "efficacy", 100),
    ("Par", "paraphrase", 100),
    ("Spe", "specificity", 100),
    ("Avg", None, 100),
    ("ES", "cf_efficacy_success", 100),
    ("EM", "cf_efficacy_magnitude", 100),
    ("PS", "cf_paraphrase_success", 100),
    ("PM", "cf_paraphrase_magnitude", 100),
    ("NS", "cf_neighborhood_success", 100),
    ("NM", "cf_neighborhood_magnitude", 100),
    ("S", "cf_score", 100),
    ("Fluency", "cf_fluency", 1),
    ("Fluency_base", "cf_fluency_base", 1),
    ("n_generation_prompts", "cf_n_generation_prompts", 1),
    ("MultiHop", "mq_multi_hop_accuracy", 100),
    ("SingleHop", "mq_single_hop_accuracy", 100),
    ("n_cases", "mq_n_cases", 1),
    ("n_questions", "mq_n_questions", 1),
    ("n_hops", "mq_n_hops", 1),
]
T3_COLUMNS = ["model", "dataset", "method", "n_edits", "protocol"] + [c for c, _, _ in T3_FIELDS] + ["match_rule"]
T3_CF_SHOWN = [("Eff", "Eff"), ("Par", "Par"), ("Spe", "Spe"), ("Avg", "Avg"), ("ES", "ES"), ("PS", "PS"),
               ("NS", "NS"), ("S", "S"), ("Fluency", "Flu.")]
T3_MQ_SHOWN = [("MultiHop", "Multi-hop"), ("SingleHop", "Single-hop"), ("n_cases", "Cases"),
               ("n_questions", "Questions")]
T3_COUNTS = {"n_cases", "n_questions", "n_hops", "n_generation_prompts"}  # shown as integers, never ranked
T3_CF_LEGEND = (
    "Eff / Par / Spe = teacher-forced token accuracy (%) on the rewrite prompts, their paraphrases and the "
    "neighbourhood prompts (Spe: agreement with the unedited model), Avg = their mean; ROME's probability "
    "metrics (%): ES = efficacy success (P(new) > P(true) on the rewrite prompt), PS = paraphrase success, NS = "
    "neighbourhood success (P(true) > P(new) on neighbourhood prompts), S = harmonic mean of ES, PS and NS; "
    "Flu. = generation fluency, the weighted bi/tri-gram entropy of generated text (ROME's tables show it x100)."
)
T3_MQ_LEGEND = (
    "Multi-hop = share of MQuAKE cases (%) of which a multi-hop question is answered with the new answer or one of "
    "its aliases, with all of the case's rewrites applied (MQuAKE's multi-hop accuracy); Single-hop = accuracy on "
    "the edited single hops (%); Cases / Questions = how many were evaluated."
)


def table3(metrics: pd.DataFrame, methods: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (model, dataset in {counterfact, mquake}, method) at the run's last checkpoint: the top-level
    token accuracies (their protocol in ``protocol``), the ``counterfact`` block (ES/EM/PS/PM/NS/NM/S in %, fluency
    raw) and the ``mquake`` block (multi-hop / single-hop accuracy in %, counts). Absent blocks give NaN."""
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=T3_COLUMNS)
    df = metrics[metrics["dataset"].isin(T3_DATASETS)]
    if methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    if datasets:
        df = df[df["dataset"].isin(list(datasets))]
    if df.empty:
        return pd.DataFrame(columns=T3_COLUMNS)
    last = df.loc[df.groupby(["model", "dataset", "method"])["n_edits"].idxmax()]
    rows = []
    for _, r in last.iterrows():
        row = {k: r[k] for k in ["model", "dataset", "method", "n_edits", "protocol"]}
        for col, src, scale in T3_FIELDS:
            if src is None:
                vals = [_float(r[k]) for k, _ in METRICS]
                row[col] = scale * sum(vals) / len(vals)  # NaN if any is NaN
            else:
                row[col] = scale * _float(r.get(src))
        mr = r.get("mq_match_rule")
        row["match_rule"] = mr if isinstance(mr, str) else None
        rows.append(row)
    out = pd.DataFrame(rows, columns=T3_COLUMNS)
    for col, _, scale in T3_FIELDS:
        out[col] = pd.to_numeric(out[col], errors="coerce").round(DECIMALS)
    d_order = order_plain(list(T3_DATASETS) + list(out["dataset"]))
    m_order = order_methods(out["method"], methods)
    out["_d"] = out["dataset"].map(d_order.index)
    out["_m"] = out["method"].map(m_order.index)
    out = out.sort_values(["model", "_d", "_m"]).drop(columns=["_d", "_m"])
    return out.reset_index(drop=True)[T3_COLUMNS]


def _t3_rows(g: pd.DataFrame, shown: Sequence[tuple[str, str]]):
    """Rows [Method, Edits, values...] with marks within each number of edits (the runs normally share it)."""
    rows, breaks = [], []
    for n_edits, gg in g.groupby("n_edits", sort=False):
        breaks.append(len(rows))
        marks = {c: ([fmt_count(v) for v in gg[c]] if c in T3_COUNTS else marked_column(gg[c].tolist()))
                 for c, _ in shown}
        for i, (_, r) in enumerate(gg.iterrows()):
            rows.append([method_display(r["method"]), str(int(n_edits))] + [marks[c][i] for c, _ in shown])
    return rows, breaks


def _t3_sections(t3: pd.DataFrame):
    """(model, dataset, title, headers, rows, breaks, notes) for each dataset of Table 3 (no data: rows empty)."""
    models = list(dict.fromkeys(t3["model"])) if not t3.empty else [None]
    for model in models:
        dm = t3[t3["model"] == model] if model is not None else t3
        for dataset, name, shown, legend in (("counterfact", "CounterFact", T3_CF_SHOWN, T3_CF_LEGEND),
                                             ("mquake", "MQuAKE", T3_MQ_SHOWN, T3_MQ_LEGEND)):
            g = dm[dm["dataset"] == dataset]
            # columns with no number at all are left out of the rendered table (they are in the CSV)
            show = [(c, h) for c, h in shown if not g.empty and g[c].notna().any()]
            rows, breaks = _t3_rows(g, show) if show else ([], [])
            notes = [legend]
            protos = order_protocols(g["protocol"].dropna()) if not g.empty else []
            if dataset == "counterfact" and protos:
                notes.append("Eff / Par / Spe from the " + "; ".join(protocol_text(p) for p in protos) + ".")
            if dataset == "counterfact" and not g.empty and g["Fluency_base"].notna().any():
                notes.append(f"Fluency of the unedited model: {fmt(g['Fluency_base'].dropna().iloc[0])}.")
            if dataset == "mquake" and not g.empty:
                rule = g["match_rule"].dropna()
                if len(rule):
                    notes.append(f"Answer matching: {rule.iloc[0]}.")
            headers = ["Method", "Edits"] + [h for _, h in show]
            yield model, dataset, name, headers, rows, breaks, notes


def table3_markdown(t3: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 3: CounterFact and MQuAKE at the last checkpoint'}", "",
             "Each method at the last checkpoint of its run. Within a table, **bold** = best and <u>underlined</u> "
             "= second best of a column (higher is better; ties share the mark).", ""]
    many = t3["model"].nunique() > 1 if not t3.empty else False
    last_model = None
    for model, dataset, name, headers, rows, _, notes in _t3_sections(t3):
        if many and model != last_model:
            parts += [f"## Model: {model}", ""]
            last_model = model
        parts += [f"### {name}", ""] + [" ".join(notes), ""]
        parts += [md_table(headers, rows, "lr" + "r" * (len(headers) - 2)) if rows else "_no data_", ""]
    if prov is not None:
        parts += [md_footer(prov), ""]
    return "\n".join(parts)


def table3_latex(t3: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    blocks, missing = [], []
    for model, dataset, name, headers, rows, breaks, notes in _t3_sections(t3):
        if not rows:
            missing.append(f"{name}: no data")
            continue
        cap = f"{model}: {name} at the last checkpoint. " + " ".join(notes)
        blocks.append(latex_table(headers, rows, "lr" + "r" * (len(headers) - 2), cap,
                                  latex_label("table3", model, dataset), breaks))
    return latex_document(title or "Table 3", blocks, prov, missing)


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


T4_LEGEND = (
    "Scores (%) of the base model (0 edits) and of the last checkpoint of each (dataset, method); the change "
    "(edited - base, percent points) is in parentheses. Avg = mean over the tasks shown."
)


def _t4_sections(t4: pd.DataFrame):
    """(model, headers, rows) per model."""
    for model, dm in t4.groupby("model", sort=False):
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
        yield model, headers, rows


def table4_markdown(t4: pd.DataFrame, prov: dict | None = None, title: str | None = None) -> str:
    parts = [f"# {title or 'Table 4: downstream performance before and after sequential editing (%)'}", ""]
    parts += [T4_LEGEND, ""]
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


# ----------------------------------------------------------------------------------------------------------------
# writing


def write_table(df: pd.DataFrame, markdown: str, out_dir: str | Path, name: str, prov: dict,
                latex: str | None = None) -> list[Path]:
    """``{name}.md``, ``{name}.csv`` (plain CSV), ``{name}.tex`` and ``{name}.provenance.json``, each written
    atomically (the order of :data:`seqedit.report.TABLE_FORMATS`)."""
    out_dir = Path(out_dir)
    paths = {ext: out_dir / f"{name}.{ext}" for ext in ("md", "csv", "tex", "provenance.json")}
    write_text(paths["md"], markdown)
    write_text(paths["csv"], df.to_csv(index=False, float_format=f"%.{DECIMALS}f"))
    write_text(paths["tex"], latex if latex is not None else latex_document(name, [], prov))
    files = [paths[e].name for e in ("md", "csv", "tex")]
    write_json(paths["provenance.json"], {"table": name, "files": files, **prov})
    return list(paths.values())
