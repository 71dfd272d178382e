"""How the report shows the failed runs of :mod:`.failures`: status rows in Tables 2-4 (every value cell reads
"failed" or "missing", never a number, never marked), a legend entry in the figures that leave them out, and
"no data (failed run)" in the claims that need them."""
from __future__ import annotations

import re
import textwrap
from typing import Iterable, Sequence

import pandas as pd

from . import verdicts
from .failures import FAILED_COLUMNS, failed_runs, status, without_runs
from .names import METHOD_DISPLAY, method_display

STATUS = "status"
TABLE_NOTE = ("failed = the run's result is non-finite, unreadable or made from non-finite weights; missing = its "
              "file was not produced (e.g. an edit chain that stopped). Neither is ranked.")
# the result files each figure reads (a run failed in any of them is left out of the figure)
FIGURE_KINDS = {
    "fig2_downstream": ("downstream",),
    "fig5_bottleneck": ("norms",),
    "fig5_norms_per_layer": ("norms",),
    "fig6_norms_methods": ("norms", "downstream"),
    "fig8_edit_metrics": ("metrics",),
}
# the result files each claim reads, by the label's first word ("C6 (lm-eval)" -> C6 ...)
CLAIM_KINDS = {"C1": ("norms",), "C2": ("norms",), "C3": ("norms",), "C4": ("norms",), "C5": ("metrics",),
               "C6": ("downstream",), "C8": ("downstream",)}
CLAIM_NEEDS = {"C5": ("d4s", "rome", "memit", "pmet")}  # C5 names only the baselines it found


def _failures(failed: pd.DataFrame | None, kind: str) -> pd.DataFrame:
    if failed is None or failed.empty:
        return pd.DataFrame(columns=list(failed.columns) if failed is not None else [])
    return failed[(failed["kind"] == kind) & failed["n_edits"].notna()]


def with_status_rows(table: pd.DataFrame, failed: pd.DataFrame | None, kind: str, *, datasets=None,
                     steps: Sequence[int] | None = None, methods: Sequence[str] | None = None,
                     last_only: bool = False, per: str | None = None,
                     order: Sequence[str] = ("model", "dataset", "n_edits", "method")) -> pd.DataFrame:
    """``table`` with a ``status`` column ("" for its own rows) and one row per failed checkpoint of ``kind``
    (its values NaN, ``status`` "failed" / "missing") among ``datasets`` / ``steps`` / ``methods``.
    ``last_only`` (Tables 3 and 4: the last checkpoint of each run): only a failure at or after the run's last
    listed checkpoint counts, and it replaces the run's rows. ``per``: a column whose values each get the row (Table
    2's protocol blocks). The rows are then in the table's ``order`` (:func:`ordered`)."""
    table = table.assign(**{STATUS: ""})
    bad = _failures(failed, kind)
    if datasets is not None:
        bad = bad[bad["dataset"].isin(list(datasets))]
    if steps:
        bad = bad[bad["n_edits"].isin(list(steps))]
    if methods:
        bad = bad[bad["method"].str.lower().isin([m.lower() for m in methods])]
    rows = []
    for (model, dataset, method), g in bad.groupby(["model", "dataset", "method"], sort=False):
        run = (table["model"] == model) & (table["dataset"] == dataset) & (table["method"] == method)
        failures = g.sort_values("n_edits")
        if last_only:
            done = table.loc[run, "n_edits"].max() if run.any() else float("-inf")
            failures = failures[failures["n_edits"] >= done].tail(1)
            if failures.empty:
                continue
            table = table[~run]
        # Table 2: the run's own protocol blocks (from its other checkpoints), else every block of the dataset
        own = list(dict.fromkeys(table.loc[run, per])) if per and not last_only else []
        every = list(dict.fromkeys(table.loc[(table["model"] == model) & (table["dataset"] == dataset), per])) \
            if per else [None]
        for r in failures.itertuples(index=False):
            blocks = own or every or ["sequential"]
            for block in blocks:
                rows.append({"model": model, "dataset": dataset, "method": method, "n_edits": int(r.n_edits),
                             **({per: block} if per else {}), STATUS: status(r.problem)})
    if not rows:
        return table.reset_index(drop=True)
    extra = pd.DataFrame(rows).reindex(columns=table.columns)
    both = pd.concat([table, extra], ignore_index=True) if not table.empty else extra
    return ordered(both, order, methods)


def ordered(table: pd.DataFrame, keys: Sequence[str], methods=None) -> pd.DataFrame:
    """``table`` (stably) sorted by ``keys``: n_edits by number, method by the report's order (the unedited model
    and the base rows first), any other key by first appearance (the table's own order)."""
    from .names import BASE_METHOD, order_methods

    found = [m for m in table["method"] if isinstance(m, str) and m != BASE_METHOD]
    rank = {m: i for i, m in enumerate(order_methods(found, methods))}
    cols = {}
    for k in keys:
        if k == "n_edits":
            cols[k] = table[k].astype(float)
        elif k == "method":
            cols[k] = table[k].map(lambda m: rank.get(m, -1) if isinstance(m, str) and m != BASE_METHOD else -1)
        else:
            first = {v: i for i, v in enumerate(dict.fromkeys(table[k].astype(str)))}
            cols[k] = table[k].astype(str).map(first)
    order = pd.DataFrame(cols).sort_values(list(keys), kind="stable").index
    return table.loc[order].reset_index(drop=True)


