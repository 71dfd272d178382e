"""C6 (Fig. 6c, Table 4): general ability falls for ROME / MEMIT after many edits and stays near the base model for
D4S, measured two ways, each with its own rows of the claims table:

* ``C6 (lm-eval)``: the mean downstream score over the lm-eval tasks at the method's last lm-eval checkpoint minus
  the base model's, with a normal 95% interval from the tasks' standard errors (a fall beyond 2 points counts);
* ``C6 (perplexity)`` (issue 9): the held-out perplexity's change at the method's last perplexity checkpoint,
  paired per text block with the base model (:mod:`.general_ppl`: percentile bootstrap over blocks). ROME / MEMIT:
  *reproduced* when the rise's interval is above 0, *not reproduced* when it lies below a 1% rise. D4S:
  *reproduced* when its change lies within +-1%, or when its perplexity is significantly below both ROME's and
  MEMIT's at the same number of edits (paired per block); *not reproduced* when its change lies outside +-1% and
  it is not 1% below one of them; else inconclusive.

Also ``C8 (perplexity)``: C8 of :mod:`.claims_data` with the perplexity's rise as the damage.
"""
from __future__ import annotations

import math

import pandas as pd

from . import verdicts
from .claims_rows import make_row, missing_row

DOWNSTREAM_MARGIN = 0.02  # 2 points (scores are fractions)
PPL_BAND = 0.01  # 1% of perplexity
PPL_MARGIN = math.log1p(PPL_BAND)  # the same as a change of the mean NLL (nats)
C6_FIGURE = "fig6_norms_methods (c), table4_downstream"
C6_PPL_FIGURE = "fig6_norms_methods (d), table_general_perplexity"


def downstream_change(downstream: pd.DataFrame, dataset: str, method: str) -> tuple[float, float, float, str]:
    """Mean over the shared tasks of (edited - base) at the method's last lm-eval checkpoint, 95% interval."""
    base = downstream[downstream["is_base"]].set_index("task")
    runs = downstream[(~downstream["is_base"]) & (downstream["dataset"] == dataset) & (downstream["method"] == method)]
    if runs.empty or base.empty:
        return float("nan"), float("nan"), float("nan"), ""
    last = runs[runs["n_edits"] == runs["n_edits"].max()].set_index("task")
    tasks = [t for t in last.index if t in base.index and not math.isnan(last.loc[t, "value"])]
    if not tasks:
        return float("nan"), float("nan"), float("nan"), ""
    change = sum(last.loc[t, "value"] - base.loc[t, "value"] for t in tasks) / len(tasks)
    var = sum((last.loc[t, "stderr"] ** 2 + base.loc[t, "stderr"] ** 2) for t in tasks) / len(tasks) ** 2
    half = verdicts.Z95 * math.sqrt(var) if not math.isnan(var) else float("nan")
    return change, change - half, change + half, f"{len(tasks)} tasks, {int(last['n_edits'].iloc[0])} edits"


def c6_downstream(downstream: pd.DataFrame, dataset) -> list[dict]:
    label = "C6 (lm-eval)"
    rows = []
    if downstream is None or downstream.empty:
        return [missing_row(label, dataset, "ROME, MEMIT, D4S", "general ability falls for ROME/MEMIT, not for D4S",
                            C6_FIGURE, "downstream results")]
    for method in ("rome", "memit"):
        statement = "general ability (downstream) falls after many edits"
        change, low, high, what = downstream_change(downstream, dataset, method)
        if not what:
            rows.append(missing_row(label, dataset, method.upper(), statement, C6_FIGURE, f"{method} downstream"))
            continue
        evidence = f"change of the task mean {100 * change:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}] ({what})"
        criterion = f"interval of the fall above 0 (reproduced); below {100 * DOWNSTREAM_MARGIN:.0f} points (not)"
        rows.append(make_row(label, dataset, method.upper(), statement, evidence, criterion,
                             verdicts.positive_verdict(-high, -low, DOWNSTREAM_MARGIN), C6_FIGURE))
    statement = "general ability stays near the base model for D4S"
    change, low, high, what = downstream_change(downstream, dataset, "d4s")
    if not what:
        rows.append(missing_row(label, dataset, "D4S", statement, C6_FIGURE, "d4s downstream"))
    else:
        evidence = f"change of the task mean {100 * change:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}] ({what})"
        criterion = f"interval within +-{100 * DOWNSTREAM_MARGIN:.0f} points (reproduced); entirely outside (not)"
        rows.append(make_row(label, dataset, "D4S", statement, evidence, criterion,
                             verdicts.near_zero_verdict(low, high, DOWNSTREAM_MARGIN), C6_FIGURE))
    return rows


def _pct(x: float) -> str:
    return f"{100 * math.expm1(x):+.2f}"


def _last(table: pd.DataFrame, dataset: str, method: str, n_edits: int | None = None):
    g = table[(table["dataset"] == dataset) & (table["method"] == method) & table["delta_nll"].notna()]
    if n_edits is not None:
        g = g[g["n_edits"] == n_edits]
    return g.sort_values("n_edits").iloc[-1] if not g.empty else None


