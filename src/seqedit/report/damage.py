"""Downstream damage of editing: the base model's downstream average minus the edited model's, with a standard error.

Input: the DataFrame of :func:`seqedit.report.load.load_downstream` (one row per file and task; ``value`` and
``stderr`` as fractions, the base model with ``is_base`` True). For one (dataset, method, n_edits) checkpoint over
the tasks T that both it and the base model have::

    damage = mean_t(base_t) - mean_t(edited_t)
    se     = sqrt(sum_t(se_base_t^2 + se_edited_t^2)) / |T|

The standard error treats tasks, and the base and edited scores, as independent. Both models answer the same
items, so their errors are positively correlated and this ``se`` overstates the uncertainty of the difference
(conservative). A missing task stderr makes ``se`` NaN (unknown), never zero.

:func:`perplexity_damage_table` gives the second measure in the same shape: the held-out perplexity's rise (issue 9).
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

COLUMNS = ["model", "dataset", "method", "n_edits", "damage", "se", "base_average", "edited_average", "n_tasks"]


def _task_scores(rows: pd.DataFrame) -> dict[str, tuple[float, float]]:
    return {t: (float(v), float(s) if s is not None else math.nan)
            for t, v, s in zip(rows["task"], rows["value"], rows["stderr"]) if not pd.isna(v)}


def damage_table(ds: pd.DataFrame, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per edited checkpoint of ``ds`` (see :data:`COLUMNS`); ``tasks`` restricts the tasks averaged."""
    if ds is None or ds.empty:
        return pd.DataFrame(columns=COLUMNS)
    if tasks is not None:
        ds = ds[ds["task"].isin(list(tasks))]
    rows = []
    for model, by_model in ds.groupby("model", dropna=False):
        base = _task_scores(by_model[by_model["is_base"]])
        edited = by_model[~by_model["is_base"]]
        for (dataset, method, n), g in edited.groupby(["dataset", "method", "n_edits"]):
            scores = _task_scores(g)
            common = sorted(set(scores) & set(base))
            if not common:
                continue
            k = len(common)
            b = sum(base[t][0] for t in common) / k
            e = sum(scores[t][0] for t in common) / k
            se = math.sqrt(sum(base[t][1] ** 2 + scores[t][1] ** 2 for t in common)) / k
            rows.append({"model": model, "dataset": dataset, "method": method, "n_edits": int(n), "damage": b - e,
                         "se": se, "base_average": b, "edited_average": e, "n_tasks": k})
    return pd.DataFrame(rows, columns=COLUMNS)


def damage_at(table: pd.DataFrame, method: str, datasets: Sequence[str],
              n_edits: int | None = None) -> tuple[int | None, dict[str, tuple[float, float]]]:
    """``(n, {dataset: (damage, se)})`` of one method at ``n_edits`` edits. By default: the number of edits that
    the most of ``datasets`` with data for this method share (at least two when two have data; the largest such
    number on a tie), so one dataset with other checkpoints (zsRE every 25 edits, the MQD forms at 10 and 20) does
    not leave the others without a comparison; datasets without that checkpoint are left out."""
    g = table[(table["method"] == method) & (table["dataset"].isin(list(datasets)))]
    if g.empty:
        return None, {}
    if n_edits is None:
        counts = g.groupby("n_edits")["dataset"].nunique()
        wanted = min(2, g["dataset"].nunique())
        shared = counts[counts >= wanted]
        if shared.empty:
            return None, {}
        n_edits = max(shared.index[shared == shared.max()])
    at = g[g["n_edits"] == n_edits]
    return int(n_edits), {d: (float(dm), float(se)) for d, dm, se in zip(at["dataset"], at["damage"], at["se"])}


def perplexity_damage_table(general_perplexity: pd.DataFrame) -> pd.DataFrame:
    """The held-out perplexity's rise as a damage, one row per checkpoint (:data:`COLUMNS`): ``damage`` = mean over
    the blocks of ``nll_edited - nll_base`` (= log(ppl_edited / ppl_base)), ``se`` its paired standard error over
    the blocks, the averages the two mean NLLs and ``n_tasks`` the number of blocks
    (:func:`seqedit.report.general_ppl.change_table`). Checkpoints not paired with a base file are left out."""
    from .general_ppl import change_table

    table = change_table(general_perplexity)
    table = table[table["method"].notna() & table["delta_nll"].notna()]
    rows = [{"model": r.model, "dataset": r.dataset, "method": r.method, "n_edits": int(r.n_edits),
             "damage": float(r.delta_nll), "se": float(r.delta_nll_se), "base_average": math.log(r.base_perplexity),
             "edited_average": math.log(r.perplexity), "n_tasks": int(r.n_blocks)} for r in table.itertuples()]
    return pd.DataFrame(rows, columns=COLUMNS)