def status_of(g: pd.DataFrame, i: int) -> str:
    """The status of the ``i``-th row of a group ("" when the table has no status column)."""
    return str(g[STATUS].iloc[i] or "") if STATUS in g else ""


def status_cells(row: list, state: str, first: int) -> list:
    """``row`` with every cell from ``first`` on replaced by the status text (no mark) when ``state`` is set."""
    return row if not state else row[:first] + [(state, "")] * (len(row) - first)


def table_notes(table: pd.DataFrame) -> list[str]:
    return [TABLE_NOTE] if STATUS in table and (table[STATUS] != "").any() else []


def without_failed(df: pd.DataFrame, failed: pd.DataFrame | None, kinds: Iterable[str]) -> pd.DataFrame:
    """``df`` without the runs failed in ``kinds`` (a figure leaves a failed run out altogether)."""
    return without_runs(df, failed_runs(failed, kinds))


def figure_notes(failed: pd.DataFrame | None, name: str) -> list[str]:
    """Legend lines of the runs a figure leaves out."""
    runs = failed_runs(failed, FIGURE_KINDS.get(name, ()))
    return [f"{method_display(method)} on {dataset}: not shown, failed run ({'; '.join(what)})"
            for (_, dataset, method), what in runs.items()]


def note_figure(fig, notes: Sequence[str]):
    """A second legend (lower right, outside the panels) listing the runs the figure leaves out."""
    if notes:
        from matplotlib.lines import Line2D

        labels = ["\n".join(textwrap.wrap(n, 40)) for n in notes]
        fig.legend([Line2D([], [], color="none")] * len(labels), labels, loc="outside right lower", fontsize=6.5,
                   frameon=False, title="failed runs (left out)", title_fontsize=7)
    return fig


def _named_methods(text: str) -> set[str]:
    found = set()
    for key, shown in METHOD_DISPLAY.items():
        if re.search(rf"(?<![\w-]){re.escape(shown)}(?![\w-])", str(text)):
            found.add(key)
    return found


def mark_claims(claims: pd.DataFrame, failed: pd.DataFrame | None) -> pd.DataFrame:
    """Rows whose claim reads a failed run: verdict inconclusive, evidence "no data (failed run): ..."."""
    if claims is None or claims.empty or failed is None or failed.empty:
        return claims
    claims = claims.copy()
    for i, row in claims.iterrows():
        label = str(row["claim"]).split()[0]
        kinds = CLAIM_KINDS.get(label, ("general_perplexity",) if "perplexity" in str(row["claim"]) else ())
        needed = _named_methods(row["methods"]) | set(CLAIM_NEEDS.get(label, ()))
        hits = [f"{method_display(method)} on {dataset}: {'; '.join(what)}"
                for (_, dataset, method), what in failed_runs(failed, kinds).items()
                if method in needed and (row["dataset"] in ("all", dataset))]
        if hits:
            claims.loc[i, ["evidence", "criterion", "verdict"]] = [
                "no data (failed run): " + "; ".join(hits), "-", verdicts.INCONCLUSIVE]
    return claims


def for_report(failed: pd.DataFrame, model: str | None, methods=None, datasets=None) -> pd.DataFrame:
    """The failures of the report's model, methods and datasets (n_edits None where a file has none)."""
    if failed is None or failed.empty:
        return pd.DataFrame(columns=FAILED_COLUMNS)
    keep = pd.Series(True, index=failed.index)
    if model is not None:
        keep &= failed["model"] == model
    if methods:
        keep &= failed["method"].astype(str).str.lower().isin([m.lower() for m in methods])
    if datasets:
        keep &= failed["dataset"].isin(list(datasets))
    out = failed[keep].reset_index(drop=True).astype(object)
    return out.where(out.notna(), None)


def figure_frames(norms: pd.DataFrame, metrics: pd.DataFrame, downstream: pd.DataFrame, failed: pd.DataFrame):
    """The figures' frames: each without the runs failed in its own kind of file (or with non-finite weights)."""
    return (without_failed(norms, failed, ("norms",)), without_failed(metrics, failed, ("metrics",)),
            without_failed(downstream, failed, ("downstream",)))


def table_status(t2: pd.DataFrame, t3: pd.DataFrame, t4: pd.DataFrame, failed: pd.DataFrame, t2_datasets,
                 t3_datasets, steps=None, methods=None, datasets=None):
    """Tables 2, 3 and 4 with their failed runs' status rows (:func:`with_status_rows`); ``t2_datasets`` /
    ``t3_datasets``: the datasets Tables 2 and 3 show."""

    def among(names):
        return [d for d in names if not datasets or d in datasets]

    t2 = with_status_rows(t2, failed, "metrics", datasets=among(t2_datasets), steps=steps, methods=methods,
                          per="protocol", order=("model", "dataset", "protocol", "n_edits", "method"))
    t3 = with_status_rows(t3, failed, "metrics", datasets=among(t3_datasets), methods=methods, last_only=True)
    t4 = with_status_rows(t4, failed, "downstream", datasets=datasets, methods=methods, last_only=True,
                          order=("model", "dataset", "method"))
    return t2, t3, t4
