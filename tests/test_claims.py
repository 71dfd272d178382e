"""The claims table's verdicts on designed inputs of each kind: reproduced, not reproduced, inconclusive."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seqedit.report import claims
from seqedit.report import verdicts


def norms_frame(series: dict[str, dict]) -> pd.DataFrame:
    """``{method: {"w": [...], "z": [...], "eff": [...]}}`` -> the norms frame (two edited weights per edit)."""
    rows = []
    for method, s in series.items():
        for i, (w, z, e) in enumerate(zip(s["w"], s["z"], s["eff"]), start=1):
            for layer, scale in ((4, 1.0), (5, 1.0)):
                rows.append({"model": "m", "dataset": "zsre", "method": method, "edit": i, "param": f"l.{layer}.w",
                             "layer": layer, "mean_abs_w": w * scale, "z_prob_last": z, "immediate_efficacy": e})
    return pd.DataFrame(rows)


def metrics_frame(tmp_path, per_method: dict[str, list[float]], n_edits: int = 40) -> pd.DataFrame:
    rows = []
    for method, values in per_method.items():
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps({"per_request": [{"id": str(i), "efficacy": v, "paraphrase": v, "specificity": v}
                                                    for i, v in enumerate(values)]}))
        rows.append({"model": "m", "dataset": "zsre", "method": method, "n_edits": n_edits, "path": str(path)})
    return pd.DataFrame(rows)


def downstream_frame(base: float, changes: dict[str, float], stderr: float) -> pd.DataFrame:
    rows = []
    for task in ("hellaswag", "arc_challenge"):
        rows.append({"model": "m", "dataset": None, "method": None, "n_edits": 0, "is_base": True, "task": task,
                     "value": base, "stderr": stderr})
        for method, change in changes.items():
            rows.append({"model": "m", "dataset": "zsre", "method": method, "n_edits": 40, "is_base": False,
                         "task": task, "value": base + change, "stderr": stderr})
    return pd.DataFrame(rows)


def verdict_map(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(r.claim, r.methods): r.verdict for r in df.itertuples()}


N = 40
RNG = np.random.default_rng(0)


def test_every_claim_reproduced_on_a_run_that_shows_the_paper(tmp_path):
    collapse = {"w": np.linspace(0.10, 0.20, N), "z": np.linspace(0.99, 0.2, N),
                "eff": [1.0] * 20 + [0.0] * 20}
    flat = {"w": np.linspace(0.10, 0.1001, N), "z": [0.99] * N, "eff": [1.0] * N}
    norms = norms_frame({"rome": collapse, "memit": collapse, "d4s": flat})
    metrics = metrics_frame(tmp_path, {"d4s": list(0.9 + 0.05 * RNG.random(30)),
                                       **{m: list(0.5 + 0.05 * RNG.random(30)) for m in ("rome", "memit", "pmet")}})
    downstream = downstream_frame(0.40, {"rome": -0.15, "memit": -0.12, "d4s": 0.0}, stderr=0.004)
    got = verdict_map(claims.claims_table(norms, metrics, downstream))
    assert got.pop(("C8 (lm-eval)", "KN, ROME, MEMIT")) == verdicts.INCONCLUSIVE  # one dataset: cannot tell
    assert set(got.values()) == {verdicts.REPRODUCED}, got
    assert len(got) == 12  # C1-C3 x ROME, MEMIT; C1 paired; C4; C5; C6 x ROME, MEMIT, D4S (and C8, popped)



def test_every_claim_not_reproduced_on_a_run_that_contradicts_it(tmp_path):
    steady = {"w": np.linspace(0.10, 0.1002, N), "z": np.linspace(0.5, 0.99, N), "eff": [1.0] * N}
    growing = {"w": np.linspace(0.10, 0.30, N), "z": [0.99] * N, "eff": [1.0] * N}
    norms = norms_frame({"rome": steady, "memit": steady, "d4s": growing})
    metrics = metrics_frame(tmp_path, {"d4s": list(0.3 + 0.05 * RNG.random(30)),
                                       **{m: list(0.8 + 0.05 * RNG.random(30)) for m in ("rome", "memit", "pmet")}})
    downstream = downstream_frame(0.40, {"rome": 0.0, "memit": 0.0, "d4s": -0.2}, stderr=0.002)
    got = verdict_map(claims.claims_table(norms, metrics, downstream))
    got.pop(("C8 (lm-eval)", "KN, ROME, MEMIT"))
    assert set(got.values()) == {verdicts.NOT_REPRODUCED}, got


def test_small_noisy_runs_are_inconclusive(tmp_path):
    n = 12
    noisy = {"w": 0.1 + 0.0005 * RNG.standard_normal(n) + np.linspace(0, 0.001, n),
             "z": RNG.random(n), "eff": list(RNG.integers(0, 2, n).astype(float))}
    norms = norms_frame({"rome": noisy, "memit": noisy})
    metrics = metrics_frame(tmp_path, {"d4s": list(RNG.random(6)), "rome": list(RNG.random(6))})
    downstream = downstream_frame(0.40, {"rome": -0.01, "memit": 0.0, "d4s": -0.01}, stderr=0.05)
    got = verdict_map(claims.claims_table(norms, metrics, downstream))
    assert got[("C1", "ROME")] == verdicts.INCONCLUSIVE
    assert got[("C3", "ROME")] == verdicts.INCONCLUSIVE
    assert got[("C4", "D4S vs ROME, MEMIT")] == verdicts.INCONCLUSIVE  # no D4S norms: cannot tell
    assert got[("C5", "D4S vs ROME")] == verdicts.INCONCLUSIVE  # PMET and MEMIT missing, ROME within noise
    assert got[("C6 (lm-eval)", "ROME")] == got[("C6 (lm-eval)", "D4S")] == verdicts.INCONCLUSIVE


@pytest.mark.parametrize("low, high, margin, want", [(0.1, 0.3, 0.05, verdicts.REPRODUCED),
                                                     (-0.2, 0.01, 0.05, verdicts.NOT_REPRODUCED),
                                                     (-0.1, 0.2, 0.05, verdicts.INCONCLUSIVE)])
def test_positive_verdict(low, high, margin, want):
    assert verdicts.positive_verdict(low, high, margin) == want


def test_intervals():
    mean, low, high = verdicts.paired_bootstrap([1.0] * 10)
    assert mean == low == high == 1.0
    r, low, high = verdicts.correlation_interval(range(50), [-x for x in range(50)])
    assert r == pytest.approx(-1.0) and high < -0.99
    slope, low, high = verdicts.slope_interval([0, 1, 2, 3], [0, 2, 4, 6])
    assert slope == pytest.approx(2.0) and low == pytest.approx(2.0)
    assert verdicts.combine([verdicts.REPRODUCED, verdicts.INCONCLUSIVE]) == verdicts.INCONCLUSIVE
    assert verdicts.combine([verdicts.REPRODUCED, verdicts.NOT_REPRODUCED]) == verdicts.NOT_REPRODUCED


def test_claims_markdown_names_the_dataset_and_verdicts(tmp_path):
    norms = norms_frame({"rome": {"w": np.linspace(0.1, 0.2, N), "z": np.linspace(0.9, 0.1, N),
                                  "eff": [1.0] * 20 + [0.0] * 20}})
    df = claims.claims_table(norms, pd.DataFrame(), pd.DataFrame())
    text = claims.claims_markdown(df, None, "claims")
    assert "Dataset: zsre" in text and "**reproduced**" in text and "no data" in text
    assert "\\begin{tabular}" in claims.claims_latex(df, None, "claims")


def test_table2_intervals_and_marks_only_where_they_separate(tmp_path):
    from seqedit.report import intervals
    from seqedit.report import tables

    assert intervals.interval_marks(["best", "second", ""], [90, 80, 70], [85, 75, 65], [95, 84, 75]) == ["best", "", ""]
    assert intervals.interval_marks(["best", "second", ""], [90, 80, 70], [88, 78, 60], [92, 82, 72]) == \
        ["best", "second", ""]
    assert intervals.interval_marks(["best", ""], [90, 80], [float("nan")] * 2, [float("nan")] * 2) == ["best", ""]
    rng = np.random.default_rng(1)
    paths = []
    for method, p in (("rome", 0.9), ("memit", 0.88), ("d4s", 0.2)):
        path = tmp_path / "metrics" / "m" / "zsre" / method / "step_50.json"
        path.parent.mkdir(parents=True)
        recs = [{"id": str(i), "efficacy": float(rng.random() < p), "paraphrase": float(rng.random() < p),
                 "specificity": 1.0} for i in range(50)]
        means = {k: sum(r[k] for r in recs) / 50 for k in ("efficacy", "paraphrase", "specificity")}
        path.write_text(json.dumps({"model": "m", "dataset": "zsre", "method": method, "n_edits": 50,
                                    "protocol": "sequential", **means, "per_request": recs,
                                    "protocols": {"sequential": means}}))
        paths.append(path)
    t2 = tables.table2(tables.load_metrics(paths))
    rome = t2.set_index("method").loc["rome"]
    assert rome["Eff_lo"] < rome["Eff"] < rome["Eff_hi"]
    md = tables.table2_markdown(t2)
    row = {line.split("|")[2].strip(): line for line in md.splitlines() if line.startswith("| ")}
    # ROME and MEMIT are within each other's intervals: neither bold nor underlined on Eff; D4S far below
    assert "**" not in row["ROME"].split("|")[3] and "<u>" not in row["MEMIT"].split("|")[3]
    assert "[" in row["D4S"].split("|")[3]


def test_c8_joins_the_claims_when_two_datasets_have_downstream(tmp_path):
    one = downstream_frame(0.40, {"rome": -0.15, "memit": -0.15, "kn": -0.15}, stderr=0.004)
    other = one[~one["is_base"]].assign(dataset="counterfact", value=0.40)
    df = claims.claims_table(pd.DataFrame(), pd.DataFrame(), pd.concat([one, other], ignore_index=True))
    row = df[df["claim"] == "C8 (lm-eval)"].iloc[0]
    assert row["verdict"] == verdicts.REPRODUCED and "counterfact" in row["evidence"]


def test_c1_paired_takes_the_request_difficulty_out():
    """Hard requests late in the sequence lower MEMIT's reached probability without any history effect; D4S's
    value (the same optimisation on W0) has the same dips, so the paired difference shows no bottleneck."""
    n = 40
    difficulty = np.r_[np.full(20, 0.95), np.full(20, 0.6)]  # late requests are harder
    w = np.linspace(0.1, 0.101, n)
    d4s = {"w": w, "z": difficulty, "eff": [1.0] * n}
    no_history = {"w": w, "z": difficulty - 0.01, "eff": [1.0] * n}
    with_history = {"w": w, "z": difficulty - np.linspace(0, 0.3, n), "eff": [1.0] * n}
    key = ("C1", "MEMIT vs D4S's W0 value")
    got = verdict_map(claims.claims_table(norms_frame({"memit": no_history, "d4s": d4s}), pd.DataFrame(), pd.DataFrame()))
    assert got[key] == verdicts.NOT_REPRODUCED
    got = verdict_map(claims.claims_table(norms_frame({"memit": with_history, "d4s": d4s}), pd.DataFrame(), pd.DataFrame()))
    assert got[key] == verdicts.REPRODUCED
