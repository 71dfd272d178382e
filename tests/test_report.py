"""Report stage on a tiny fake results folder: every declared output exists, Table 2 marks, Table 4 changes,
provenance."""
from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path

import pytest

from seqedit.report import FIGURES, TABLES, figure_outputs, table_outputs

MODEL = "tiny"
DATASETS = ["zsre", "counterfact"]
METHODS = ["rome", "d4s"]
STEPS = [4, 7, 10]
N_EDITS = 10

# Table 2 case (zsre, 10 edits): values in [0, 1]; memit only has metrics (third method for the ranking)
CASE = {
    "rome": (0.50, 0.40, 0.90),
    "d4s": (0.99, 0.80001, 0.90),  # Par 80.00 after rounding: ties with memit
    "memit": (0.70, 0.80, 0.85),
}
BASE = {"arc_challenge": 0.40, "hellaswag": 0.50, "mmlu": 0.45, "gsm8k": 0.10}
LAST_D4S_ZSRE = {"arc_challenge": 0.38, "hellaswag": 0.55, "mmlu": 0.45, "gsm8k": 0.02}


def _write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def _fake_results(root: Path) -> dict[str, list[Path]]:
    res = root / "results"
    norms, metrics, downstream = [], [], []
    for dataset in DATASETS:
        for method in METHODS:
            layers = [5] if method == "rome" else [4, 5, 6]
            p = res / "norms" / MODEL / dataset / f"{method}.csv"
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["edit", "param", "layer", "mean_abs_w", "mean_abs_delta_total", "mean_abs_delta_step",
                            "z_prob_first", "z_prob_last", "seconds"])
                for e in range(1, N_EDITS + 1):
                    for layer in layers:
                        growth = 0.004 * e * e if method == "rome" else 0.0001 * e
                        w0 = 0.02 + 0.001 * layer
                        zf, zl = (0.01, max(0.05, 1.0 - 0.08 * e)) if method == "rome" else (0.02, 0.97)
                        no_z = dataset == "counterfact" and method == "rome"  # empty z-probabilities
                        w.writerow([e, f"model.layers.{layer}.mlp.down_proj.weight", layer, w0 + growth, growth,
                                    0.001, "" if no_z else zf, "" if no_z else zl, 0.5])
            norms.append(p)
            for k in STEPS:
                if dataset == "zsre" and k == 10:
                    eff, par, spe = CASE[method]
                else:
                    eff, par, spe = 0.9 - 0.01 * k, 0.8 - 0.01 * k, 0.95
                obj = {"model": MODEL, "dataset": dataset, "method": method, "n_edits": k, "protocol": "sequential",
                       "efficacy": eff, "paraphrase": par, "specificity": spe, "n_requests": k, "per_request": []}
                metrics.append(_write_json(res / "metrics" / MODEL / dataset / method / f"step_{k}.json", obj))
    eff, par, spe = CASE["memit"]
    # no model/dataset/method in the JSON: parsed from the path
    metrics.append(_write_json(res / "metrics" / MODEL / "zsre" / "memit" / "step_10.json",
                               {"n_edits": 10, "efficacy": eff, "paraphrase": par, "specificity": spe,
                                "n_requests": 10, "per_request": []}))
    task = lambda v: {"metric": "acc", "value": v, "stderr": 0.01}  # noqa: E731
    downstream.append(_write_json(res / "downstream" / MODEL / "base.json",
                                  {"n_edits": 0, "method": None, "tasks": {t: task(v) for t, v in BASE.items()}}))
    for method in METHODS:  # downstream only on zsre: the counterfact panels say "no data"
        for k in STEPS:
            if method == "d4s" and k == STEPS[-1]:
                vals = LAST_D4S_ZSRE
            else:
                vals = {t: v - (0.01 * k if method == "rome" else 0.001 * k) for t, v in BASE.items()}
            downstream.append(_write_json(res / "downstream" / MODEL / "zsre" / method / f"step_{k}.json",
                                          {"n_edits": k, "method": method,
                                           "tasks": {t: task(v) for t, v in vals.items()}}))
    config = root / "config.yaml"
    config.write_text("model: tiny\nedits: 10\n")
    return {"norms": norms, "metrics": metrics, "downstream": downstream, "config": [config]}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    inputs = _fake_results(root)
    fig_dir, tab_dir = root / "results" / "figures" / MODEL, root / "results" / "tables" / MODEL
    from seqedit.cli import main

    argv = ["report", "--model", MODEL, "--norms", *map(str, inputs["norms"]),
            "--metrics", *map(str, inputs["metrics"]), "--downstream", *map(str, inputs["downstream"]),
            "--figures-dir", str(fig_dir), "--tables-dir", str(tab_dir), "--config", str(inputs["config"][0])]
    main(argv)
    return {"root": root, "fig": fig_dir, "tab": tab_dir, "config": inputs["config"][0]}


def _check_png(path: Path) -> None:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert float(img.std()) > 0.01  # not a blank image


def test_all_outputs_exist(report):
    expected = figure_outputs(report["fig"]) + table_outputs(report["tab"])
    assert len(expected) == 2 * len(FIGURES) + 3 * len(TABLES)
    for p in expected:
        assert p.is_file() and p.stat().st_size > 0, p
        if p.suffix == ".png":
            _check_png(p)
        if p.suffix == ".pdf":
            assert p.read_bytes()[:5] == b"%PDF-"
    # nothing else (no temporary files left behind)
    produced = set(report["fig"].iterdir()) | set(report["tab"].iterdir())
    assert produced == set(expected)


def _md_rows(md: str, dataset: str, edits: int) -> dict[str, list[str]]:
    section = md.split(f"### Dataset: {dataset}")[1].split("###")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] == str(edits):
            rows[cells[1]] = cells[2:]
    return rows


def test_table2_marks_and_avg(report):
    md = (report["tab"] / "table2_edit_metrics.md").read_text()
    rows = _md_rows(md, "zsre", 10)
    assert set(rows) == {"ROME", "MEMIT", "D4S"}
    # Eff: D4S best, MEMIT second
    assert rows["D4S"][0] == "**99.00**" and rows["MEMIT"][0] == "<u>70.00</u>" and rows["ROME"][0] == "50.00"
    # Par: D4S (80.001) and MEMIT (80.0) tie on the displayed value -> both bold, ROME second (dense ranking)
    assert rows["D4S"][1] == "**80.00**" and rows["MEMIT"][1] == "**80.00**" and rows["ROME"][1] == "<u>40.00</u>"
    # Spe: ROME and D4S tie for best, MEMIT second
    assert rows["ROME"][2] == rows["D4S"][2] == "**90.00**" and rows["MEMIT"][2] == "<u>85.00</u>"
    # Avg is the mean of the three
    assert rows["D4S"][3] == "**89.67**" and rows["MEMIT"][3] == "<u>78.33</u>"
    assert rows["ROME"][3] == "60.00"
    # rows are in the paper's method order
    order = [line.split("|")[2].strip() for line in md.split("### Dataset: zsre")[1].splitlines()
             if line.startswith("| 10 ")]
    assert order == ["ROME", "MEMIT", "D4S"]
    # a checkpoint where only two methods differ: best and second, no ties
    rows4 = _md_rows(md, "zsre", 4)
    assert set(rows4) == {"ROME", "D4S"}
    assert "Provenance: config:" in md and "commit:" in md and "hardware:" in md

    import pandas as pd

    t2 = pd.read_csv(report["tab"] / "table2_edit_metrics.csv")
    assert list(t2.columns[-4:]) == ["Eff", "Par", "Spe", "Avg"]
    assert ((t2[["Eff", "Par", "Spe"]].mean(axis=1) - t2["Avg"]).abs() <= 0.011).all()
    assert len(t2) == len(DATASETS) * len(METHODS) * len(STEPS) + 1


def test_table4_change(report):
    import pandas as pd

    t4 = pd.read_csv(report["tab"] / "table4_downstream.csv")
    d4s = t4[(t4["method"] == "d4s") & (t4["dataset"] == "zsre")].set_index("task")
    assert (d4s["n_edits"] == 10).all()
    for task, base in BASE.items():
        last = LAST_D4S_ZSRE[task]
        assert math.isclose(d4s.loc[task, "base"], 100 * base, abs_tol=1e-6)
        assert math.isclose(d4s.loc[task, "edited"], 100 * last, abs_tol=1e-6)
        assert math.isclose(d4s.loc[task, "change"], round(100 * (last - base), 2), abs_tol=1e-6)
    assert d4s.loc["arc_challenge", "change"] < 0 < d4s.loc["hellaswag", "change"]
    md = (report["tab"] / "table4_downstream.md").read_text()
    d4s_line = next(line for line in md.splitlines() if line.startswith("| zsre | D4S | 10 |"))
    assert "38.00 (-2.00)" in d4s_line and "55.00 (+5.00)" in d4s_line and "45.00 (+0.00)" in d4s_line
    assert re.search(r"\| - \| Base model \| 0 \| 40\.00 \| 50\.00 \| 45\.00 \|", md)
    assert "Provenance:" in md


def test_provenance(report):
    from seqedit.report.provenance import collect, footer

    prov = collect(config_path=report["config"])
    assert prov["commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", prov["commit"])
    assert prov["config_sha256"] == hashlib.sha256(report["config"].read_bytes()).hexdigest()
    for key in ["hostname", "cpu", "cores", "python", "timestamp_utc", "torch"]:
        assert prov[key], key
    assert prov["timestamp_utc"].endswith("Z")
    assert "commit:" in footer(prov)
    side = json.loads((report["tab"] / "table2_edit_metrics.provenance.json").read_text())
    assert side["config_sha256"] == prov["config_sha256"] and "commit" in side
    assert collect()["config_path"] is None


def test_no_inputs_still_complete(tmp_path):
    from seqedit.report.cli import make_report

    written = make_report(model="none", figures_dir=tmp_path / "f", tables_dir=tmp_path / "t", formats=("png",))
    assert set(written) == set(figure_outputs(tmp_path / "f", ("png",)) + table_outputs(tmp_path / "t"))
    for p in written:
        assert p.stat().st_size > 0
    _check_png(tmp_path / "f" / "norms_methods.png")
    assert "no data" in (tmp_path / "t" / "table2_edit_metrics.md").read_text()


def test_captions_and_method_filter(report, tmp_path):
    root = Path(__file__).resolve().parents[1]
    for name in [*FIGURES, *TABLES]:
        assert (root / "rules" / "captions" / f"{name}.rst").is_file(), name

    from seqedit.report.cli import make_report

    res = report["root"] / "results"
    metrics = sorted((res / "metrics" / MODEL).glob("*/*/step_*.json"))
    make_report(model=MODEL, metrics=metrics, tables_dir=tmp_path, methods=["d4s", "memit"], steps=[10])
    import pandas as pd

    t2 = pd.read_csv(tmp_path / "table2_edit_metrics.csv")
    # --methods filters and orders (datasets alphabetical: counterfact, zsre)
    assert list(zip(t2["dataset"], t2["method"])) == [("counterfact", "d4s"), ("zsre", "d4s"), ("zsre", "memit")]
    assert set(t2["n_edits"]) == {10}
