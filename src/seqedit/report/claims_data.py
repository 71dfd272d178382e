"""Verdicts of the paper's data-perspective claims, as pure functions over loaded numbers.

- C7 (Fig. 3): after N edits the downstream damage is ordered like the target perplexity of the question form
  (the paper: T/F < MC < DG in both).
- C8 (Fig. 2): the downstream damage after N edits differs between editing datasets.

Damage is the base model's downstream average minus the edited model's (:mod:`seqedit.report.damage`), a
fraction (shown in points, x100). Two damages are compared by their difference ``b - a`` and its 95% interval
``+- z * sqrt(se_a^2 + se_b^2)`` (z = 1.96): "greater" when the interval is above 0, "less" when below, "equivalent"
when it lies inside ``+- margin`` (default 1 point), else "uncertain" (also when a standard error is unknown).

Per method, C7 orders the forms by measured target perplexity and compares consecutive forms: a significant
reversal ("less") is *not reproduced*; else any "uncertain" pair is *inconclusive*; all "greater" is *reproduced*;
the rest (some pair equivalent) *not reproduced*. C8 compares every pair of datasets: a significant difference is
*reproduced*; all pairs equivalent *not reproduced*; else *inconclusive*. Over methods, the verdict is the common
one; when the methods disagree it is *inconclusive* (the evidence lists each method's verdict).

Two measures of damage, each with its own rows (``measure``): ``lm-eval`` as above, and ``perplexity`` (issue 9):
the held-out perplexity's rise, ``mean_b(nll_edited_b - nll_base_b)`` = log(ppl_edited / ppl_base) with its paired
standard error over the blocks (:func:`seqedit.report.damage.perplexity_damage_table`); 100 x that is about the
perplexity's rise in percent, and the same 1-point margin means about 1% of perplexity.

C8 counts datasets whose checkpoints are the same weights once (:mod:`.same_edits`: ``mqd_dg`` is CounterFact's
request, so the two chains are identical).

Each function returns ``{"claim", "measure", "evidence", "verdict"}`` (the shape of :mod:`seqedit.report.claims`).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from .same_edits import EditHashes, merge_identical

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
Z95 = 1.959963984540054
DEFAULT_MARGIN = 0.01  # one point of downstream average

C7_CLAIM = ("C7 (lm-eval; Fig. 3): the downstream damage after N edits is ordered like the target perplexity of the "
            "question form (T/F < MC < DG)")
C8_CLAIM = "C8 (lm-eval; Fig. 2): the downstream damage after N edits differs between editing datasets"
MEASURES = {  # measure: (C7 statement, C8 statement, unit of the damage in the evidence)
    "lm-eval": (C7_CLAIM, C8_CLAIM, "points"),
    "perplexity": ("C7 (perplexity; Fig. 3): the held-out perplexity's rise after N edits is ordered like the target "
                   "perplexity of the question form (T/F < MC < DG)",
                   "C8 (perplexity; Fig. 2): the held-out perplexity's rise after N edits differs between editing "
                   "datasets", "100 x log ppl ratio ~ % ppl rise"),
}
PAPER_FORM_ORDER = ("mqd_tf", "mqd_mc", "mqd_dg")
FORM_LABELS = {"mqd_tf": "T/F", "mqd_mc": "MC", "mqd_dg": "DG"}

Estimate = tuple[float, float]  # (damage, standard error)
MethodDamage = tuple[int | None, Mapping[str, Estimate]]  # (number of edits, {dataset: estimate})


def label(dataset: str) -> str:
    return FORM_LABELS.get(dataset, dataset)


def compare(a: Estimate, b: Estimate, z: float = Z95, margin: float = DEFAULT_MARGIN) -> tuple[str, float, float]:
    """``(relation, low, high)`` of ``b - a``: relation "greater" / "less" / "equivalent" / "uncertain"."""
    diff = b[0] - a[0]
    se = math.sqrt(a[1] ** 2 + b[1] ** 2) if not (math.isnan(a[1]) or math.isnan(b[1])) else math.nan
    if math.isnan(se) or math.isnan(diff):
        return "uncertain", math.nan, math.nan
    low, high = diff - z * se, diff + z * se
    if low > 0:
        return "greater", low, high
    if high < 0:
        return "less", low, high
    if -margin <= low and high <= margin:
        return "equivalent", low, high
    return "uncertain", low, high


def _pts(x: float) -> str:
    return "nan" if math.isnan(x) else f"{100 * x:.2f}"


def _estimates(damage: Mapping[str, Estimate], order: Sequence[str], unit: str = "points") -> str:
    values = ", ".join(f"{label(d)} {_pts(damage[d][0])} +- {_pts(Z95 * damage[d][1])}" for d in order)
    return f"damage ({unit}, +-95%): {values}"


def _pair_text(a: str, b: str, rel: str, low: float, high: float, damage: Mapping[str, Estimate]) -> str:
    diff = damage[b][0] - damage[a][0]
    return f"{label(b)} - {label(a)} = {_pts(diff)} [{_pts(low)}, {_pts(high)}] ({rel})"


def _combine(per_method: dict[str, str]) -> str:
    verdicts = set(per_method.values())
    if not verdicts:
        return INCONCLUSIVE
    return verdicts.pop() if len(verdicts) == 1 else INCONCLUSIVE


def _result(claim: str, lines: list[str], per_method: dict[str, str], extra: str = "",
            measure: str = "lm-eval") -> dict:
    verdict = _combine(per_method)
    if not per_method:
        lines.append("no method has the needed results")
    elif len(set(per_method.values())) > 1:
        lines.append("methods disagree: " + ", ".join(f"{m} {v}" for m, v in per_method.items()))
    evidence = " ".join(s for s in [extra, *lines] if s)
    return {"claim": claim, "measure": measure, "evidence": evidence, "verdict": verdict}


def c7_method(damage: Mapping[str, Estimate], ppl: Mapping[str, float], margin: float = DEFAULT_MARGIN,
              z: float = Z95, unit: str = "points") -> tuple[str, str]:
    """``(verdict, text)`` of C7 for one method: ``damage`` and ``ppl`` keyed by question-form dataset."""
    order = sorted((d for d in damage if d in ppl and not math.isnan(ppl[d])), key=lambda d: ppl[d])
    if len(order) < 2:
        return INCONCLUSIVE, f"fewer than two question forms with both damage and perplexity ({', '.join(order)})"
    pairs = [(a, b, *compare(damage[a], damage[b], z, margin)) for a, b in zip(order, order[1:])]
    relations = [p[2] for p in pairs]
    if "less" in relations:
        verdict = NOT_REPRODUCED
    elif "uncertain" in relations:
        verdict = INCONCLUSIVE
    elif all(r == "greater" for r in relations):
        verdict = REPRODUCED
    else:
        verdict = NOT_REPRODUCED
    text = (f"{_estimates(damage, order, unit)}; "
            + "; ".join(_pair_text(a, b, rel, lo, hi, damage) for a, b, rel, lo, hi in pairs))
    if len(order) < len(PAPER_FORM_ORDER):
        text += f"; only {len(order)} of the {len(PAPER_FORM_ORDER)} forms"
    return verdict, text


def verdict_c7(damage_by_method: Mapping[str, MethodDamage], ppl: Mapping[str, float],
               margin: float = DEFAULT_MARGIN, z: float = Z95, measure: str = "lm-eval") -> dict:
    """C7 over methods: ``damage_by_method[method] = (n_edits, {form dataset: (damage, se)})``, ``ppl[form
    dataset]`` the mean target perplexity under the unedited model."""
    known = [d for d in PAPER_FORM_ORDER if d in ppl] + sorted(d for d in ppl if d not in PAPER_FORM_ORDER)
    order = sorted(known, key=lambda d: ppl[d])
    ppl_text = " < ".join(f"{label(d)} {ppl[d]:.1f}" for d in order)
    if ppl_text:
        same = [d for d in order if d in PAPER_FORM_ORDER] == [d for d in PAPER_FORM_ORDER if d in order]
        ppl_text = (f"Target perplexity (mean, unedited model): {ppl_text}"
                    f" ({'the paper' if same else 'not the paper'}'s order T/F < MC < DG).")
    else:
        ppl_text = "No target perplexity available."
    per_method, lines = {}, []
    for method, (n, damage) in damage_by_method.items():
        if not damage:
            continue
        verdict, text = c7_method(damage, ppl, margin, z, MEASURES[measure][2])
        per_method[method] = verdict
        lines.append(f"{method} at {n} edits: {text} -> {verdict}.")
    return _result(MEASURES[measure][0], lines, per_method, ppl_text, measure)


def c8_method(damage: Mapping[str, Estimate], margin: float = DEFAULT_MARGIN, z: float = Z95,
              unit: str = "points") -> tuple[str, str]:
    """``(verdict, text)`` of C8 for one method: ``damage`` keyed by editing dataset."""
    names = sorted(damage, key=lambda d: damage[d][0])
    if len(names) < 2:
        return INCONCLUSIVE, f"fewer than two datasets with results ({', '.join(names)})"
    pairs = [(a, b, *compare(damage[a], damage[b], z, margin)) for i, a in enumerate(names) for b in names[i + 1:]]
    relations = [p[2] for p in pairs]
    if any(r in ("greater", "less") for r in relations):
        verdict = REPRODUCED
    elif all(r == "equivalent" for r in relations):
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    differ = [p for p in pairs if p[2] in ("greater", "less")]
    shown = differ or [max(pairs, key=lambda p: abs(damage[p[1]][0] - damage[p[0]][0]))]
    text = (f"{_estimates(damage, names, unit)}; "
            f"{len(differ)} of {len(pairs)} pairs differ significantly"
            + ("" if differ else " (largest difference shown)") + ": "
            + "; ".join(_pair_text(a, b, rel, lo, hi, damage) for a, b, rel, lo, hi in shown))
    return verdict, text


def verdict_c8(damage_by_method: Mapping[str, MethodDamage], margin: float = DEFAULT_MARGIN, z: float = Z95,
               measure: str = "lm-eval", same_edits: EditHashes | None = None) -> dict:
    """C8 over methods: ``damage_by_method[method] = (n_edits, {dataset: (damage, se)})``; datasets whose
    checkpoints are identical (``same_edits``, :func:`.same_edits.load_edit_hashes`) count once."""
    per_method, lines = {}, []
    for method, (n, damage) in damage_by_method.items():
        if not damage:
            continue
        damage, notes = merge_identical(damage, method, n, same_edits)
        verdict, text = c8_method(damage, margin, z, MEASURES[measure][2])
        per_method[method] = verdict
        lines.append(f"{method} at {n} edits: " + "".join(f"{note}; " for note in notes) + f"{text} -> {verdict}.")
    return _result(MEASURES[measure][1], lines, per_method, measure=measure)


# ----------------------------------------------------------------------------------------------------------------
# from the loaded result files


def c7_from_results(downstream, perplexity: Mapping[str, float], methods: Sequence[str] = ("rome", "memit", "d4s"),
                    forms: Sequence[str] = PAPER_FORM_ORDER, n_edits: int | None = None, tasks=None,
                    margin: float = DEFAULT_MARGIN) -> dict:
    """C7 from :func:`seqedit.report.load.load_downstream`'s DataFrame and ``{form dataset: mean perplexity}``
    (:func:`seqedit.report.perplexity.mean_perplexities`); N = the last checkpoint all forms share, per method."""
    from .damage import damage_at, damage_table

    table = damage_table(downstream, tasks)
    by_method = {m: damage_at(table, m, forms, n_edits) for m in methods}
    return verdict_c7(by_method, {d: p for d, p in perplexity.items() if d in forms}, margin)


def c8_from_results(downstream, methods: Sequence[str] = ("kn", "rome", "memit"),
                    datasets: Sequence[str] | None = None, n_edits: int | None = None, tasks=None,
                    margin: float = DEFAULT_MARGIN, same_edits: EditHashes | None = None) -> dict:
    """C8 from :func:`seqedit.report.load.load_downstream`'s DataFrame; every edited dataset unless given."""
    from .damage import damage_at, damage_table

    table = damage_table(downstream, tasks)
    names = list(datasets) if datasets is not None else sorted(table["dataset"].dropna().unique())
    return verdict_c8({m: damage_at(table, m, names, n_edits) for m in methods}, margin, same_edits=same_edits)


