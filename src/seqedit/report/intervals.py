"""95% intervals of the edit metrics (bootstrap over requests) and best/second marks that respect them.

``per_request`` of a metrics file holds the sequential protocol's values per request (see
:mod:`seqedit.evaluation.cli`); the interval of a mean is the percentile bootstrap over those requests
(:func:`seqedit.report.verdicts.bootstrap_mean`, seeded). Avg is the per-request mean of Eff/Par/Spe.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

from .verdicts import bootstrap_mean

SHORT = {"efficacy": "Eff", "paraphrase": "Par", "specificity": "Spe"}
INTERVAL_PROTOCOL = "sequential"  # the protocol whose per-request values the files keep


def interval_columns() -> list[str]:
    return [f"{s}_{end}" for s in (*SHORT.values(), "Avg") for end in ("lo", "hi")]


def request_intervals(path: str | Path) -> dict[str, float]:
    """``{Eff_lo, Eff_hi, ..., Avg_hi}`` in percent from a metrics file's ``per_request`` (NaN when it has none)."""
    out = {c: float("nan") for c in interval_columns()}
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8")).get("per_request") or []
    except (OSError, ValueError):
        return out
    avg = []
    for key, short in SHORT.items():
        values = [r[key] for r in records if r.get(key) is not None]
        if values:
            _, low, high = bootstrap_mean(values)
            out[f"{short}_lo"], out[f"{short}_hi"] = 100 * low, 100 * high
    for r in records:
        values = [r[k] for k in SHORT if r.get(k) is not None]
        if len(values) == len(SHORT):
            avg.append(sum(values) / len(values))
    if avg:
        _, low, high = bootstrap_mean(avg)
        out["Avg_lo"], out["Avg_hi"] = 100 * low, 100 * high
    return out


def interval_marks(marks: Sequence[str], values: Sequence[float], lows: Sequence[float],
                   highs: Sequence[float]) -> list[str]:
    """Keep a 'best' mark only where its interval lies above the intervals of all lower values, and a 'second' mark
    only where it lies above those ranked below it (and a best was kept); without intervals the marks stay."""
    if not any(_finite(x) for x in lows):
        return list(marks)
    out = list(marks)
    for rank, below in (("best", ("second", "")), ("second", ("",))):
        others = [h for m, h in zip(marks, highs) if m in below and _finite(h)]
        for i, m in enumerate(marks):
            if m == rank and others and not (_finite(lows[i]) and lows[i] > max(others)):
                out[i] = ""
    if any(m == "best" for m in marks) and not any(m == "best" for m in out):
        return ["" for _ in out]  # the top is not separated from the next: no ranking to show
    return out


def with_interval(text: str, low: float, high: float) -> str:
    return f"{text} [{low:.1f}, {high:.1f}]" if _finite(low) and _finite(high) else text


def _finite(x) -> bool:
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False