def _change_text(r) -> str:
    return (f"perplexity {r.base_perplexity:.3f} -> {r.perplexity:.3f} after {int(r.n_edits)} edits: "
            f"{_pct(r.delta_nll)}% [{_pct(r.delta_nll_lo)}, {_pct(r.delta_nll_hi)}] ({int(r.n_blocks)} blocks)")


def _versus(gp: pd.DataFrame, dataset: str, other: str) -> tuple[str, str] | None:
    """``(verdict, text)``: is D4S's perplexity below ``other``'s at their largest shared number of edits (paired
    per block: nll_other - nll_d4s)? None without a shared checkpoint."""
    from .general_ppl import comparable, paired_difference

    def files(method):
        return gp[(~gp["is_base"]) & (gp["dataset"] == dataset) & (gp["method"] == method)]

    mine, theirs = files("d4s"), files(other)
    shared = sorted(set(mine["n_edits"]) & set(theirs["n_edits"]))
    if not shared:
        return None
    a = theirs[theirs["n_edits"] == shared[-1]].iloc[-1]
    b = mine[mine["n_edits"] == shared[-1]].iloc[-1]
    if not comparable(a, b):
        return verdicts.INCONCLUSIVE, f"{other.upper()}: not the same blocks"
    c = paired_difference(a["block_nll"], b["block_nll"])
    verdict = verdicts.positive_verdict(c["low"], c["high"], PPL_MARGIN)
    return verdict, (f"{other.upper()}'s perplexity / D4S's - 1 at {shared[-1]} edits {_pct(c['mean'])}% "
                     f"[{_pct(c['low'])}, {_pct(c['high'])}]")


def c6_perplexity(gp: pd.DataFrame | None, dataset) -> list[dict]:
    """The ``C6 (perplexity)`` rows (none when ``gp`` is None: the measure is not configured)."""
    from .general_ppl import change_table

    if gp is None:
        return []
    label, band = "C6 (perplexity)", f"{100 * PPL_BAND:.0f}%"
    table = change_table(gp)
    if gp.empty or not gp["is_base"].any():
        return [missing_row(label, dataset, "ROME, MEMIT, D4S", "held-out perplexity rises for ROME/MEMIT, not for "
                            "D4S", C6_PPL_FIGURE, "general perplexity of the base model and the checkpoints")]
    rows = []
    for method in ("rome", "memit"):
        statement = "general ability falls after many edits: the held-out perplexity rises"
        r = _last(table, dataset, method)
        if r is None:
            rows.append(missing_row(label, dataset, method.upper(), statement, C6_PPL_FIGURE,
                                    f"{method} general perplexity paired with the base model's"))
            continue
        criterion = f"paired 95% interval of the rise above 0 (reproduced); below +{band} (not)"
        rows.append(make_row(label, dataset, method.upper(), statement, _change_text(r), criterion,
                             verdicts.positive_verdict(r.delta_nll_lo, r.delta_nll_hi, PPL_MARGIN), C6_PPL_FIGURE))
    statement = "general ability stays near the base model for D4S: the held-out perplexity barely changes"
    r = _last(table, dataset, "d4s")
    if r is None:
        rows.append(missing_row(label, dataset, "D4S", statement, C6_PPL_FIGURE,
                                "d4s general perplexity paired with the base model's"))
        return rows
    near = verdicts.near_zero_verdict(r.delta_nll_lo, r.delta_nll_hi, PPL_MARGIN)
    versus = [v for v in (_versus(gp, dataset, m) for m in ("rome", "memit")) if v is not None]
    below = [v for v, _ in versus]
    if near == verdicts.REPRODUCED or (len(below) == 2 and all(v == verdicts.REPRODUCED for v in below)):
        verdict = verdicts.REPRODUCED
    elif near == verdicts.NOT_REPRODUCED and (not below or verdicts.NOT_REPRODUCED in below):
        verdict = verdicts.NOT_REPRODUCED
    else:
        verdict = verdicts.INCONCLUSIVE
    evidence = "; ".join([_change_text(r), *(text for _, text in versus)])
    criterion = (f"change within +-{band} or perplexity significantly below ROME's and MEMIT's (paired) "
                 f"(reproduced); outside +-{band} and not {band} below one of them (not)")
    rows.append(make_row(label, dataset, "D4S", statement, evidence, criterion, verdict, C6_PPL_FIGURE))
    return rows


def c8_perplexity(gp: pd.DataFrame | None, same_edits=None) -> list[dict]:
    """The ``C8 (perplexity)`` row (none when the measure is not configured)."""
    from . import claims_data

    if gp is None:
        return []
    statement = "the held-out perplexity's rise after N edits differs between editing datasets"
    if gp.empty or gp[~gp["is_base"]]["dataset"].nunique() < 2:
        return [missing_row("C8 (perplexity)", "all", "KN, ROME, MEMIT", statement, "table_general_perplexity",
                            "general perplexity of two or more datasets")]
    got = claims_data.c8_from_perplexity(gp, same_edits=same_edits)
    return [make_row("C8 (perplexity)", "all", "KN, ROME, MEMIT", statement, got["evidence"], "95% interval of a "
                     "difference between two datasets' rise outside 0 (reproduced); all pairs within +-1% (not)",
                     got["verdict"], "table_general_perplexity")]
