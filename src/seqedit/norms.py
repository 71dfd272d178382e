"""``seqedit norms``: the per-edit log of a checkpoint as CSV (one row per edit and edited weight).

Columns: edit, param, layer, mean_abs_w (the paper's L1 measure, ``norm(W, 1) / numel``), mean_abs_delta_total
(``W_t - W_0``), mean_abs_delta_step (``W_t - W_{t-1}``), z_prob_first, z_prob_last, seconds, then request (the
1-based request the edit belongs to; an MQuAKE case makes one edit per rewrite) and immediate_efficacy,
immediate_paraphrase, immediate_specificity (the immediate protocol's evaluation right after the edit; empty when it
was not run or does not apply).
"""
from __future__ import annotations

import argparse
import csv
import io
import re

from . import atomic

# The one definition of the CSV's columns (the report reads them from here). Per weight: the norms; per edit
# (repeated on each of the edit's weight rows): EDIT_COLUMNS.
WEIGHT_COLUMNS = ["edit", "param", "layer", "mean_abs_w", "mean_abs_delta_total", "mean_abs_delta_step"]
EDIT_COLUMNS = ["z_prob_first", "z_prob_last", "seconds", "request", "immediate_efficacy", "immediate_paraphrase",
                "immediate_specificity"]
COLUMNS = WEIGHT_COLUMNS + EDIT_COLUMNS


def rows_from_log(log: list[dict]) -> list[dict]:
    rows = []
    for rec in log:
        imm = rec.get("immediate") or {}
        for param, vals in rec.get("layers", {}).items():
            m = re.search(r"\.(\d+)\.", param)
            rows.append({"edit": rec["edit"], "param": param, "layer": int(m.group(1)) if m else "",
                         **{k: vals[k] for k in ("mean_abs_w", "mean_abs_delta_total", "mean_abs_delta_step")},
                         "z_prob_first": rec.get("z_prob_first"), "z_prob_last": rec.get("z_prob_last"),
                         "seconds": rec.get("seconds"), "request": rec.get("request"),
                         **{f"immediate_{k}": imm.get(k) for k in ("efficacy", "paraphrase", "specificity")}})
    return rows


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="the run's last checkpoint (its log covers every edit)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from .checkpoints import load_meta  # torch: only for the command, not for the column names

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows_from_log(load_meta(a.checkpoint)["log"]):
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(a.out, buf.getvalue())
