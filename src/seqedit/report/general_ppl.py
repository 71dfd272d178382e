"""Held-out perplexity (``seqedit general-perplexity``, issue 9): loading its files, the paired change of a
checkpoint against the base model, and the table ``table_general_perplexity``.

Every file holds the mean NLL of the same fixed blocks of text (``block_nll``; ``tokens_sha256`` names the tokens),
so a checkpoint and the base model are compared per block: ``d_b = nll_edited_b - nll_base_b``. The change of the
mean NLL is ``mean(d)`` = log(ppl_edited / ppl_base) (equal blocks: the token mean); its 95% interval is the
percentile bootstrap over blocks (:func:`seqedit.report.verdicts.paired_bootstrap`, seeded) and its standard error
``sd(d) / sqrt(n)``. The perplexity ratio and its interval follow by ``exp`` (monotone): change (%) =
``100 (exp(mean d) - 1)``. Files over different tokens are not paired (NaN, said in the table).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .names import method_display, order_methods, order_plain
from .verdicts import paired_bootstrap

TABLE_NAME = "table_general_perplexity"
LOAD_COLUMNS = ["model", "dataset", "method", "n_edits", "is_base", "perplexity", "mean_nll", "n_blocks",
                "block_length", "n_tokens", "corpus", "tokens_sha256", "block_nll", "path"]
CHANGE_COLUMNS = ["model", "dataset", "method", "n_edits", "perplexity", "base_perplexity", "change_pct",
                  "change_pct_lo", "change_pct_hi", "delta_nll", "delta_nll_lo", "delta_nll_hi", "delta_nll_se",
                  "n_blocks", "corpus"]
LEGEND = ("Perplexity of fixed, non-overlapping blocks of held-out text (teacher forced, mean token NLL per block), "
          "base model (0 edits) and each checkpoint; change = ppl_edited / ppl_base - 1 (%), 95% interval from a "
          "paired percentile bootstrap over the blocks (2000 resamples, seed 0).")


def load_general_perplexity(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """One row per file (see :data:`LOAD_COLUMNS`); the base model (``base.json``, no method) has ``is_base``."""
    rows = []
    for p in map(Path, paths or []):
        obj = json.loads(p.read_text(encoding="utf-8"))
        is_base = p.stem == "base" or not obj.get("method")
        parts = list(p.parts[:-1])
        model = obj.get("model") or (parts[-1] if is_base else parts[-3])
        rows.append({
            "model": model, "dataset": None if is_base else obj.get("dataset") or parts[-2],
            "method": None if is_base else obj.get("method") or parts[-1],
            "n_edits": 0 if is_base else int(obj["n_edits"]), "is_base": is_base,
            "perplexity": float(obj["perplexity"]), "mean_nll": float(obj["mean_nll"]),
            "n_blocks": int(obj["n_blocks"]), "block_length": int(obj["block_length"]),
            "n_tokens": int(obj["n_tokens"]), "corpus": obj.get("corpus"), "tokens_sha256": obj.get("tokens_sha256"),
            "block_nll": [float(x) for x in obj["block_nll"]], "path": str(p),
        })
    return pd.DataFrame(rows, columns=LOAD_COLUMNS)


def comparable(a: pd.Series | dict, b: pd.Series | dict) -> bool:
    """Two files scored the same blocks (same tokens when both name them, same number and length of blocks)."""
    same_shape = a["n_blocks"] == b["n_blocks"] and a["block_length"] == b["block_length"]
    same_tokens = not (a["tokens_sha256"] and b["tokens_sha256"]) or a["tokens_sha256"] == b["tokens_sha256"]
    return bool(same_shape and same_tokens and len(a["block_nll"]) == len(b["block_nll"]))


def paired_difference(edited: Sequence[float], reference: Sequence[float], seed: int = 0) -> dict:
    """``{mean, low, high, se, n}`` of the per-block difference ``edited - reference`` (NLL, nats)."""
    d = np.asarray(edited, dtype=float) - np.asarray(reference, dtype=float)
    if len(d) == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "se": math.nan, "n": 0}
    mean, low, high = paired_bootstrap(d, seed)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
    return {"mean": mean, "low": low, "high": high, "se": se, "n": int(len(d))}


def base_row(gp: pd.DataFrame, model: str) -> pd.Series | None:
    rows = gp[gp["is_base"] & (gp["model"] == model)]
    return rows.iloc[-1] if not rows.empty else None


def change_table(gp: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, method, n_edits) the perplexity, the base model's and the paired change (see the
    module doc); the base model first (change 0). The long frame behind the table and the claims."""
    if gp is None or gp.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    rows = []
    for model in order_plain(gp["model"].dropna(), None):
        base = base_row(gp, model)
        if base is not None:
            rows.append(dict(model=model, dataset=None, method=None, n_edits=0, perplexity=base["perplexity"],
                             base_perplexity=base["perplexity"], change_pct=0.0, change_pct_lo=0.0, change_pct_hi=0.0,
                             delta_nll=0.0, delta_nll_lo=0.0, delta_nll_hi=0.0, delta_nll_se=0.0,
                             n_blocks=base["n_blocks"], corpus=base["corpus"]))
        edited = gp[~gp["is_base"] & (gp["model"] == model)]
        for dataset in order_plain(edited["dataset"], None):
            for method in order_methods(edited.loc[edited["dataset"] == dataset, "method"], None):
                g = edited[(edited["dataset"] == dataset) & (edited["method"] == method)].sort_values("n_edits")
                for _, r in g.iterrows():
                    if base is not None and comparable(r, base):
                        c = paired_difference(r["block_nll"], base["block_nll"])
                    else:
                        c = {"mean": math.nan, "low": math.nan, "high": math.nan, "se": math.nan}
                    rows.append(dict(
                        model=model, dataset=dataset, method=method, n_edits=int(r["n_edits"]),
                        perplexity=r["perplexity"], base_perplexity=base["perplexity"] if base is not None else math.nan,
                        change_pct=_pct(c["mean"]), change_pct_lo=_pct(c["low"]), change_pct_hi=_pct(c["high"]),
                        delta_nll=c["mean"], delta_nll_lo=c["low"], delta_nll_hi=c["high"], delta_nll_se=c["se"],
                        n_blocks=r["n_blocks"], corpus=r["corpus"]))
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _pct(delta_nll: float) -> float:
    return 100 * math.expm1(delta_nll) if not math.isnan(delta_nll) else math.nan


