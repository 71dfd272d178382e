"""Table 3: CounterFact (token accuracy Eff / Par / Spe / Avg with their 95% interval, ROME's probability metrics
ES / PS / NS / S, fluency) and MQuAKE (multi-hop and single-hop accuracy) per method, at the last checkpoint of each
run; best / second within each number of edits (Eff / Par / Spe / Avg only where the intervals allow). The first row
is the unedited model (0 edits), the reference line, never marked nor ranked."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from . import intervals as _iv
from .failed_marks import status_cells, status_of, table_notes
from .names import BASE_METHOD, DECIMALS, method_display, order_methods, order_plain, order_protocols, protocol_text, sort_rows
from .render import fmt, fmt_count, latex_document, latex_label, latex_table, marked_column, md_footer, md_table
from .table2 import base_apart, interval_cells, of_datasets, request_bounds, with_base
from .table3_notes import T3_MQ_EDITS_HEADER, T3_MQ_LEGEND, prompt_note, protocol_notes, section_title, variant_of

T3_DATASETS = ("counterfact", "mquake")
# (CSV column, metrics column, scale): percent for fractions, raw for fluency and counts
T3_FIELDS = [
    ("Eff", "efficacy", 100),
    ("Par", "paraphrase", 100),
    ("Spe", "specificity", 100),
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
    ("MultiHopPreEdit", "mq_multi_hop_accuracy_pre_edit", 100),
    ("SingleHop", "mq_single_hop_accuracy", 100),
    ("n_cases", "mq_n_cases", 1),
    ("n_questions", "mq_n_questions", 1),
    ("n_hops", "mq_n_hops", 1),
]
_VALUES = [c for c, _, _ in T3_FIELDS]
T3_COLUMNS = (["model", "dataset", "method", "n_edits", "protocol"] + _VALUES[:3] + ["Avg"] + _VALUES[3:]
              + ["match_rule", "prompt", "variant", *_iv.interval_columns()])
T3_CF_SHOWN = [("Eff", "Eff"), ("Par", "Par"), ("Spe", "Spe"), ("Avg", "Avg"), ("ES", "ES"), ("PS", "PS"),
               ("NS", "NS"), ("S", "S"), ("Fluency", "Flu.")]
T3_MQ_SHOWN = [("MultiHop", "Multi-hop (% cases)"), ("MultiHopPreEdit", "Pre-edit (% cases)"),
               ("SingleHop", "Single-hop (% rewrites)"), ("n_cases", "Cases"), ("n_hops", "Rewrites"),
               ("n_questions", "Questions")]
T3_COUNTS = {"n_cases", "n_questions", "n_hops", "n_generation_prompts"}  # shown as integers, never ranked
T3_INTERVALS = {"Eff", "Par", "Spe", "Avg"}  # shown with their interval, marked only where it allows
T3_CF_LEGEND = (
    "Eff / Par / Spe = teacher-forced token accuracy (%) on the rewrite prompts, their paraphrases and the "
    "neighbourhood prompts (Spe: agreement with the unedited model), Avg = their mean; ROME's probability "
    "metrics (%): ES = efficacy success (P(new) > P(true) on the rewrite prompt), PS = paraphrase success, NS = "
    "neighbourhood success (P(true) > P(new) on neighbourhood prompts), S = harmonic mean of ES, PS and NS; "
    "Flu. = generation fluency, the weighted bi/tri-gram entropy of generated text (ROME's tables show it x100)."
)
T3_INTERVAL_NOTE = ("[a, b] = 95% interval (bootstrap over the requests; sequential protocol); Eff / Par / Spe / Avg "
                    "are marked only where the intervals separate them from the values below.")
T3_BASE_NOTE = "Edits 0 = the unedited model on the requests of the longest chain: the reference, never marked."


def table3(metrics: pd.DataFrame, methods: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None, base: pd.DataFrame | None = None,
           variants: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (model, dataset in {counterfact, mquake}, method) at the run's last checkpoint: the top-level
    token accuracies (their protocol in ``protocol``) and Avg (their mean; NaN if one is), their 95% intervals
    (``*_lo``/``*_hi``, where the numbers are of the sequential protocol and the file keeps ``per_request``), the
    ``counterfact`` block (ES/EM/PS/PM/NS/NM/S in %, fluency raw) and the ``mquake`` block (multi-hop / single-hop
    accuracy in %, counts). Absent blocks give NaN. ``base``: the unedited model's metrics (loaded ``base.json``),
    its row first (n_edits 0, method :data:`.names.BASE_METHOD`; not filtered by ``methods``). ``variants``: config
    entry -> registry variant (``seqedit report --variants``), named in ``variant``; ``prompt`` = MQuAKE's prompt."""
    wanted = [d for d in T3_DATASETS if not datasets or d in datasets]
    df = of_datasets(metrics, None, wanted)
    if df is not None and methods:
        df = df[df["method"].str.lower().isin([m.lower() for m in methods])]
    df = with_base(df, of_datasets(base, None, wanted))
    if df is None or df.empty or not wanted:
        return pd.DataFrame(columns=T3_COLUMNS)
    last = df.loc[df.groupby(["model", "dataset", "method"])["n_edits"].idxmax()]
    out = last[["model", "dataset", "method", "n_edits", "protocol"]].copy()
    for col, src, scale in T3_FIELDS:
        out[col] = scale * pd.to_numeric(last[src], errors="coerce")
    out["Avg"] = out[["Eff", "Par", "Spe"]].mean(axis=1, skipna=False)
    out[_VALUES + ["Avg"]] = out[_VALUES + ["Avg"]].round(DECIMALS)
    out["match_rule"] = last["mq_match_rule"].where(last["mq_match_rule"].map(lambda r: isinstance(r, str)), None)
    out["prompt"] = last["mq_prompt"].where(last["mq_prompt"].map(lambda r: isinstance(r, str)), None)
    out["variant"] = out["dataset"].map(lambda d: variant_of(variants, d))
    out = pd.concat([out, request_bounds(last["path"], last["protocol"])], axis=1)
    edited_methods = order_methods(out["method"][out["method"] != BASE_METHOD], methods)
    return sort_rows(out, ["model", "dataset", "method"], dataset=order_plain(list(T3_DATASETS) + list(out["dataset"])),
                     method=[BASE_METHOD] + edited_methods)[T3_COLUMNS]


