"""The report never ranks a failed run (issue 11). On the report fixture: a NaN metrics file, a missing one, a
non-finite number in a CounterFact block, norms that turn NaN mid-chain and a missing downstream file. Before, a
missing file stopped the report (FileNotFoundError) and a broken model's numbers were ranked like any other
(MEMIT at 0.00, underlined); now the tables say "failed" / "missing" in the run's cells, unmarked, the figures
leave the run out and say so in a legend, and the claims that need it are inconclusive: "no data (failed run)"."""
from __future__ import annotations

import csv
import json
import math

import pytest

from test_report import MODEL, _fake_results, _md_rows, _md_section


def _nan_norms_from(path, edit):
    """The norms CSV with mean|W| NaN from ``edit`` on (a diverging chain)."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("mean_abs_w")
    for row in rows[1:]:
        if int(row[0]) >= edit:
            row[col] = "nan"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _set(path, **values):
    obj = json.loads(path.read_text())
    obj.update(values)
    if "protocols" in obj:
        obj["protocols"]["sequential"].update({k: v for k, v in values.items() if k in ("efficacy", "paraphrase")})
    path.write_text(json.dumps(obj))  # NaN / Infinity as Python's json writes them


@pytest.fixture(scope="module")
def failed_report(tmp_path_factory):
    import seqedit.report.figures as figures_module

    root = tmp_path_factory.mktemp("failed_report")
    inputs = _fake_results(root)
    res = root / "results"
    _set(res / "metrics" / MODEL / "zsre" / "rome" / "step_10.json", efficacy=float("nan"))
    (res / "metrics" / MODEL / "zsre" / "d4s" / "step_7.json").unlink()  # the chain's job did not finish
    _nan_norms_from(res / "norms" / MODEL / "zsre" / "d4s.csv", 8)  # D4S's weights NaN from edit 8
    _set(res / "metrics" / MODEL / "counterfact" / "rome" / "step_10.json", paraphrase=float("inf"))
    (res / "downstream" / MODEL / "zsre" / "grace" / "step_10.json").unlink()
    fig_dir, tab_dir = res / "figures" / MODEL, res / "tables" / MODEL
    saved = {}
    real_save = figures_module.save

    def keep(fig, out_dir, name, *args, **kwargs):
        saved[name] = fig
        return real_save(fig, out_dir, name, *args, **kwargs)

    figures_module.save = keep
    try:
        from seqedit.cli import main

        main(["report", "--model", MODEL, "--norms", *map(str, inputs["norms"]),
              "--metrics", *map(str, inputs["metrics"]), "--downstream", *map(str, inputs["downstream"]),
              "--figures-dir", str(fig_dir), "--tables-dir", str(tab_dir), "--config", str(inputs["config"][0])])
    finally:
        figures_module.save = real_save
    return {"tab": tab_dir, "fig": fig_dir, "figures": saved}


def test_table2_shows_failed_and_missing_runs_unranked(failed_report):
    md = (failed_report["tab"] / "table2_zsre.md").read_text()
    seq = _md_section(md, "### zsre, sequential protocol")
    at10 = _md_rows(seq, 10)
    assert at10["ROME"] == ["failed"] * 4  # NaN efficacy
    assert at10["D4S"] == ["failed"] * 4  # its numbers (Eff 99.00, the best) came from NaN weights
    assert at10["GRACE"][0] == "30.00"  # the one number left: nothing to rank it against
    assert list(at10) == ["ROME", "GRACE", "D4S"]  # the paper's method order, failed runs included
    assert _md_rows(seq, 4)["D4S"][0] == "**86.00**"  # D4S's checkpoints before the NaN weights are kept
    assert _md_rows(seq, 7)["D4S"] == ["missing"] * 4
    assert "missing = its file was not produced" in md
    prov = json.loads((failed_report["tab"] / "table2_zsre.provenance.json").read_text())
    missing = [r for r in prov["failed_runs"] if r["problem"] == "missing" and r["kind"] == "metrics"]
    assert [(r["method"], r["n_edits"], r["path"].endswith("zsre/d4s/step_7.json")) for r in missing] == [
        ("d4s", 7, True)]  # the file left out, named in the provenance
    imm = _md_rows(_md_section(md, "### zsre, immediate protocol"), 10)
    assert imm["ROME"] == ["failed"] * 4 and imm["D4S"] == ["failed"] * 4
    assert list(_md_rows(_md_section(md, "### zsre, unspecified protocol"), 10)) == ["MEMIT"]  # not ROME's block
    tex = (failed_report["tab"] / "table2_zsre.tex").read_text()
    assert r" & ROME & failed & failed & failed & failed \\" in tex

    import pandas as pd

    t2 = pd.read_csv(failed_report["tab"] / "table2_zsre.csv", keep_default_na=False)
    seq10 = t2[(t2["protocol"] == "sequential") & (t2["n_edits"] == 10)].set_index("method")
    assert seq10.loc["rome", "status"] == "failed" and seq10.loc["rome", "Eff"] == ""
    assert seq10.loc["grace", "status"] == ""


def test_table3_and_table4_mark_the_failed_runs(failed_report):
    md = (failed_report["tab"] / "table3_counterfact_mquake.md").read_text()
    cf = md.split("### CounterFact")[1].split("\n### ")[0]
    rome = next(line for line in cf.splitlines() if line.startswith("| ROME "))
    assert set(c.strip() for c in rome.strip("|").split("|")[2:]) == {"failed"}  # Infinity in a block
    assert "**" not in rome and "<u>" not in rome
    t4 = (failed_report["tab"] / "table4_downstream.md").read_text()
    grace = next(line for line in t4.splitlines() if "| GRACE |" in line)
    d4s = next(line for line in t4.splitlines() if "| D4S |" in line)
    assert set(c.strip() for c in grace.strip("|").split("|")[3:]) == {"missing"}
    assert set(c.strip() for c in d4s.strip("|").split("|")[3:]) == {"failed"}  # NaN weights from edit 8


def test_claims_that_need_a_failed_run_are_inconclusive(failed_report):
    import pandas as pd

    claims = pd.read_csv(failed_report["tab"] / "claims.csv")
    for label, methods in [("C4", "D4S vs ROME, MEMIT"), ("C1", "MEMIT vs D4S's W0 value"), ("C6 (lm-eval)", "D4S")]:
        row = claims[(claims["claim"] == label) & (claims["methods"] == methods)].iloc[0]
        assert row["verdict"] == "inconclusive" and row["evidence"].startswith("no data (failed run): D4S on zsre")
    c5 = claims[claims["claim"] == "C5"].iloc[0]
    assert c5["verdict"] == "inconclusive" and "ROME on zsre: metrics after 10 edits non-finite" in c5["evidence"]
    c2_rome = claims[(claims["claim"] == "C2") & (claims["methods"] == "ROME")].iloc[0]
    assert "failed run" not in c2_rome["evidence"]  # ROME's norms are fine: C2 is computed


def _lines(fig):
    return {line.get_label() for ax in fig.axes for line in ax.get_lines()}


def _legend_text(fig):
    return " ".join(t.get_text() for legend in fig.legends for t in legend.get_texts()).replace("\n", " ")


def test_figures_leave_failed_runs_out_and_say_so(failed_report):
    figs = failed_report["figures"]
    fig8 = figs["fig8_edit_metrics"]
    zsre_panels = [ax for ax in fig8.axes if ax.get_title().endswith("- zsre")]
    assert zsre_panels and all("ROME" not in {li.get_label() for li in ax.get_lines()} for ax in zsre_panels)
    text = _legend_text(fig8)
    assert "ROME on zsre: not shown, failed run" in text and "ROME on counterfact: not shown" in text
    assert "D4S on zsre: not shown, failed run" in text
    fig5 = figs["fig5_norms_per_layer"]
    assert "D4S on zsre: not shown, failed run (norms non-finite from edit 8)" in _legend_text(fig5)
    assert "GRACE on zsre: not shown, failed run (downstream after 10 edits missing)" in _legend_text(
        figs["fig2_downstream"])
    fig6 = figs["fig6_norms_methods"]
    zsre_norms = [ax for ax in fig6.axes if ax.get_title() == "(a/b) mean |W| - zsre"][0]
    assert "D4S" not in {li.get_label() for li in zsre_norms.get_lines()} and "ROME" in _lines(fig6)


def test_screen_names_each_problem(tmp_path):
    from seqedit.report.failures import BROKEN, MISSING, NON_FINITE, UNREADABLE, screen

    root = tmp_path / "results"
    m = root / "metrics" / "m" / "zsre" / "rome"
    m.mkdir(parents=True)
    (m / "step_1.json").write_text(json.dumps({"n_edits": 1, "efficacy": 0.5, "paraphrase": None}))
    (m / "step_2.json").write_text('{"n_edits": 2, "efficacy": NaN}')
    (m / "step_3.json").write_text('{"n_edits": 3, "efficacy": 0.5')
    (m / "step_5.json").write_text(json.dumps({"n_edits": 5, "efficacy": 0.5}))
    norms = root / "norms" / "m" / "zsre" / "rome.csv"
    norms.parent.mkdir(parents=True)
    norms.write_text("edit,param,layer,mean_abs_w,mean_abs_delta_total\n1,w,1,0.1,\n5,w,1,inf,1.0\n")  # "": absent
    d = root / "downstream" / "m" / "zsre" / "rome"
    d.mkdir(parents=True)
    (d / "step_1.json").write_text(json.dumps({"tasks": {"arc": {"value": 0.3, "stderr": None}}}))
    (d / "step_2.json").write_text(json.dumps({"tasks": {"arc": {"value": None, "stderr": None}}}))
    got = screen([norms], [m / f"step_{k}.json" for k in (1, 2, 3, 4, 5)], [d / "step_1.json", d / "step_2.json"])
    assert got.metrics == [str(m / "step_1.json")] and got.norms == [] and got.downstream == [str(d / "step_1.json")]
    problems = {(r.kind, r.n_edits if not (isinstance(r.n_edits, float) and math.isnan(r.n_edits)) else None):
                r.problem for r in got.failed.itertuples()}
    assert problems == {("norms", 5): NON_FINITE, ("metrics", 2): NON_FINITE, ("metrics", 3): UNREADABLE,
                        ("metrics", 4): MISSING, ("metrics", 5): BROKEN, ("downstream", 2): NON_FINITE}