def _num(x: float, spec: str) -> str:
    return "-" if x is None or pd.isna(x) else format(x, spec)


def _is_base(r) -> bool:
    return r.method is None or pd.isna(r.method)


def _change_cell(r) -> str:
    if _is_base(r) or pd.isna(r.change_pct):
        return "-" if _is_base(r) else "not paired (other text)"
    return f"{r.change_pct:+.2f} [{r.change_pct_lo:+.2f}, {r.change_pct_hi:+.2f}]"


def _rows(df: pd.DataFrame) -> list[list[str]]:
    return [["-" if _is_base(r) else r.dataset, "base model" if _is_base(r) else method_display(r.method),
             str(int(r.n_edits)), _num(r.perplexity, ".3f"), _change_cell(r),
             "-" if _is_base(r) else _num(r.delta_nll, "+.4f")] for r in df.itertuples()]


HEADERS = ["Dataset", "Method", "Edits", "Perplexity", "Change (%) [95%]", "Delta NLL (nats/token)"]


def general_perplexity_markdown(df: pd.DataFrame, prov: dict | None, title: str) -> str:
    from .render import md_footer, md_table

    lines = [f"### {title}", ""]
    if df.empty:
        lines.append("_no data_ (config `general_perplexity` absent or disabled)")
    else:
        corpus = ", ".join(sorted({str(c) for c in df["corpus"].dropna()}))
        blocks = ", ".join(sorted({str(int(n)) for n in df["n_blocks"].dropna()}))
        lines += [f"{LEGEND} Text: {corpus}; {blocks} blocks.", "",
                  md_table(HEADERS, _rows(df), ["l", "l", "r", "r", "r", "r"])]
    if prov is not None:
        lines += ["", md_footer(prov)]
    return "\n".join(lines) + "\n"


def general_perplexity_latex(df: pd.DataFrame, prov: dict | None, title: str) -> str:
    from .render import latex_document, latex_table

    blocks = [latex_table(HEADERS, _rows(df), "llrrrr", caption=title, label="tab:general-perplexity")] \
        if not df.empty else []
    return latex_document(title, blocks, prov, notes=[LEGEND])