def _t3_rows(g: pd.DataFrame, shown: Sequence[tuple[str, str]]):
    """Rows [Method, Edits, values...] with marks within each number of edits (the runs normally share it)."""
    rows, breaks = [], []
    for n_edits, gg in g.groupby("n_edits", sort=False):
        breaks.append(len(rows))
        cells = {c: ([fmt_count(v) for v in gg[c]] if c in T3_COUNTS else interval_cells(gg, c) if c in T3_INTERVALS
                     else base_apart(gg, lambda x, c=c: marked_column(x[c].tolist()),
                                     lambda x, c=c: [(fmt(v), "") for v in x[c]])) for c, _ in shown}
        for i, method in enumerate(gg["method"]):  # a failed run's cells say so (status_cells)
            rows.append(status_cells([method_display(method), str(int(n_edits))] + [cells[c][i] for c, _ in shown],
                                     status_of(gg, i), 2))
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
            notes = [legend] + table_notes(g)
            protos = order_protocols(g["protocol"].dropna()) if not g.empty else []
            notes += protocol_notes(dataset, protos)
            if (g["method"] == BASE_METHOD).any():
                notes.append(T3_BASE_NOTE)
            if any(c in T3_INTERVALS and g[f"{c}_lo"].notna().any() for c, _ in show):
                notes.append(T3_INTERVAL_NOTE)
            if dataset == "counterfact" and protos:
                notes.append("Eff / Par / Spe from the " + "; ".join(protocol_text(p) for p in protos) + ".")
            if dataset == "counterfact" and not g.empty and g["Fluency_base"].notna().any():
                notes.append(f"Fluency of the unedited model: {fmt(g['Fluency_base'].dropna().iloc[0])}.")
            if dataset == "mquake" and not g.empty and g["match_rule"].notna().any():
                notes.append(f"Answer matching: {g['match_rule'].dropna().iloc[0]}.")
            if dataset == "mquake" and not g.empty:
                notes += prompt_note(g["prompt"])
            variant = g["variant"].dropna().iloc[0] if not g.empty and g["variant"].notna().any() else None
            edits = T3_MQ_EDITS_HEADER if dataset == "mquake" else "Edits"
            yield (model, dataset, section_title(name, variant), ["Method", edits] + [h for _, h in show], rows,
                   breaks, notes)


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
