"""Verdicts from an effect and its 95% interval, and the intervals themselves (seeded, deterministic).

A claim says an effect is positive ("the success rate drops": early minus late > 0). With its 95% interval
``[low, high]`` and a smallest effect that would count (``margin``, stated with the claim):

* **reproduced**: ``low > 0``, the effect is positive beyond its uncertainty;
* **not reproduced**: ``high < margin``, the effect is (with 95% confidence) smaller than what would count,
  including an effect of the opposite sign;
* **inconclusive**: otherwise (the interval holds both 0 and ``margin``: the run cannot tell).

For an effect that must stay small ("D4S stays near the base model": ``|change| < margin``) the roles swap
(:func:`near_zero_verdict`).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
Z95 = 1.959964
N_BOOT = 2000


def positive_verdict(low: float, high: float, margin: float = 0.0) -> str:
    if any(math.isnan(x) for x in (low, high)):
        return INCONCLUSIVE
    if low > 0:
        return REPRODUCED
    if high < margin:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def near_zero_verdict(low: float, high: float, margin: float) -> str:
    """The claim: ``|effect| < margin``."""
    if any(math.isnan(x) for x in (low, high)):
        return INCONCLUSIVE
    if -margin < low and high < margin:
        return REPRODUCED
    if high < -margin or low > margin:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def combine(verdicts: Sequence[str]) -> str:
    """All parts reproduced -> reproduced; any part not reproduced -> not reproduced; else inconclusive."""
    if not verdicts:
        return INCONCLUSIVE
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if any(v == NOT_REPRODUCED for v in verdicts):
        return NOT_REPRODUCED
    return INCONCLUSIVE


def mean_diff_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` of two independent samples with its normal-approximation 95% interval (Welch)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan"), float("nan")
    diff = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(diff), float(diff - Z95 * se), float(diff + Z95 * se)


def paired_bootstrap(diffs: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-request paired differences with a percentile bootstrap 95% interval over requests."""
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(N_BOOT, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def bootstrap_mean(values: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """Mean with a percentile bootstrap 95% interval (the tables' intervals over requests)."""
    return paired_bootstrap(values, seed)


def correlation_interval(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Spearman rank correlation with a Fisher-z 95% interval (``1.06 / sqrt(n - 3)``, Fieller et al.)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 5 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan"), float("nan")
    rx, ry = _ranks(x), _ranks(y)
    r = float(np.corrcoef(rx, ry)[0, 1])
    r_c = max(min(r, 0.999999), -0.999999)
    half = 1.06 / math.sqrt(n - 3) * Z95
    z = math.atanh(r_c)
    return r, math.tanh(z - half), math.tanh(z + half)


def slope_interval(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares slope of ``y`` on ``x`` with its 95% interval (normal approximation)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 3 or np.all(x == x[0]):
        return float("nan"), float("nan"), float("nan")
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / (xc ** 2).sum())
    resid = y - y.mean() - slope * xc
    se = math.sqrt((resid ** 2).sum() / (n - 2) / (xc ** 2).sum())
    return slope, slope - Z95 * se, slope + Z95 * se


def _ranks(v: np.ndarray) -> np.ndarray:
    order = v.argsort(kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v))
    for value in np.unique(v):  # average ranks of ties
        tie = v == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks
