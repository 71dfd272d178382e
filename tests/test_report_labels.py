"""What the report's numbers count and follow: MQuAKE axes count rewrites (weight edits) or cases (edits), Table 3
says when it mixes protocols (`evaluation.protocol: immediate`), and names the CounterFact variant that ran (from
the registry) and MQuAKE's prompt."""
from __future__ import annotations

import pandas as pd

from seqedit.report.plot import requests_edited_label, weight_edits_label


def test_mquake_axes_say_whether_they_count_rewrites_or_cases():
    zsre = pd.DataFrame({"edit": [1, 2, 3], "request": [1, 2, 3]})
    mquake = pd.DataFrame({"edit": [1, 2, 3, 4, 5, 6], "request": [1, 1, 1, 2, 2, 2]})  # 3 rewrites per case
    old_csv = pd.DataFrame({"edit": [1, 2], "request": [float("nan")] * 2})
    assert weight_edits_label(zsre) == "number of edits" == weight_edits_label(old_csv)
    assert "rewrites" in weight_edits_label(mquake) and "rewrites" in weight_edits_label(mquake, "edit index")
    assert requests_edited_label(pd.DataFrame({"mq_n_cases": [float("nan")]})) == "number of edits"
    assert "MQuAKE cases" in requests_edited_label(pd.DataFrame({"mq_n_cases": [float("nan"), 3.0]}))


# ------------------------------------------------------------------------------------------ Table 3: protocols
def _t3_markdown(tmp_path, protocol: str, variants=None) -> str:
    import json

    from seqedit.report.load import load_metrics
    from seqedit.report.table3 import table3, table3_markdown

    path = tmp_path / "metrics" / "m" / "counterfact" / "rome" / "step_4.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "model": "m", "dataset": "counterfact", "method": "rome", "n_edits": 4, "protocol": protocol,
        "efficacy": 0.9, "paraphrase": 0.5, "specificity": 0.8, "n_requests": 4, "per_request": [],
        "protocols": {"sequential": {"efficacy": 0.7, "paraphrase": 0.4, "specificity": 0.8},
                      "immediate": {"efficacy": 0.9, "paraphrase": 0.5, "specificity": 0.8}},
        "counterfact": {"efficacy_success": 1.0, "paraphrase_success": 0.5, "neighborhood_success": 0.75,
                        "score": 0.69, "fluency": 6.0}}))
    return table3_markdown(table3(load_metrics([path]), variants=variants))


def test_table3_says_when_it_mixes_protocols(tmp_path):
    immediate = _t3_markdown(tmp_path, "immediate")
    assert "Protocols mixed (config evaluation.protocol: immediate)" in immediate
    assert "ES / PS / NS / S and Flu. are on the model after all k edits" in immediate
    assert "| ROME | 4 | 90.00 |" in immediate  # Eff of the immediate protocol
    assert "Protocols mixed" not in _t3_markdown(tmp_path, "sequential")


def _caption(name: str, protocol: str, variants_text: str = "") -> str:
    from pathlib import Path
    from types import SimpleNamespace

    import jinja2

    text = (Path(__file__).resolve().parents[1] / "rules" / "captions" / f"{name}.rst").read_text()
    snakemake = SimpleNamespace(config={"evaluation": {"protocol": protocol}}, wildcards=SimpleNamespace(model="m"),
                                params=SimpleNamespace(variants_text=variants_text))
    return jinja2.Template(text).render(snakemake=snakemake)


def test_table3_caption_says_when_it_mixes_protocols():
    assert "This table mixes" in _caption("table3_counterfact_mquake", "immediate")
    assert "This table mixes" not in _caption("table3_counterfact_mquake", "sequential")


# ------------------------------------------------------------------------------ the CounterFact variant that ran
def test_the_variant_comes_from_the_registry_for_the_file_that_runs(tmp_path):
    import json

    from seqedit.data import registry, variants

    assert variants.variant_key("counterfact", None) == registry.COUNTERFACT_ROME  # the URL: ROME's counterfact.json
    assert variants.variant_key("counterfact_easyedit", None) == registry.COUNTERFACT_EASYEDIT
    assert variants.variant_key("zsre", None) is None and variants.variant_key("mqd_tf", None) is None
    mirror = tmp_path / "mirror" / "counterfact"
    mirror.mkdir(parents=True)
    # the default's mirror file is EasyEdit's split under the `counterfact` name: its records say so
    (mirror / "counterfact_edit_easyedit_first2000.json").write_text(json.dumps([
        {"subject": "A", "prompt": "A is in", "target_new": "B", "ground_truth": "C", "rephrase_prompt": "A lies in",
         "locality_prompt": "D is in", "locality_ground_truth": "C"}]))
    assert variants.variant_key("counterfact", tmp_path / "mirror") == registry.COUNTERFACT_EASYEDIT
    (mirror / "counterfact.json").write_text(json.dumps([{"case_id": 0, "requested_rewrite": {
        "prompt": "{} is in", "subject": "A", "target_new": {"str": "B"}, "target_true": {"str": "C"}}}]))
    assert variants.variant_key("counterfact", tmp_path / "mirror") == registry.COUNTERFACT_ROME
    assert "2 paraphrases, 10 neighbourhood prompts" in variants.variant_label(registry.COUNTERFACT_ROME)


def test_report_fixture_names_the_variant_in_table3_and_the_captions(tmp_path):
    import csv

    from test_report import MODEL, _fake_results

    from seqedit.cli import main

    inputs = _fake_results(tmp_path)
    tab = tmp_path / "tables"
    main(["report", "--model", MODEL, "--norms", *map(str, inputs["norms"]), "--metrics", *map(str, inputs["metrics"]),
          "--downstream", *map(str, inputs["downstream"]), "--tables-dir", str(tab),
          "--config", str(inputs["config"][0]), "--variants", "counterfact=counterfact-easyedit"])
    label = "EasyEdit's counterfact-edit (1 rephrase, 1 neighbourhood prompt per request)"
    assert f"### CounterFact: {label}" in (tab / "table3_counterfact_mquake.md").read_text()
    assert label in (tab / "table3_counterfact_mquake.tex").read_text()
    with open(tab / "table3_counterfact_mquake.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["variant"] for r in rows if r["dataset"] == "counterfact"} == {label}
    assert {r["variant"] for r in rows if r["dataset"] == "mquake"} == {""}
    for caption in ("table3_counterfact_mquake", "fig8_edit_metrics"):
        assert label in _caption(caption, "sequential", f"counterfact: {label}")
