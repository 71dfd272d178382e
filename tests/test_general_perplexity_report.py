"""The held-out perplexity in the report (issue 9) on designed files: the paired change and its bootstrap interval,
the verdicts of C6 (perplexity) of each kind, C7/C8 with the perplexity's rise as the damage, the table and Fig. 6d."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from seqedit.report import claims, claims_data, claims_general, verdicts
from seqedit.report.damage import perplexity_damage_table
from seqedit.report.general_ppl import change_table, load_general_perplexity, paired_difference

N_BLOCKS = 32
BASE = 3.0 + 0.2 * np.random.default_rng(0).standard_normal(N_BLOCKS)  # the base model's per-block NLL


def write(tmp_path, nll, dataset=None, method=None, n_edits=0, tokens="t0"):
    """A general-perplexity file as the command writes it (``nll``: per-block NLL)."""
    if method is None:
        path = tmp_path / "m" / "base.json"
    else:
        path = tmp_path / "m" / dataset / method / f"step_{n_edits}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    nll = [float(x) for x in nll]
    mean = sum(nll) / len(nll)
    path.write_text(json.dumps({"model": "m", "dataset": dataset, "method": method, "n_edits": n_edits,
                                "corpus": "wikitext2-train-excerpt", "tokens_sha256": tokens, "n_tokens": 512 * len(nll),
                                "block_length": 512, "n_blocks": len(nll), "mean_nll": mean,
                                "perplexity": math.exp(mean), "block_nll": nll}))
    return path


def frame(tmp_path, shifts: dict, noise: float = 0.0, dataset="zsre", steps=(50, 100)):
    """Base file plus one file per (method, step): the base NLL + ``shifts[method] * step / max(steps)`` per block,
    with seeded per-block noise of standard deviation ``noise``."""
    rng = np.random.default_rng(1)
    paths = [write(tmp_path, BASE)]
    for method, shift in shifts.items():
        for step in steps:
            nll = BASE + shift * step / max(steps) + noise * rng.standard_normal(N_BLOCKS)
            paths.append(write(tmp_path, nll, dataset, method, step))
    return load_general_perplexity(paths)


def test_paired_difference_and_its_bootstrap_interval():
    const = paired_difference(BASE + 0.05, BASE)
    assert const["mean"] == pytest.approx(0.05) and const["low"] == pytest.approx(0.05)
    assert const["high"] == pytest.approx(0.05) and const["se"] == pytest.approx(0.0, abs=1e-12)
    # half the blocks +0.1, half -0.1 (alternating): mean 0, se = sd / sqrt(n) = 0.1016 / sqrt(32)
    diffs = np.array([0.1, -0.1] * 16)
    alt = paired_difference(BASE + diffs, BASE)
    assert alt["mean"] == pytest.approx(0.0, abs=1e-12) and alt["n"] == 32
    assert alt["se"] == pytest.approx(np.std(diffs, ddof=1) / math.sqrt(32))
    assert -0.06 < alt["low"] < -0.02 and 0.02 < alt["high"] < 0.06  # ~ +-1.96 se = +-0.035
    assert alt == paired_difference(BASE + diffs, BASE)  # seeded: the same interval every time


def test_change_table_pairs_each_checkpoint_with_the_base_model(tmp_path):
    gp = frame(tmp_path, {"rome": math.log(1.10), "d4s": 0.0})
    t = change_table(gp)
    assert list(t["method"].fillna("base")) == ["base", "rome", "rome", "d4s", "d4s"]
    assert list(t["n_edits"]) == [0, 50, 100, 50, 100]
    assert t.iloc[0]["n_edits"] == 0 and t.iloc[0]["change_pct"] == 0.0
    rome = t[(t["method"] == "rome") & (t["n_edits"] == 100)].iloc[0]
    assert rome["change_pct"] == pytest.approx(10.0) and rome["change_pct_lo"] == pytest.approx(10.0)
    assert rome["perplexity"] / rome["base_perplexity"] == pytest.approx(1.10)
    half = t[(t["method"] == "rome") & (t["n_edits"] == 50)].iloc[0]
    assert half["delta_nll"] == pytest.approx(math.log(1.10) / 2)
    assert list(t.loc[t["method"] == "d4s", "change_pct"]) == pytest.approx([0.0, 0.0], abs=1e-9)
    # a checkpoint over other tokens is not paired
    other = load_general_perplexity([write(tmp_path, BASE), write(tmp_path, BASE + 1, "zsre", "memit", 100, "t1")])
    assert math.isnan(change_table(other).iloc[1]["change_pct"])


def c6_verdicts(gp) -> dict[str, str]:
    return {r["methods"]: r["verdict"] for r in claims_general.c6_perplexity(gp, "zsre")}


def test_c6_perplexity_reproduced(tmp_path):
    gp = frame(tmp_path, {"rome": 0.20, "memit": 0.10, "d4s": 0.002}, noise=0.002)
    got = c6_verdicts(gp)
    assert got == {"ROME": verdicts.REPRODUCED, "MEMIT": verdicts.REPRODUCED, "D4S": verdicts.REPRODUCED}


def test_c6_perplexity_d4s_reproduced_by_being_significantly_below_both(tmp_path):
    """D4S rises 3% (outside the 1% band) but far less than ROME (+22%) and MEMIT (+11%): still reproduced."""
    gp = frame(tmp_path, {"rome": 0.20, "memit": 0.10, "d4s": 0.03}, noise=0.002)
    assert c6_verdicts(gp)["D4S"] == verdicts.REPRODUCED


def test_c6_perplexity_not_reproduced(tmp_path):
    gp = frame(tmp_path, {"rome": 0.0, "memit": -0.002, "d4s": 0.10}, noise=0.002)
    got = c6_verdicts(gp)
    assert got == {"ROME": verdicts.NOT_REPRODUCED, "MEMIT": verdicts.NOT_REPRODUCED, "D4S": verdicts.NOT_REPRODUCED}


def test_c6_perplexity_inconclusive(tmp_path):
    gp = frame(tmp_path, {"rome": 0.01, "memit": 0.01, "d4s": 0.01}, noise=0.08)
    got = c6_verdicts(gp)
    assert got == {"ROME": verdicts.INCONCLUSIVE, "MEMIT": verdicts.INCONCLUSIVE, "D4S": verdicts.INCONCLUSIVE}
    rows = claims_general.c6_perplexity(gp, "zsre")
    assert all(r["claim"] == "C6 (perplexity)" for r in rows)
    assert "after 100 edits" in rows[0]["evidence"] and "32 blocks" in rows[0]["evidence"]


def test_claims_table_labels_both_measures(tmp_path):
    import pandas as pd

    gp = frame(tmp_path, {"rome": 0.20, "memit": 0.10, "d4s": 0.0}, noise=0.002)
    downstream = pd.DataFrame([{"model": "m", "dataset": None, "method": None, "n_edits": 0, "is_base": True,
                                "task": "hellaswag", "value": 0.4, "stderr": 0.03}])
    norms = pd.DataFrame([{"model": "m", "dataset": "zsre", "method": "rome", "edit": 1, "param": "w", "layer": 4,
                           "mean_abs_w": 0.1, "z_prob_last": 0.9, "immediate_efficacy": 1.0}])
    df = claims.claims_table(norms, None, downstream, general_perplexity=gp)
    got = {(r.claim, r.methods): r.verdict for r in df.itertuples()}
    assert got[("C6 (perplexity)", "ROME")] == got[("C6 (perplexity)", "D4S")] == verdicts.REPRODUCED
    assert got[("C6 (lm-eval)", "ROME")] == verdicts.INCONCLUSIVE  # no edited lm-eval file
    assert got[("C8 (lm-eval)", "KN, ROME, MEMIT")] == got[("C8 (perplexity)", "KN, ROME, MEMIT")] == \
        verdicts.INCONCLUSIVE  # one dataset
    without = claims.claims_table(norms, None, downstream)  # not configured: no perplexity rows
    assert not without["claim"].str.contains("perplexity").any()


def forms(tmp_path, rises: dict[str, float], noise=0.002):
    """ROME on the three MQD forms with the given perplexity rise (NLL) after 20 edits."""
    rng = np.random.default_rng(2)
    paths = [write(tmp_path, BASE)]
    for form, rise in rises.items():
        paths.append(write(tmp_path, BASE + rise + noise * rng.standard_normal(N_BLOCKS), form, "rome", 20))
    return load_general_perplexity(paths)


TARGET_PPL = {"mqd_tf": 12.0, "mqd_mc": 40.0, "mqd_dg": 300.0}


def test_c7_c8_with_the_perplexity_damage(tmp_path):
    table = perplexity_damage_table(forms(tmp_path / "a", {"mqd_tf": 0.01, "mqd_mc": 0.05, "mqd_dg": 0.20}))
    assert set(table["dataset"]) == {"mqd_tf", "mqd_mc", "mqd_dg"} and set(table["n_tasks"]) == {N_BLOCKS}
    dg = table[table["dataset"] == "mqd_dg"].iloc[0]
    assert dg["damage"] == pytest.approx(0.20, abs=0.003) and 0 < dg["se"] < 0.001

    ordered = forms(tmp_path / "b", {"mqd_tf": 0.01, "mqd_mc": 0.05, "mqd_dg": 0.20})
    c7 = claims_data.c7_from_perplexity(ordered, TARGET_PPL, methods=["rome"])
    assert c7["verdict"] == verdicts.REPRODUCED and c7["claim"].startswith("C7 (perplexity")
    assert c7["measure"] == "perplexity" and "% ppl rise" in c7["evidence"]
    c8 = claims_data.c8_from_perplexity(ordered, methods=["rome"])
    assert c8["verdict"] == verdicts.REPRODUCED and c8["claim"].startswith("C8 (perplexity")

    reversed_ = forms(tmp_path / "c", {"mqd_tf": 0.20, "mqd_mc": 0.05, "mqd_dg": 0.01})
    assert claims_data.c7_from_perplexity(reversed_, TARGET_PPL, methods=["rome"])["verdict"] == \
        verdicts.NOT_REPRODUCED
    same = forms(tmp_path / "d", {"mqd_tf": 0.05, "mqd_mc": 0.05, "mqd_dg": 0.05}, noise=0.0005)
    assert claims_data.c8_from_perplexity(same, methods=["rome"])["verdict"] == verdicts.NOT_REPRODUCED
    noisy = forms(tmp_path / "e", {"mqd_tf": 0.01, "mqd_mc": 0.02, "mqd_dg": 0.03}, noise=0.3)
    assert claims_data.c7_from_perplexity(noisy, TARGET_PPL, methods=["rome"])["verdict"] == verdicts.INCONCLUSIVE


def test_table_and_fig6_row(tmp_path):
    from seqedit.report.fig6 import fig6_norms_methods
    from seqedit.report.general_ppl import general_perplexity_latex, general_perplexity_markdown

    gp = frame(tmp_path, {"rome": math.log(1.10), "d4s": 0.0})
    md = general_perplexity_markdown(change_table(gp), None, "Held-out perplexity")
    assert "| zsre | ROME | 100 |" in md and "+10.00 [+10.00, +10.00]" in md and "| - | base model | 0 |" in md
    assert "wikitext2-train-excerpt; 32 blocks" in md
    assert "tab:general-perplexity" in general_perplexity_latex(change_table(gp), None, "t")
    assert "no data" in general_perplexity_markdown(change_table(None), None, "t")
    fig = fig6_norms_methods(None, None, general_perplexity=gp)
    assert len(fig.axes) == 3  # (a/b), (c), (d) for the one dataset
    ppl_ax = [ax for ax in fig.axes if ax.get_title().startswith("(d)")][0]
    ys = {line.get_label(): list(line.get_ydata()) for line in ppl_ax.get_lines() if line.get_label()[0] != "_"}
    assert ys["ROME"] == pytest.approx([0.0, 100 * (math.sqrt(1.1) - 1), 10.0])
    assert len(fig6_norms_methods(None, None).axes) == 2  # without the measure: the figure as before


def test_report_command_writes_the_table_figure_and_claims(tmp_path):
    import pandas as pd

    from seqedit.report.cli import cli

    paths = [write(tmp_path, BASE)] + [write(tmp_path, BASE + math.log(1 + r), "zsre", m, 100)
                                       for m, r in (("rome", 0.2), ("memit", 0.1), ("d4s", 0.0))]
    out = tmp_path / "out"
    cli("report", ["--model", "m", "--general-perplexity", *map(str, paths), "--tables-dir", str(out / "t"),
                   "--figures-dir", str(out / "f"), "--formats", "png"])
    table = pd.read_csv(out / "t" / "table_general_perplexity.csv")
    assert list(table["method"].fillna("base")) == ["base", "rome", "memit", "d4s"]
    assert list(table["change_pct"].round(2)) == [0.0, 20.0, 10.0, 0.0]
    claims_csv = pd.read_csv(out / "t" / "claims.csv")
    # (C1-C6 need the norms of a main dataset; C8 does not) one dataset: C8 cannot tell
    assert claims_csv.set_index("claim").loc["C8 (perplexity)", "verdict"] == verdicts.INCONCLUSIVE
    assert (out / "f" / "fig6_norms_methods.png").stat().st_size > 0
    prov = json.loads((out / "t" / "table_general_perplexity.provenance.json").read_text())
    assert prov["inputs"]["general_perplexity"] == [str(p) for p in paths]
    # without the option: no perplexity rows, the table says no data
    cli("report", ["--model", "m", "--tables-dir", str(out / "t2")])
    assert "no data" in (out / "t2" / "table_general_perplexity.md").read_text()
    assert not pd.read_csv(out / "t2" / "claims.csv")["claim"].str.contains("perplexity").any()


def test_data_perspective_report_adds_the_perplexity_measure(tmp_path):
    from seqedit.report.data_perspective import make_data_report
    from seqedit.report.fig3 import fig3_mqd

    gp = forms(tmp_path / "gp", {"mqd_tf": 0.01, "mqd_mc": 0.05, "mqd_dg": 0.20})
    paths = list(gp["path"])
    from seqedit.report.load import load_downstream

    fig = fig3_mqd(load_downstream([]), TARGET_PPL, methods=["rome"], general_perplexity=gp)
    ax = [a for a in fig.axes if a.get_title() == "ROME - held-out perplexity"][0]
    lines = {bars.get_label()[:2]: list(bars.lines[0].get_ydata()) for bars in ax.containers}  # errorbars
    assert set(lines) == {"T/", "MC", "DG"}  # one line per form, labelled with its target perplexity
    assert lines["DG"] == pytest.approx([0.0, 100 * math.expm1(0.20)], abs=0.5)
    claims_out = make_data_report("m", [], [], str(tmp_path / "f"), str(tmp_path / "t"), c7_methods=["rome"],
                                  c8_methods=["rome"], general_perplexity=paths)
    assert [(c["claim"][:2], c["measure"]) for c in claims_out] == [("C7", "lm-eval"), ("C8", "lm-eval"),
                                                                    ("C7", "perplexity"), ("C8", "perplexity")]
    assert claims_out[3]["verdict"] == verdicts.REPRODUCED  # the three forms' rises differ
    saved = json.loads((tmp_path / "t" / "claims_data.json").read_text())
    assert saved == claims_out
    without = make_data_report("m", [], [], str(tmp_path / "f2"), str(tmp_path / "t2"))
    assert [c["measure"] for c in without] == ["lm-eval", "lm-eval"]


def _downstream_file(root, dataset=None, method=None, n_edits=0, value=0.3):
    path = root / "m" / "base.json" if method is None else root / "m" / dataset / method / f"step_{n_edits}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"method": method, "n_edits": n_edits,
              "tasks": {"hellaswag": {"metric": "acc_norm", "value": value, "stderr": 0.03, "num_fewshot": 0}}}
    path.write_text(json.dumps(record))
    return path


def test_fig3_without_lm_eval_on_the_forms_is_the_perplexity_column_alone(tmp_path):
    """The findings config runs lm-eval on zsRE only: Fig. 3 draws no empty lm-eval panels for the MQD forms (the
    old code took the tasks of every downstream file, the base model's and zsRE's, and drew 'no data' for each)."""
    from seqedit.report.fig3 import fig3_mqd
    from seqedit.report.load import load_downstream

    gp = forms(tmp_path / "gp", {"mqd_tf": 0.01, "mqd_mc": 0.05, "mqd_dg": 0.20})
    zsre_only = [_downstream_file(tmp_path / "ds"), _downstream_file(tmp_path / "ds", "zsre", "rome", 100, 0.2)]
    fig = fig3_mqd(load_downstream(zsre_only), TARGET_PPL, methods=["rome", "memit"], general_perplexity=gp)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["ROME - held-out perplexity", "MEMIT - held-out perplexity"]
    assert "no lm-eval on the forms" in " ".join(fig._suptitle.get_text().split())
    # lm-eval on one form brings its task's columns back (the other forms' lines are simply absent)
    with_form = [*zsre_only, _downstream_file(tmp_path / "ds", "mqd_tf", "rome", 20, 0.25)]
    fig = fig3_mqd(load_downstream(with_form), TARGET_PPL, methods=["rome"], general_perplexity=gp)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["ROME - HellaSwag", "ROME - held-out perplexity"]
    # neither lm-eval on the forms nor the perplexity: the base model's tasks, each panel saying "no data"
    fig = fig3_mqd(load_downstream(zsre_only), TARGET_PPL, methods=["rome"])
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["ROME - HellaSwag"]


def test_fig2_by_the_perplexity_draws_one_line_per_dataset_and_names_identical_chains(tmp_path):
    """Fig. 2 without lm-eval on the forms (the findings config): the C8 (perplexity) evidence, one line per editing
    dataset; CounterFact and DG (same tensors) are named as one chain."""
    from seqedit.report.fig2_perplexity import fig2_perplexity

    gp = forms(tmp_path / "gp", {"mqd_tf": 0.01, "mqd_mc": 0.05, "mqd_dg": 0.20, "counterfact": 0.20})
    same = {("rome", 20): {"mqd_dg": "h1", "counterfact": "h1", "mqd_tf": "h2", "mqd_mc": "h3"}}
    fig = fig2_perplexity(gp, ["rome", "memit"], same_edits=same)
    rome, memit = [a for a in fig.axes if a.get_title()]
    assert rome.get_title() == "ROME - held-out perplexity"
    lines = {bars.get_label(): list(bars.lines[0].get_ydata()) for bars in rome.containers}
    assert set(lines) == {"mqd_tf", "mqd_mc", "mqd_dg (= counterfact: same checkpoints)",
                          "counterfact (= mqd_dg: same checkpoints)"}
    assert lines["mqd_mc"] == pytest.approx([0.0, 100 * math.expm1(0.05)], abs=0.5)
    assert [t.get_text() for t in memit.texts] == ["no data"]  # no MEMIT results
    empty = fig2_perplexity(None, ["rome"])
    assert [t.get_text() for t in empty.axes[0].texts] == ["no data"]
