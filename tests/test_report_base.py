"""The unedited model's row (0 edits) of Tables 2 and 3 and its point in Fig. 8, on the report fixture of
test_report.py with planted base.json files: first row, the planted values with their 95% intervals, never bold or
underlined, and the other rows' marks as without it."""
from __future__ import annotations

import csv
import json
import re

import pytest
from test_report import MODEL, _fake_results, _write_json

N = 10
# per-request values of the unedited model (means: zsRE Eff 100, Par 95, Spe 100 - above every edited method,
# so a ranking that took it in would mark it)
ZSRE_RECORDS = [{"id": str(i), "efficacy": 1.0, "paraphrase": 0.5 if i == 0 else 1.0, "specificity": 1.0}
                for i in range(N)]
CF_RECORDS = [{"id": str(i), "efficacy": 0.5 if i < 1 else 0.0, "paraphrase": 0.0, "specificity": 1.0}
              for i in range(N)]
CF_BLOCK = dict(efficacy_success=0.1, efficacy_magnitude=-0.2, paraphrase_success=0.05, paraphrase_magnitude=-0.2,
                neighborhood_success=1.0, neighborhood_magnitude=0.3, score=0.07, fluency=6.3, fluency_base=6.3,
                n_generation_prompts=3)
MQ_BLOCK = dict(multi_hop_accuracy=0.1, single_hop_accuracy=0.05, n_cases=10, n_questions=30, n_hops=2.3,
                match_rule="new answer or alias, case-insensitive")


def _base_file(root, dataset, records, **blocks):
    means = {k: (sum(r[k] for r in records) / len(records) if records[0].get(k) is not None else None)
             for k in ("efficacy", "paraphrase", "specificity")}
    obj = {"model": MODEL, "dataset": dataset, "method": None, "n_edits": 0, "unedited": True,
           "protocol": "sequential", **means, "n_requests": len(records), "per_request": records,
           "protocols": {"sequential": means, "immediate": means}, **blocks}
    return _write_json(root / "results" / "metrics" / MODEL / dataset / "base.json", obj)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_base")
    inputs = _fake_results(root)
    mq_records = [{"id": str(i), "efficacy": 0.0, "paraphrase": None, "specificity": None} for i in range(N)]
    base = [_base_file(root, "zsre", ZSRE_RECORDS), _base_file(root, "counterfact", CF_RECORDS, counterfact=CF_BLOCK),
            _base_file(root, "mquake", mq_records, mquake=MQ_BLOCK)]
    fig_dir, tab_dir = root / "results" / "figures" / MODEL, root / "results" / "tables" / MODEL
    from seqedit.cli import main

    main(["report", "--model", MODEL, "--norms", *map(str, inputs["norms"]),
          "--metrics", *map(str, inputs["metrics"]), "--base-metrics", *map(str, base),
          "--downstream", *map(str, inputs["downstream"]), "--figures-dir", str(fig_dir),
          "--tables-dir", str(tab_dir), "--config", str(inputs["config"][0])])
    return {"tab": tab_dir, "fig": fig_dir, "inputs": inputs, "base": base}


