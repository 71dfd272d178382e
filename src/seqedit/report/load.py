"""Reading the workflow's result files into long pandas DataFrames (one function per kind of file).

- norms CSV ``results/norms/{model}/{dataset}/{method}.csv`` (columns :data:`seqedit.norms.COLUMNS`; model,
  dataset and method from its path): :func:`load_norms`, and :func:`per_edit` for its per-edit fields;
- metrics JSON ``results/metrics/{model}/{dataset}/{method}/step_{k}.json``, and the unedited model's
  ``results/metrics/{model}/{dataset}/base.json`` (method :data:`.names.BASE_METHOD`, 0 edits): :func:`load_metrics`;
- downstream JSON ``results/downstream/{model}/base.json`` and ``.../{dataset}/{method}/step_{k}.json`` (model,
  dataset from the path: the file does not hold them): :func:`load_downstream`.

A listed file that does not exist is an error. Blocks a metrics file lacks (``protocols``, ``counterfact``,
``mquake``) and norms columns an older CSV lacks (``request``, ``immediate_*``) load as NaN.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from seqedit.files import read_json
from seqedit.norms import COLUMNS as NORM_COLUMNS
from seqedit.norms import EDIT_COLUMNS

from .names import BASE_METHOD, METRICS, UNSPECIFIED, order_protocols, protocol_columns

Paths = Iterable[str | os.PathLike] | None
NORM_KEYS = ["model", "dataset", "method", "param", "edit"]

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
MQ_KEYS = ("multi_hop_accuracy", "multi_hop_accuracy_pre_edit", "single_hop_accuracy", "n_cases", "n_cases_pre_edit",
           "n_questions", "n_hops", "match_rule", "prompt")
MQ_TEXT_KEYS = {"match_rule", "prompt"}
DOWNSTREAM_COLUMNS = ["model", "dataset", "method", "n_edits", "is_base", "task", "metric", "value", "stderr",
                      "num_fewshot", "path"]


def _path_keys(path: Path, depth: int) -> list[str | None]:
    """The ``depth`` folder names above ``path``'s file (outermost first); None where the path is too short."""
    keys = list(path.parts[:-1])[-depth:] if depth else []
    return [None] * (depth - len(keys)) + keys


def _float(x) -> float:
    if isinstance(x, bool):
        return float(x)
    try:
        return float(x) if x is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _block(obj: dict, key: str) -> dict:
    return obj[key] if isinstance(obj.get(key), dict) else {}


def load_norms(paths: Paths) -> pd.DataFrame:
    """Norms CSV files -> one DataFrame (model, dataset, method, then :data:`seqedit.norms.COLUMNS`), sorted by
    (model, dataset, method, param, edit). A header-only CSV (a method that edits no weight) adds no row."""
    cols = ["model", "dataset", "method", *NORM_COLUMNS]
    frames = []
    for p in map(Path, paths or []):
        df = pd.read_csv(p).reindex(columns=NORM_COLUMNS)  # an older CSV lacks request and immediate_*: NaN
        model, dataset = _path_keys(p, 2)
        frames.append(df.assign(model=model, dataset=dataset, method=p.stem)[cols])
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)
    numeric = [c for c in NORM_COLUMNS if c not in ("param", "edit")]
    df[numeric] = df[numeric].apply(pd.to_numeric, errors="coerce")
    df = df.astype({"edit": int, "param": str})
    return df.sort_values(NORM_KEYS).reset_index(drop=True)


