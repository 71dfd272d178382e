"""Failed runs: the report never ranks, plots or tests a claim on a result that is missing or non-finite.

:func:`screen` looks at the listed result files before anything is loaded. A run's file is *failed* when

- it does not exist (``missing``: e.g. an edit chain that stopped, or a job that did not finish);
- it cannot be parsed (``unreadable``), or holds a non-finite number (``non-finite``): a metrics file's Eff / Par /
  Spe (top level, per protocol, CounterFact / MQuAKE blocks; null = does not apply), a downstream file's task
  scores (null = lm-eval gave NaN), a norms file's mean|W| (or |W - W0|);
- it belongs to a checkpoint at or after the first edit whose norms are non-finite (``non-finite weights``): the
  model it evaluated was broken, whatever its numbers say (the issue's MEMIT at 0.00 from NaN weights).

Only the files that pass are loaded. The tables then show a failed run's cells as "failed" / "missing" (never a
number, never bold or underlined; :mod:`.failed_marks`), the figures leave the run out and say so in the legend,
and the claims that need it are inconclusive with "no data (failed run)". Light: no torch.
"""
from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from .names import METRICS

FAILED_COLUMNS = ["model", "dataset", "method", "n_edits", "kind", "problem", "path"]
MISSING, UNREADABLE, NON_FINITE, BROKEN = "missing", "unreadable", "non-finite", "non-finite weights"
_STEP = re.compile(r"^step_(\d+)$")
_NORM_VALUES = ("mean_abs_w", "mean_abs_delta_total")
_METRIC_BLOCKS = ("protocols", "counterfact", "mquake")


@dataclass
class Screened:
    """The listed files that can be used, and one row per failed file (:data:`FAILED_COLUMNS`)."""

    norms: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)
    failed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FAILED_COLUMNS))


def status(problem: str) -> str:
    """The word a table cell shows for a failed run."""
    return "missing" if problem == MISSING else "failed"


def _finite(x) -> bool:
    return not (isinstance(x, float) and not math.isfinite(x))


def _numbers_finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_numbers_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_numbers_finite(v) for v in obj)
    return _finite(obj)


def _run_keys(path: Path, kind: str) -> tuple[str | None, str | None, str | None, int | None]:
    """(model, dataset, method, n_edits) of a result file from its path (n_edits None for a norms file)."""
    if kind == "norms":
        model, dataset = (list(path.parts[:-1])[-2:] + [None, None])[:2]
        return model, dataset, path.stem, None
    model, dataset, method = ([None, None, None] + list(path.parts[:-1]))[-3:]
    step = _STEP.match(path.stem)
    return model, dataset, method, int(step.group(1)) if step else None


def _json_problem(path: Path, kind: str) -> str | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UNREADABLE
    if not isinstance(obj, dict):
        return UNREADABLE
    if kind == "metrics":  # None = does not apply (MQuAKE's specificity)
        return None if _numbers_finite([obj.get(k) for k, _ in METRICS] + [obj.get(b) for b in _METRIC_BLOCKS]) \
            else NON_FINITE
    tasks = obj.get("tasks")  # a score lm-eval could not give (NaN, stored as null) is a failure; stderr may be null
    values = [t.get("value") if isinstance(t, dict) else None for t in (tasks or {}).values()]
    ok = isinstance(tasks, dict) and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)
    return None if ok else NON_FINITE


def first_bad_edit(path: Path) -> int | None:
    """The first edit whose mean|W| or |W - W0| is not a finite number (None: every edit is finite; an empty cell
    is an absent value, not a failure)."""
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for key in _NORM_VALUES:
                text = (row.get(key) or "").strip()
                if not text:
                    continue
                try:
                    value = float(text)
                except ValueError:
                    value = float("nan")
                if not math.isfinite(value):
                    return int(float(row.get("edit") or 0))
    return None


def screen(norms: Iterable | None, metrics: Iterable | None, downstream: Iterable | None) -> Screened:
    """Split the listed files into usable ones and failed ones (see the module's docstring). Only checkpoint files
    (``step_{k}.json``) and norms CSVs are screened; any other file (a base model's) is passed on as it is."""
    out, failed, broken = Screened(), [], {}
    for p in map(Path, norms or []):
        keys = _run_keys(p, "norms")
        try:
            bad = first_bad_edit(p) if p.is_file() else MISSING
        except (OSError, ValueError, csv.Error):
            bad = UNREADABLE
        if bad is None:
            out.norms.append(str(p))
            continue
        problem = bad if isinstance(bad, str) else NON_FINITE
        failed.append([*keys[:3], None if isinstance(bad, str) else bad, "norms", problem, str(p)])
        if not isinstance(bad, str):
            broken[keys[:3]] = bad
    for kind, paths, keep in (("metrics", metrics, out.metrics), ("downstream", downstream, out.downstream)):
        for p in map(Path, paths or []):
            model, dataset, method, n_edits = _run_keys(p, kind)
            if n_edits is None:  # not a checkpoint's file
                keep.append(str(p))
                continue
            problem = MISSING if not p.is_file() else _json_problem(p, kind)
            first = broken.get((model, dataset, method))
            if problem is None and first is not None and n_edits >= first:
                problem = BROKEN
            if problem is None:
                keep.append(str(p))
            else:
                failed.append([model, dataset, method, n_edits, kind, problem, str(p)])
    out.failed = pd.DataFrame(failed, columns=FAILED_COLUMNS)
    return out


def describe(row) -> str:
    """One failure in words, "metrics after 20 edits missing" (its file: the tables' provenance, failed_runs)."""
    when = f" after {int(row.n_edits)} edits" if row.n_edits is not None and row.n_edits == row.n_edits else ""
    if row.kind == "norms" and row.problem == NON_FINITE:
        return f"norms non-finite from edit {int(row.n_edits)}"
    return f"{row.kind}{when} {row.problem}"


def failed_runs(failed: pd.DataFrame | None, kinds: Iterable[str] | None = None) -> dict[tuple, list[str]]:
    """``{(model, dataset, method): [descriptions]}`` of the runs with a failure of one of ``kinds`` (all: None);
    a run whose weights became non-finite counts for every kind."""
    out: dict[tuple, list[str]] = {}
    if failed is None or failed.empty:
        return out
    kinds = set(kinds) if kinds is not None else None
    for row in failed.itertuples(index=False):
        weights = row.kind == "norms" and row.problem == NON_FINITE
        if kinds is None or row.kind in kinds or weights:
            out.setdefault((row.model, row.dataset, row.method), []).append(describe(row))
    return out


def without_runs(df: pd.DataFrame, runs: Iterable[tuple]) -> pd.DataFrame:
    """``df`` without the rows of the given (model, dataset, method) runs."""
    runs = set(runs)
    if df is None or df.empty or not runs:
        return df
    keep = [(m, d, me) not in runs for m, d, me in zip(df["model"], df["dataset"], df["method"])]
    return df[keep].reset_index(drop=True)