def _md_rows(section: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| Edits", "| Method"))]


def _unmarked(cells) -> bool:
    return not any("**" in c or "<u>" in c for c in cells)


def test_table2_first_row_of_each_block_is_the_unedited_model(report):
    md = (report["tab"] / "table2_zsre.md").read_text()
    blocks = {b.split(" protocol")[0]: b for b in md.split("### zsre, ")[1:]}
    assert list(blocks) == ["sequential", "immediate", "unspecified"]  # no block of its own
    for name in ("sequential", "immediate"):  # no edit made: its numbers hold for either protocol
        first = _md_rows(blocks[name])[0]
        assert first[:2] == ["0", "Unedited"] and _unmarked(first), first
        assert first[3].startswith("95.00") and first[4].startswith("100.00") and first[5].startswith("98.33")
    first = _md_rows(blocks["sequential"])[0]  # the 95% intervals: of the sequential protocol, as for the others
    assert re.fullmatch(r"100\.00 \[100\.0, 100\.0\]", first[2])
    assert re.fullmatch(r"95\.00 \[\d+\.\d, 100\.0\]", first[3])
    assert "Unedited" not in blocks["unspecified"]  # MEMIT's file without protocol: the base has no such numbers
    rows = _md_rows(blocks["sequential"])
    # the edited rows are ranked among themselves, as without the base row: D4S best on Eff at 10 edits
    at10 = {r[1]: r for r in rows[rows.index(next(r for r in rows if r[0] == "10")):]}
    assert at10["D4S"][2] == "**99.00**" and at10["ROME"][2] == "<u>50.00</u>"
    assert sum("Unedited" in r for r in rows) == 1
    assert "Edits 0 = the unedited model" in md


def test_table2_csv_and_latex_hold_the_row(report):
    with open(report["tab"] / "table2_zsre.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["protocol"] == "sequential"]
    first = rows[0]
    assert (first["method"], first["n_edits"], first["n_requests"]) == ("unedited", "0", "10")
    assert [float(first[k]) for k in ("Eff", "Par", "Spe", "Avg")] == [100.0, 95.0, 100.0, 98.33]
    assert float(first["Eff_lo"]) == float(first["Eff_hi"]) == 100.0
    assert float(first["Par_lo"]) < 95.0 < float(first["Par_hi"]) == 100.0
    assert all(r["method"] != "unedited" for r in rows[1:])
    tex = (report["tab"] / "table2_zsre.tex").read_text()
    tables = tex.split("\\begin{table}")[1:]
    assert len(tables) == 3
    for i, table in enumerate(tables[:2]):  # sequential, immediate
        body = table.split("\\midrule\n", 1)[1]
        first_line = body.splitlines()[0]
        assert first_line.startswith("0 & Unedited & 100.00 [100.0, 100.0] & 95.00 [" if i == 0 else
                                     "0 & Unedited & 100.00 & 95.00 & 100.00 & 98.33"), first_line
        assert "\\textbf" not in first_line and "\\underline" not in first_line
        assert body.splitlines()[1] == "\\midrule"  # its own group, ruled off from the first checkpoint


def test_table3_first_rows_are_the_unedited_model(report):
    md = (report["tab"] / "table3_counterfact_mquake.md").read_text()
    cf, mq = md.split("### CounterFact")[1].split("### MQuAKE")
    cf_rows, mq_rows = _md_rows(cf), _md_rows(mq)
    # CounterFact: Method, Edits, Eff, Par, Spe, Avg, ES, PS, NS, S, Flu.
    first = cf_rows[0]
    assert first[:2] == ["Unedited", "0"] and _unmarked(first), first
    assert first[2].startswith("5.00 [") and first[4].startswith("100.00 [")
    assert first[6:] == ["10.00", "5.00", "100.00", "7.00", "6.30"]
    by_method = {r[0]: r for r in cf_rows[1:]}
    assert by_method["GRACE"][10] == "**6.20**" and by_method["D4S"][10] == "<u>6.15</u>"  # 6.30 not ranked
    assert by_method["D4S"][9] == "**79.00**"
    # MQuAKE: Method, Cases edited, Multi-hop, Single-hop, Cases, Rewrites, Questions
    assert mq_rows[0] == ["Unedited", "0", "10.00", "5.00", "10", "2", "30"]
    assert {r[0]: r[2] for r in mq_rows[1:]} == {"ROME": "<u>25.00</u>", "D4S": "**50.00**"}
    assert "Edits 0 = the unedited model" in cf
    with open(report["tab"] / "table3_counterfact_mquake.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    firsts = {d: next(r for r in rows if r["dataset"] == d) for d in ("counterfact", "mquake")}
    assert all((r["method"], r["n_edits"]) == ("unedited", "0") for r in firsts.values())
    assert float(firsts["counterfact"]["S"]) == 7.0 and float(firsts["mquake"]["MultiHop"]) == 10.0
    tex = (report["tab"] / "table3_counterfact_mquake.tex").read_text()
    for table in tex.split("\\begin{table}")[1:]:
        first_line = table.split("\\midrule\n", 1)[1].splitlines()[0]
        assert first_line.startswith("Unedited & 0 & ") and "\\textbf" not in first_line
        assert "\\underline" not in first_line


def test_the_report_records_the_base_inputs(report):
    prov = json.loads((report["tab"] / "table2_zsre.provenance.json").read_text())
    assert prov["inputs"]["base_metrics"] == [str(p) for p in report["base"]]


def test_fig8_shows_the_unedited_model_at_zero_edits(report):
    from seqedit.report import figures
    from seqedit.report.fig8 import BASE_LEGEND
    from seqedit.report.load import load_metrics

    fig = figures.fig8_edit_metrics(load_metrics(report["inputs"]["metrics"]), base=load_metrics(report["base"]))
    points = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() == BASE_LEGEND:
                points[ax.get_title()] = (list(line.get_xdata()), list(line.get_ydata()))
    assert points["Efficacy - zsre"] == ([0], [100.0]) and points["Paraphrase - zsre"] == ([0], [95.0])
    assert points["Specificity - counterfact"] == ([0], [100.0])
    assert "Specificity - mquake" not in points  # no locality prompts: no point
    assert BASE_LEGEND in [t.get_text() for t in fig.legends[0].get_texts()]


def test_a_base_row_in_a_group_takes_no_mark_and_changes_none():
    import pandas as pd

    from seqedit.report.table2 import interval_cells

    nan = float("nan")
    g = pd.DataFrame({"method": ["unedited", "rome", "d4s"], "Eff": [100.0, 50.0, 99.0], "Eff_lo": [nan] * 3,
                      "Eff_hi": [nan] * 3})
    assert interval_cells(g, "Eff") == [("100.00", ""), ("50.00", "second"), ("99.00", "best")]
