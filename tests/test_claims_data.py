"""Verdicts of C7 / C8 (seqedit.report.claims_data) on designed inputs, the damage computation, and the
data-perspective report (Fig. 3, perplexity table, claims JSON) from synthetic result files."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from seqedit.report import claims_data
from seqedit.report.damage import damage_at, damage_table

PPL = {"mqd_tf": 3.0, "mqd_mc": 9.0, "mqd_dg": 120.0}
SE = 0.002  # small: differences of a few points are significant


def _c7(tf, mc, dg, se=SE, ppl=PPL):
    return claims_data.verdict_c7({"rome": (20, {"mqd_tf": (tf, se), "mqd_mc": (mc, se), "mqd_dg": (dg, se)})}, ppl)


def test_c7_reproduced_not_reproduced_inconclusive():
    ok = _c7(0.01, 0.03, 0.08)
    assert ok["verdict"] == claims_data.REPRODUCED and ok["claim"].startswith("C7")
    assert "T/F 3.0 < MC 9.0 < DG 120.0" in ok["evidence"] and "rome at 20 edits" in ok["evidence"]
    assert "the paper's order" in ok["evidence"] and "8.00" in ok["evidence"]  # damage in points
    assert _c7(0.08, 0.03, 0.01)["verdict"] == claims_data.NOT_REPRODUCED  # reversed, significantly
    assert _c7(0.01, 0.011, 0.012)["verdict"] == claims_data.NOT_REPRODUCED  # no ordering: all within +-1 point, tight
    assert _c7(0.01, 0.03, 0.08, se=0.05)["verdict"] == claims_data.INCONCLUSIVE  # differences within uncertainty
    assert _c7(0.01, 0.03, 0.08, se=math.nan)["verdict"] == claims_data.INCONCLUSIVE  # unknown stderr


def test_c7_follows_the_measured_perplexity_order():
    swapped = {"mqd_tf": 3.0, "mqd_mc": 200.0, "mqd_dg": 120.0}  # measured: T/F < DG < MC
    res = _c7(0.01, 0.08, 0.03, ppl=swapped)
    assert res["verdict"] == claims_data.REPRODUCED and "not the paper's order" in res["evidence"]


def test_c7_methods_disagree_and_missing_data():
    res = claims_data.verdict_c7({"rome": (20, {"mqd_tf": (0.01, SE), "mqd_mc": (0.03, SE), "mqd_dg": (0.08, SE)}),
                        "d4s": (20, {"mqd_tf": (0.05, SE), "mqd_mc": (0.02, SE), "mqd_dg": (0.01, SE)})}, PPL)
    assert res["verdict"] == claims_data.INCONCLUSIVE and "methods disagree" in res["evidence"]
    assert claims_data.verdict_c7({"rome": (None, {})}, PPL)["verdict"] == claims_data.INCONCLUSIVE
    one = claims_data.verdict_c7({"rome": (20, {"mqd_tf": (0.01, SE)})}, PPL)
    assert one["verdict"] == claims_data.INCONCLUSIVE and "fewer than two" in one["evidence"]


def _c8(damages, se=SE):
    return claims_data.verdict_c8({"memit": (10, {d: (v, se) for d, v in damages.items()})})


def test_c8_reproduced_not_reproduced_inconclusive():
    res = _c8({"zsre": 0.01, "counterfact": 0.06, "mqd_dg": 0.012})
    assert res["verdict"] == claims_data.REPRODUCED and res["claim"].startswith("C8")
    assert "2 of 3 pairs differ significantly" in res["evidence"]
    assert _c8({"zsre": 0.010, "counterfact": 0.012})["verdict"] == claims_data.NOT_REPRODUCED  # equal within 1 point
    assert _c8({"zsre": 0.01, "counterfact": 0.04}, se=0.03)["verdict"] == claims_data.INCONCLUSIVE
    assert _c8({"zsre": 0.01})["verdict"] == claims_data.INCONCLUSIVE


def test_compare_intervals():
    assert claims_data.compare((0.0, 0.01), (0.1, 0.01))[0] == "greater"
    rel, low, high = claims_data.compare((0.1, 0.01), (0.0, 0.01))
    assert rel == "less" and high < 0 and low == pytest.approx(-0.1 - claims_data.Z95 * math.sqrt(2) * 0.01)
    assert claims_data.compare((0.0, 0.001), (0.001, 0.001))[0] == "equivalent"
    assert claims_data.compare((0.0, 0.05), (0.02, 0.05))[0] == "uncertain"


def _downstream_df():
    rows = []
    for task, base in (("arc_challenge", 0.40), ("hellaswag", 0.60)):
        rows.append(dict(model="m", dataset=None, method=None, n_edits=0, is_base=True, task=task, metric="acc",
                         value=base, stderr=0.01, path="base.json"))
        for dataset, drop in (("mqd_tf", 0.01), ("mqd_mc", 0.03), ("mqd_dg", 0.10)):
            for n in (10, 20):
                rows.append(dict(model="m", dataset=dataset, method="rome", n_edits=n, is_base=False, task=task,
                                 metric="acc", value=base - drop * n / 20, stderr=0.01, path="x.json"))
    return pd.DataFrame(rows)


def test_damage_table_and_c7_from_results():
    table = damage_table(_downstream_df())
    row = table[(table["dataset"] == "mqd_dg") & (table["n_edits"] == 20)].iloc[0]
    assert row["damage"] == pytest.approx(0.10) and row["n_tasks"] == 2
    assert row["se"] == pytest.approx(math.sqrt(4 * 0.01 ** 2) / 2)
    n, dmg = damage_at(table, "rome", ["mqd_tf", "mqd_mc", "mqd_dg"])
    assert n == 20 and dmg["mqd_mc"][0] == pytest.approx(0.03)


def test_damage_at_compares_the_datasets_that_share_a_checkpoint():
    """zsRE checkpointed at 25 and 50, the MQD forms at 10 and 20 (the findings config): no edit count is common to
    all four, yet the three forms compare at 20 (before: no data, so C8 said 'no method has the needed results')."""
    df = _downstream_df()
    extra = df[(df["dataset"] == "mqd_dg") & (df["n_edits"] == 10)].copy()
    for n in (25, 50):
        rows = extra.assign(dataset="zsre", n_edits=n)
        df = pd.concat([df, rows], ignore_index=True)
    table = damage_table(df)
    n, dmg = damage_at(table, "rome", ["zsre", "mqd_tf", "mqd_mc", "mqd_dg"])
    assert n == 20 and sorted(dmg) == ["mqd_dg", "mqd_mc", "mqd_tf"]
    assert dmg["mqd_dg"][0] == pytest.approx(0.10)
    n, dmg = damage_at(table, "rome", ["zsre", "mqd_dg"])  # two datasets, no shared count
    assert n is None and dmg == {}
    n, dmg = damage_at(table, "rome", ["zsre"])  # one dataset: its last checkpoint
    assert n == 50 and list(dmg) == ["zsre"]
    res = claims_data.c8_from_results(df, methods=["rome"])
    assert "rome at 20 edits" in res["evidence"]
    res = claims_data.c7_from_results(_downstream_df(), PPL, methods=["rome"])
    assert res["verdict"] == claims_data.INCONCLUSIVE  # T/F vs MC: 2 points apart, interval +-2.8 points
    res = claims_data.c7_from_results(_downstream_df(), PPL, methods=["rome"], forms=["mqd_tf", "mqd_dg"])
    assert res["verdict"] == claims_data.REPRODUCED and "only 2 of the 3 forms" in res["evidence"]


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_data_report_from_files(tmp_path):
    from seqedit.report.data_perspective import OUTPUT_NAMES, make_data_report

    df = _downstream_df()
    root = tmp_path / "results"
    files = []
    for (dataset, method, n), g in df.groupby(["dataset", "method", "n_edits"], dropna=False):
        tasks = {t: {"metric": "acc", "value": v, "stderr": s} for t, v, s in zip(g["task"], g["value"], g["stderr"])}
        path = (root / "downstream/m/base.json" if g["is_base"].iloc[0]
                else root / f"downstream/m/{dataset}/{method}/step_{n}.json")
        _write(path, {"model": "m", "tasks": tasks} if g["is_base"].iloc[0]
               else {"model": "m", "dataset": dataset, "method": method, "n_edits": int(n), "tasks": tasks})
        files.append(str(path))
    ppl_files = []
    for d, p in PPL.items():
        _write(root / f"perplexity/m/{d}.json", {"model": "m", "dataset": d, "n": 5, "mean": p, "median": p,
                                                  "geometric_mean": p, "mean_target_tokens": 1.0})
        ppl_files.append(str(root / f"perplexity/m/{d}.json"))
    figs, tabs = tmp_path / "figures", tmp_path / "tables"
    claims = make_data_report("m", files, ppl_files, str(figs), str(tabs), c7_methods=["rome"], c8_methods=["rome"])
    for name in OUTPUT_NAMES["figures"]:
        assert (figs / name).stat().st_size > 0
    for name in OUTPUT_NAMES["tables"]:
        assert (tabs / name).stat().st_size > 0
    assert [c["claim"][:2] for c in claims] == ["C7", "C8"]
    assert json.loads((tabs / "claims_data.json").read_text()) == claims
    md = (tabs / "table_target_perplexity.md").read_text()
    assert "| m | mqd_tf | T/F | 5 | 3.0 |" in md and "rebuild" in md
    assert claims[1]["verdict"] == claims_data.REPRODUCED  # DG's 10 points vs T/F's 1 point
