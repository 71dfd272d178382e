"""Table 3 (CounterFact) prints the 95% interval (bootstrap over requests) beside Eff / Par / Spe / Avg and marks
best / second only where the intervals separate the values (as Table 2 does), on designed ``per_request`` data."""
from __future__ import annotations

import json

import pytest

N = 40
# per-request Efficacy / Paraphrase (0/1, exactly these shares) and Specificity (1.0 for every method)
DESIGN = {"rome": (0.95, 0.60), "memit": (0.60, 0.575), "d4s": (0.10, 0.55)}


def _records(eff: float, par: float) -> list[dict]:
    n_eff, n_par = round(eff * N), round(par * N)
    return [{"id": str(i), "efficacy": float(i < n_eff), "paraphrase": float(i < n_par), "specificity": 1.0}
            for i in range(N)]


def _metrics_files(root, per_request: bool = True) -> list:
    paths = []
    for method, (eff, par) in DESIGN.items():
        recs = _records(eff, par)
        means = {k: sum(r[k] for r in recs) / N for k in ("efficacy", "paraphrase", "specificity")}
        path = root / "metrics" / "m" / "counterfact" / method / "step_40.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"model": "m", "dataset": "counterfact", "method": method, "n_edits": N,
                                    "protocol": "sequential", **means, "n_requests": N,
                                    "per_request": recs if per_request else [], "protocols": {"sequential": means}}))
        paths.append(path)
    return paths


def _cells(md: str) -> dict[str, list[str]]:
    section = md.split("### CounterFact")[1].split("### MQuAKE")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| Method")]
    return {r[0]: r[2:6] for r in rows}  # Eff, Par, Spe, Avg


@pytest.fixture
def t3(tmp_path):
    from seqedit.report import tables

    return tables.table3(tables.load_metrics(_metrics_files(tmp_path)))


def test_table3_intervals_in_the_frame(t3):
    rome = t3.set_index("method").loc["rome"]
    for short in ("Eff", "Par", "Avg"):
        assert rome[f"{short}_lo"] < rome[short] < rome[f"{short}_hi"], short
    assert rome["Spe_lo"] == rome["Spe_hi"] == 100.0


def test_table3_marks_only_where_intervals_allow(t3):
    from seqedit.report import tables

    md = tables.table3_markdown(t3)
    cells = _cells(md)
    eff, par = {m: c[0] for m, c in cells.items()}, {m: c[1] for m, c in cells.items()}
    # Eff: ROME (95%) clearly above MEMIT (60%), MEMIT clearly above D4S (10%): best and second, with intervals
    assert eff["ROME"].startswith("**95.00 [") and eff["ROME"].endswith("]**")
    assert eff["MEMIT"].startswith("<u>60.00 [") and eff["D4S"].startswith("10.00 [")
    # Par: 60 / 57.5 / 55 on 40 requests lie within each other's intervals: nothing is marked
    assert all("**" not in c and "<u>" not in c and "[" in c for c in par.values()), par
    assert "95% interval" in md
    tex = tables.table3_latex(t3)
    assert r"\textbf{95.00 [" in tex and r"\textbf{60.00 [" not in tex and r"\underline{57.50" not in tex


def test_table3_without_per_request_keeps_the_plain_marks(tmp_path):
    from seqedit.report import tables

    t3 = tables.table3(tables.load_metrics(_metrics_files(tmp_path, per_request=False)))
    cells = _cells(tables.table3_markdown(t3))
    assert cells["ROME"][1] == "**60.00**" and cells["MEMIT"][1] == "<u>57.50</u>" and cells["D4S"][1] == "55.00"
    assert t3["Eff_lo"].isna().all()


def test_table4_headers_give_the_shot_count_and_cells_the_standard_error():
    import pandas as pd

    from seqedit.report.table4 import table4, table4_markdown

    rows = [{"model": "m", "dataset": None, "method": None, "n_edits": 0, "is_base": True, "task": "arc_challenge",
             "metric": "acc_norm", "value": 0.30, "stderr": 0.031, "num_fewshot": 25, "path": "base.json"},
            {"model": "m", "dataset": "zsre", "method": "d4s", "n_edits": 100, "is_base": False,
             "task": "arc_challenge", "metric": "acc_norm", "value": 0.25, "stderr": 0.03, "num_fewshot": 25,
             "path": "x.json"}]
    md = table4_markdown(table4(pd.DataFrame(rows)))
    assert "ARC-C (acc_norm, 25-shot)" in md
    assert "30.00 ±3.1" in md and "25.00 ±3.0 (-5.00)" in md


def test_fig6c_band_is_the_standard_error_of_the_task_average():
    import pandas as pd
    import pytest

    from seqedit.report.fig6 import average_stderr

    base = pd.DataFrame({"n_edits": [0, 0], "task": ["a", "b"], "stderr": [0.03, 0.04]})
    ck = pd.DataFrame({"n_edits": [5, 5], "task": ["a", "b"], "stderr": [0.06, 0.08]})
    se = average_stderr(ck, base, ["a", "b"])
    assert se.to_dict() == pytest.approx({0: 0.025, 5: 0.05})
