"""The paper's claims, each with its evidence from this run and a computed verdict (:mod:`.verdicts`).

Computed from the loaded result frames (:func:`seqedit.report.load.load_norms`, ``load_metrics``,
``load_downstream``) of one dataset (zsRE, the paper's Table 2 dataset, when present; else the dataset with the
longest edit sequence). Every row states the criterion it applied, so a reader can check the verdict by hand.

* C1 (Fig. 5a) ROME / MEMIT hit a bottleneck: the share of edits that succeed right after they are made
  (immediate efficacy) is lower in the last quarter of the sequence than in the first; paired: MEMIT's reached
  target probability minus D4S's on the same request (D4S runs MEMIT's value optimisation on W0) drops.
* C2 (Fig. 5b,c) ROME's / MEMIT's mean|W| over the edited layers grows (relative growth over the run, interval
  from the slope of mean|W| on the edit index).
* C3 the decline coincides with the growth: Spearman correlation of mean|W| with the reached target probability
  over the edit sequence is negative.
* C4 (Fig. 6a,b) D4S's mean|W| stays nearly flat: its relative growth is at most half of ROME's and MEMIT's.
* C5 (Table 2, Fig. 8) at the largest edit count, D4S's Eff/Par/Spe average is above ROME's, MEMIT's and PMET's
  (paired bootstrap over the requests).
* C6 (Fig. 6c, Table 4) general ability falls for ROME/MEMIT and stays near the base for D4S, by two measures
  (:mod:`.claims_general`): lm-eval's downstream mean (within 2 points) and, when configured, the held-out
  perplexity (paired per text block, within 1%).
* C8 (Fig. 2) the damage differs between editing datasets (:mod:`.claims_data`), by the same two measures.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import claims_general, verdicts
from .claims_rows import CLAIM_COLUMNS
from .claims_rows import make_row as _row
from .claims_rows import missing_row as _missing

BOTTLENECK_MARGIN = 0.05  # a drop of immediate efficacy below 5 points does not count as a bottleneck
GROWTH_MARGIN = 0.01  # relative growth of mean|W| of at least 1% counts as growth
CORRELATION_MARGIN = 0.1


def claims_table(norms: pd.DataFrame, metrics: pd.DataFrame, downstream: pd.DataFrame,
                 dataset: str | None = None, general_perplexity: pd.DataFrame | None = None,
                 same_edits=None) -> pd.DataFrame:
    """``general_perplexity`` (:func:`seqedit.report.general_ppl.load_general_perplexity`): None when the measure
    is not configured (no perplexity rows), else its frame (rows, inconclusive where files are missing);
    ``same_edits`` (:func:`seqedit.report.same_edits.load_edit_hashes`): C8 counts identical chains once."""
    dataset = dataset or main_dataset(norms)
    rows = []
    if dataset is not None:
        per_edit = edit_series(norms, dataset)
        growth = {m: relative_growth(s) for m, s in per_edit.items()}
        for method in ("rome", "memit"):
            rows.append(c1_bottleneck(per_edit.get(method), dataset, method))
        rows.append(c1_paired(per_edit.get("memit"), per_edit.get("d4s"), dataset))
        for method in ("rome", "memit"):
            rows.append(c2_growth(per_edit.get(method), dataset, method, growth.get(method)))
        for method in ("rome", "memit"):
            rows.append(c3_correlation(per_edit.get(method), dataset, method))
        rows.append(c4_flat(growth, dataset))
        rows.append(c5_edit_metrics(metrics, dataset))
        rows += claims_general.c6_downstream(downstream, dataset)
        rows += claims_general.c6_perplexity(general_perplexity, dataset)
    rows.append(c8_datasets(downstream, same_edits))
    rows += claims_general.c8_perplexity(general_perplexity, same_edits)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def c8_datasets(downstream: pd.DataFrame, same_edits=None) -> dict:
    """C8 (Fig. 2) from :mod:`.claims_data` (C7 needs the target perplexities: the data-perspective report's
    ``claims_data.json``)."""
    from . import claims_data

    statement = "the downstream damage after N edits differs between editing datasets"
    if downstream is None or downstream.empty or downstream[~downstream["is_base"]]["dataset"].nunique() < 2:
        return _missing("C8 (lm-eval)", "all", "KN, ROME, MEMIT", statement, "fig2_downstream",
                        "downstream results of two or more datasets")
    got = claims_data.c8_from_results(downstream, same_edits=same_edits)
    return _row("C8 (lm-eval)", "all", "KN, ROME, MEMIT", statement, got["evidence"], "95% interval of a difference between "
                "two datasets' damage outside 0 (reproduced); all pairs within +-1 point (not)", got["verdict"],
                "fig2_downstream")


def main_dataset(norms: pd.DataFrame) -> str | None:
    if norms is None or norms.empty:
        return None
    datasets = set(norms["dataset"].dropna())
    if "zsre" in datasets:
        return "zsre"
    return max(sorted(datasets), key=lambda d: norms.loc[norms["dataset"] == d, "edit"].max())


def edit_series(norms: pd.DataFrame, dataset: str) -> dict[str, pd.DataFrame]:
    """Per method: one row per edit with mean|W| averaged over the edited weights and the per-edit log fields."""
    out = {}
    sub = norms[norms["dataset"] == dataset]
    for method, g in sub.groupby("method"):
        agg = g.groupby("edit").agg(mean_abs_w=("mean_abs_w", "mean"), z_prob_last=("z_prob_last", "first"),
                                    immediate_efficacy=("immediate_efficacy", "first"))
        out[str(method)] = agg.sort_index().reset_index()
    return out


def relative_growth(series: pd.DataFrame | None) -> tuple[float, float, float]:
    """``(w_last - w_first) / w_first`` with an interval from the least-squares slope over the sequence."""
    if series is None or len(series) < 3:
        return float("nan"), float("nan"), float("nan")
    w = series["mean_abs_w"].to_numpy(float)
    slope, low, high = verdicts.slope_interval(series["edit"].to_numpy(float), w)
    span = series["edit"].iloc[-1] - series["edit"].iloc[0]
    growth = (w[-1] - w[0]) / w[0]
    scale = span / w[0]
    # the observed growth, with the slope's relative uncertainty around it
    half = (high - low) / 2 * scale
    return float(growth), float(growth - half), float(growth + half)


def c1_bottleneck(series, dataset, method):
    statement = "the share of edits that succeed right after they are made drops after many edits"
    name = method.upper()
    if series is None or len(series) < 8:
        return _missing("C1", dataset, name, statement, "fig5_bottleneck", f"fewer than 8 {name} edits")
    q = max(2, len(series) // 4)
    column = "immediate_efficacy" if series["immediate_efficacy"].notna().any() else "z_prob_last"
    early, late = series[column].iloc[:q], series[column].iloc[-q:]
    drop, low, high = verdicts.mean_diff_interval(early, late)
    z_early, z_late = series["z_prob_last"].iloc[:q].mean(), series["z_prob_last"].iloc[-q:].mean()
    evidence = (f"{column} edits 1-{q}: {early.mean():.3f}, edits {len(series) - q + 1}-{len(series)}: "
                f"{late.mean():.3f}; drop {drop:+.3f} [{low:+.3f}, {high:+.3f}]; reached p(target) "
                f"{z_early:.3f} -> {z_late:.3f}")
    criterion = f"95% interval of the drop > 0 (reproduced); < {BOTTLENECK_MARGIN} (not reproduced)"
    return _row("C1", dataset, name, statement, evidence, criterion,
                verdicts.positive_verdict(low, high, BOTTLENECK_MARGIN), "fig5_bottleneck")


def c1_paired(memit, d4s, dataset):
    """C1 with the request's difficulty taken out: D4S optimises MEMIT's value (same layer, same loss) on W0, so
    per request ``p_MEMIT - p_D4S`` is the effect of the edit history alone on the reached target probability."""
    statement = "the edit history lowers the target probability a new edit reaches (paired with D4S's on W0)"
    name = "MEMIT vs D4S's W0 value"
    if memit is None or d4s is None or min(len(memit), len(d4s)) < 8:
        return _missing("C1", dataset, name, statement, "fig5_bottleneck", "MEMIT and D4S runs of 8+ edits")
    n = min(len(memit), len(d4s))
    diff = (memit["z_prob_last"].iloc[:n].to_numpy(float) - d4s["z_prob_last"].iloc[:n].to_numpy(float))
    q = max(2, n // 4)
    drop, low, high = verdicts.mean_diff_interval(diff[:q], diff[-q:])
    evidence = (f"p_MEMIT - p_D4S(W0), same requests: edits 1-{q} {diff[:q].mean():+.3f}, edits {n - q + 1}-{n} "
                f"{diff[-q:].mean():+.3f}; drop {drop:+.3f} [{low:+.3f}, {high:+.3f}]")
    criterion = f"95% interval of the drop > 0 (reproduced); < {BOTTLENECK_MARGIN} (not reproduced)"
    return _row("C1", dataset, name, statement, evidence, criterion, verdicts.positive_verdict(low, high, BOTTLENECK_MARGIN),
                "fig5_bottleneck")


def c2_growth(series, dataset, method, growth):
    statement = "mean|W| of the edited layers grows with the number of edits"
    name = method.upper()
    if series is None or growth is None or math.isnan(growth[0]):
        return _missing("C2", dataset, name, statement, "fig5_norms_per_layer", f"no {name} norms")
    g, low, high = growth
    w = series["mean_abs_w"]
    evidence = (f"mean|W| {w.iloc[0]:.5f} (edit 1) -> {w.iloc[-1]:.5f} (edit {int(series['edit'].iloc[-1])}): "
                f"{100 * g:+.2f}% [{100 * low:+.2f}, {100 * high:+.2f}]")
    criterion = f"interval of the relative growth above {100 * GROWTH_MARGIN:.0f}% (reproduced) / below (not)"
    verdict = verdicts.positive_verdict(low - GROWTH_MARGIN, high - GROWTH_MARGIN, 0.0)
    return _row("C2", dataset, name, statement, evidence, criterion, verdict, "fig5_norms_per_layer")


def c3_correlation(series, dataset, method):
    statement = "the decline of C1 coincides with the growth of C2 (negative correlation)"
    name = method.upper()
    if series is None or len(series) < 8:
        return _missing("C3", dataset, name, statement, "fig5_bottleneck", f"fewer than 8 {name} edits")
    r, low, high = verdicts.correlation_interval(series["mean_abs_w"], series["z_prob_last"])
    evidence = f"Spearman r(mean|W|, reached p(target)) = {r:+.3f} [{low:+.3f}, {high:+.3f}] over {len(series)} edits"
    criterion = f"interval of r below 0 (reproduced); above -{CORRELATION_MARGIN} (not reproduced)"
    return _row("C3", dataset, name, statement, evidence, criterion,
                verdicts.positive_verdict(-high, -low, CORRELATION_MARGIN), "fig5_bottleneck")


def c4_flat(growth: dict, dataset):
    statement = "D4S keeps mean|W| of its edited layers nearly flat over the same sequence"
    figure = "fig6_norms_methods"
    need = ("d4s", "rome", "memit")
    if any(m not in growth or math.isnan(growth[m][0]) for m in need):
        return _missing("C4", dataset, "D4S vs ROME, MEMIT", statement, figure, "norms of D4S, ROME and MEMIT")
    g_d4s, g_ref = growth["d4s"][0], min(growth["rome"][0], growth["memit"][0])
    evidence = (f"relative growth D4S {100 * g_d4s:+.2f}%, ROME {100 * growth['rome'][0]:+.2f}%, MEMIT "
                f"{100 * growth['memit'][0]:+.2f}%")
    criterion = "D4S at most half the smaller of ROME's and MEMIT's (reproduced); at least equal (not reproduced)"
    if g_ref <= 0:
        verdict = verdicts.INCONCLUSIVE
    elif g_d4s <= 0.5 * g_ref:
        verdict = verdicts.REPRODUCED
    elif g_d4s >= g_ref:
        verdict = verdicts.NOT_REPRODUCED
    else:
        verdict = verdicts.INCONCLUSIVE
    return _row("C4", dataset, "D4S vs ROME, MEMIT", statement, evidence, criterion, verdict, figure)


def per_request(metrics: pd.DataFrame, dataset: str, method: str, n_edits: int) -> dict[str, float]:
    """Per-request mean of Eff/Par/Spe (sequential protocol) at one checkpoint, keyed by request id."""
    rows = metrics[(metrics["dataset"] == dataset) & (metrics["method"] == method) & (metrics["n_edits"] == n_edits)]
    if rows.empty:
        return {}
    obj = json.loads(Path(rows["path"].iloc[-1]).read_text(encoding="utf-8"))
    out = {}
    for rec in obj.get("per_request", []):
        values = [rec[k] for k in ("efficacy", "paraphrase", "specificity") if rec.get(k) is not None]
        if values:
            out[str(rec["id"])] = sum(values) / len(values)
    return out


def c5_edit_metrics(metrics: pd.DataFrame, dataset):
    statement = "at the largest edit count D4S's Eff/Par/Spe are above ROME's, MEMIT's and PMET's"
    figure = "table2_zsre, fig8_edit_metrics"
    others = ("rome", "memit", "pmet")
    if metrics is None or metrics.empty:
        return _missing("C5", dataset, "D4S vs ROME, MEMIT, PMET", statement, figure, "edit metrics")
    sub = metrics[metrics["dataset"] == dataset]
    present = [m for m in others if m in set(sub["method"])]
    if "d4s" not in set(sub["method"]) or not present:
        return _missing("C5", dataset, "D4S vs ROME, MEMIT, PMET", statement, figure, "D4S and a baseline")
    n = int(sub[sub["method"].isin(["d4s", *present])].groupby("method")["n_edits"].max().min())
    d4s = per_request(metrics, dataset, "d4s", n)
    parts, outcomes = [], []
    for method in present:
        other = per_request(metrics, dataset, method, n)
        ids = [i for i in d4s if i in other]
        mean, low, high = verdicts.paired_bootstrap([d4s[i] - other[i] for i in ids])
        outcomes.append(verdicts.positive_verdict(low, high, 0.0))
        parts.append(f"vs {method.upper()} {100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]")
    if len(present) < len(others):
        outcomes.append(verdicts.INCONCLUSIVE)
        parts.append("missing: " + ", ".join(m.upper() for m in others if m not in present))
    evidence = f"after {n} edits, D4S minus each baseline, mean of Eff/Par/Spe per request (points): " + "; ".join(parts)
    criterion = "paired bootstrap 95% interval over requests above 0 for every baseline (reproduced); below 0 for any (not)"
    return _row("C5", dataset, "D4S vs " + ", ".join(m.upper() for m in present), statement, evidence, criterion,
                verdicts.combine(outcomes), figure)


def claims_markdown(df: pd.DataFrame, prov: dict | None, title: str) -> str:
    from .render import md_footer, md_table

    headers = ["Claim", "Methods", "Statement", "Evidence (this run)", "Criterion", "Verdict", "Shown in"]
    rows = [[r.claim, r.methods, r.statement, r.evidence, r.criterion, f"**{r.verdict}**", r.figure]
            for r in df.itertuples()]
    dataset = df["dataset"].iloc[0] if not df.empty else "-"
    lines = [f"### {title}", "", f"Dataset: {dataset}. Intervals are 95%. Verdicts are computed from this run's "
             "result files (seqedit.report.claims); 'inconclusive' means the run cannot tell at its size.", ""]
    lines.append(md_table(headers, rows) if rows else "_no data_")
    if prov is not None:
        lines += ["", md_footer(prov)]
    return "\n".join(lines) + "\n"


def claims_latex(df: pd.DataFrame, prov: dict | None, title: str) -> str:
    from .render import latex_document, latex_table

    headers = ["Claim", "Methods", "Evidence", "Verdict"]
    rows = [[r.claim, r.methods, r.evidence, r.verdict] for r in df.itertuples()]
    blocks = [latex_table(headers, rows, "llp{9cm}l", caption=title, label="tab:claims")] if rows else []
    return latex_document(title, blocks, prov, marks=False)
