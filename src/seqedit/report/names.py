"""Names and order of what the report shows: methods, tasks, protocols, the edit metrics (no pandas here)."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

METHOD_ORDER = ["ft", "ft_m", "kn", "rome", "memit", "pmet", "alphaedit", "grace", "d4s"]
METHOD_DISPLAY = {
    "ft": "FT",
    "ft_m": "FT-M",
    "kn": "KN",
    "rome": "ROME",
    "memit": "MEMIT",
    "pmet": "PMET",
    "alphaedit": "AlphaEdit",
    "grace": "GRACE",
    "d4s": "D4S",
}
# the unedited model's row of the edit-metric tables (results/metrics/{model}/{dataset}/base.json): its method
BASE_METHOD = "unedited"
BASE_LABEL = "Unedited"
# methods that leave the base weights untouched: their mean|W| is flat by design
WEIGHTLESS_METHODS = {"grace": "GRACE keeps its edits in a codebook adaptor; the base weights never change, so its "
                               "mean|W| is flat by design"}
TASK_ORDER = ["arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2", "winogrande", "gsm8k"]
TASK_DISPLAY = {
    "arc_challenge": "ARC-C",
    "hellaswag": "HellaSwag",
    "mmlu": "MMLU",
    "truthfulqa_mc1": "TQA-MC1",
    "truthfulqa_mc2": "TQA-MC2",
    "winogrande": "WinoGrande",
    "gsm8k": "GSM8K",
}
METRICS = [("efficacy", "Eff"), ("paraphrase", "Par"), ("specificity", "Spe")]
DECIMALS = 2

PROTOCOL_ORDER = ["sequential", "immediate"]
UNSPECIFIED = "unspecified"
PROTOCOL_TEXT = {
    "sequential": "sequential protocol (the paper's): after k edits, all of the first k requests are re-evaluated "
                  "on the current model",
    "immediate": "immediate protocol: each request is evaluated right after its own edit, the scores averaged over "
                 "the first k requests",
    UNSPECIFIED: "unrecorded protocol (the metrics files do not say which)",
}


def isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def method_display(m: str | None) -> str:
    if m is None or isnan(m):
        return "-"
    if m == BASE_METHOD:
        return BASE_LABEL
    return METHOD_DISPLAY.get(str(m).lower(), str(m))


def is_weightless(m) -> bool:
    return str(m).lower() in WEIGHTLESS_METHODS


def task_display(t: str) -> str:
    return TASK_DISPLAY.get(t, t)


def protocol_text(p: str) -> str:
    return PROTOCOL_TEXT.get(p, f"{p} protocol")


def protocol_columns(protocol: str) -> list[str]:
    """The metrics frame's columns of one protocol: ``{protocol}_efficacy`` etc."""
    return [f"{protocol}_{k}" for k, _ in METRICS]


def _order_key(order: Sequence[str]):
    lowered = [o.lower() for o in order]

    def key(x) -> tuple:
        s = str(x)
        return (lowered.index(s.lower()), "") if s.lower() in lowered else (len(lowered), s.lower())

    return key


def order_methods(methods: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    """Unique methods, in ``preferred`` order (then the paper's order, then alphabetical)."""
    uniq = list(dict.fromkeys(m for m in methods if m is not None and not isnan(m)))
    order = list(preferred or []) + [m for m in METHOD_ORDER if m not in [p.lower() for p in (preferred or [])]]
    return sorted(uniq, key=_order_key(order))


def order_tasks(tasks: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(tasks), key=_order_key(TASK_ORDER))


def order_plain(items: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    uniq = list(dict.fromkeys(i for i in items if i is not None and not isnan(i)))
    return sorted(uniq, key=_order_key(list(preferred or [])))


def order_protocols(protocols: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(p for p in protocols if p), key=_order_key(PROTOCOL_ORDER + [UNSPECIFIED]))


def sort_rows(df, keys: Sequence[str], **orders: Sequence[str]):
    """``df`` sorted by ``keys``, where a key named in ``orders`` sorts by its position in that list."""
    tmp = {f"_{k}": df[k].map(list(order).index) for k, order in orders.items()}
    out = df.assign(**tmp).sort_values([f"_{k}" if k in orders else k for k in keys])
    return out.drop(columns=list(tmp)).reset_index(drop=True)