def c7_from_perplexity(general_perplexity, perplexity: Mapping[str, float],
                       methods: Sequence[str] = ("rome", "memit", "d4s"), forms: Sequence[str] = PAPER_FORM_ORDER,
                       n_edits: int | None = None, margin: float = DEFAULT_MARGIN) -> dict:
    """C7 with the held-out perplexity's rise as the damage, from
    :func:`seqedit.report.general_ppl.load_general_perplexity`'s frame."""
    from .damage import damage_at, perplexity_damage_table

    table = perplexity_damage_table(general_perplexity)
    by_method = {m: damage_at(table, m, forms, n_edits) for m in methods}
    return verdict_c7(by_method, {d: p for d, p in perplexity.items() if d in forms}, margin, measure="perplexity")


def c8_from_perplexity(general_perplexity, methods: Sequence[str] = ("kn", "rome", "memit"),
                       datasets: Sequence[str] | None = None, n_edits: int | None = None,
                       margin: float = DEFAULT_MARGIN, same_edits: EditHashes | None = None) -> dict:
    """C8 with the held-out perplexity's rise as the damage; every edited dataset unless given."""
    from .damage import damage_at, perplexity_damage_table

    table = perplexity_damage_table(general_perplexity)
    names = list(datasets) if datasets is not None else sorted(table["dataset"].dropna().unique())
    return verdict_c8({m: damage_at(table, m, names, n_edits) for m in methods}, margin, measure="perplexity",
                      same_edits=same_edits)