def per_edit(norms: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, dataset, method, edit): the per-edit fields (:data:`seqedit.norms.EDIT_COLUMNS`,
    repeated in the CSV on each edited weight's row)."""
    keys = ["model", "dataset", "method", "edit"]
    if norms is None or norms.empty:
        return pd.DataFrame(columns=keys + EDIT_COLUMNS)
    return norms.groupby(keys, sort=True, dropna=False)[EDIT_COLUMNS].first().reset_index()


def load_metrics(paths: Paths) -> pd.DataFrame:
    """Metrics JSON files -> one row per checkpoint, sorted by (model, dataset, method, n_edits).

    Columns: model, dataset, method (the file's, else its path's; :data:`.names.BASE_METHOD` for the unedited
    model), n_edits, protocol (of the top-level numbers; "unspecified" when the file does not say), n_requests,
    efficacy, paraphrase, specificity (top level);
    ``{protocol}_{metric}`` for every protocol found (the ``protocols`` block, else the top-level numbers under
    their protocol); ``cf_{key}`` for the ``counterfact`` block and ``mq_{key}`` for the ``mquake`` block (NaN
    where absent); path."""
    rows, found = [], set()
    for p in map(Path, paths or []):
        obj = read_json(p)
        unedited = bool(obj.get("unedited"))  # `seqedit edit-metrics --unedited`: base.json beside the methods
        model, dataset, method = (*_path_keys(p, 2), BASE_METHOD) if unedited else _path_keys(p, 3)
        protocol = obj.get("protocol") or UNSPECIFIED
        row = {
            "model": obj.get("model") or model,
            "dataset": obj.get("dataset") or dataset,
            "method": method if unedited else obj.get("method") or method,
            "n_edits": int(obj["n_edits"]),
            "protocol": protocol,
            "n_requests": obj.get("n_requests"),
            **{k: _float(obj.get(k)) for k, _ in METRICS},
        }
        blocks = _block(obj, "protocols")
        for name, block in blocks.items():
            if isinstance(block, dict):
                found.add(name)
                row.update({f"{name}_{k}": _float(block.get(k)) for k, _ in METRICS})
        if protocol not in blocks or all(math.isnan(row.get(c, float("nan"))) for c in protocol_columns(protocol)):
            found.add(protocol)
            row.update({f"{protocol}_{k}": row[k] for k, _ in METRICS})
        cf, mq = _block(obj, "counterfact"), _block(obj, "mquake")
        row.update({f"cf_{k}": _float(cf.get(k)) for k in CF_KEYS})
        row.update({f"mq_{k}": mq.get(k) if k in MQ_TEXT_KEYS else _float(mq.get(k)) for k in MQ_KEYS})
        row["path"] = str(p)
        rows.append(row)
    base = ["model", "dataset", "method", "n_edits", "protocol", "n_requests"] + [k for k, _ in METRICS]
    prot_cols = [c for p in order_protocols(found) for c in protocol_columns(p)]
    cols = base + prot_cols + [f"cf_{k}" for k in CF_KEYS] + [f"mq_{k}" for k in MQ_KEYS] + ["path"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    df[prot_cols] = df[prot_cols].apply(pd.to_numeric, errors="coerce")
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


def load_downstream(paths: Paths) -> pd.DataFrame:
    """Downstream JSON files -> one row per (file, task). The base model (``base.json``, or a file without method
    and 0 edits) has ``is_base`` True, ``n_edits`` 0 and no dataset/method."""
    rows = []
    for p in map(Path, paths or []):
        obj = read_json(p)
        is_base = p.stem == "base" or not (obj.get("method") or obj.get("n_edits"))
        if is_base:
            (model,), dataset, method, n = _path_keys(p, 1), None, None, 0
        else:
            model, dataset, method = _path_keys(p, 3)
            n = int(obj["n_edits"])
            dataset, method = obj.get("dataset") or dataset, obj.get("method") or method
        for task, res in (obj.get("tasks") or {}).items():
            rows.append({"model": obj.get("model") or model, "dataset": dataset, "method": method,
                         "n_edits": n, "is_base": is_base, "task": task, "metric": res.get("metric"),
                         "value": _float(res.get("value")), "stderr": _float(res.get("stderr")),
                         "num_fewshot": res.get("num_fewshot"), "path": str(p)})
    return pd.DataFrame(rows, columns=DOWNSTREAM_COLUMNS)
