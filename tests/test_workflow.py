"""A small end-to-end `snakemake` run of the whole DAG (tiny config), checked output by output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from seqedit.report import figure_outputs, table_outputs
from tiny_workflow import DATASETS, METHODS, STEPS, tiny_config

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
def snakemake(workdir: Path, config: Path, *extra) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, smollm2_dir, data_mirror):
    work = tmp_path_factory.mktemp("run")
    config = tiny_config(work, smollm2_dir, data_mirror)
    cfg = yaml.safe_load(config.read_text())
    res = snakemake(work, config)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work, config, cfg


def test_every_output_exists_and_holds_values(tiny_run):
    work, _, _ = tiny_run
    model = "smollm2-135m"
    for d in DATASETS:
        reqs = [json.loads(x) for x in (work / f"results/data/{d}.jsonl").read_text().splitlines()]
        # every record of the raw file is prepared (n_requests only bounds the checkpoints)
        assert len(reqs) > 3 and all(r["subject"] in r["prompt"] for r in reqs[:3])
        for m in METHODS:
            for s in STEPS:
                meta = json.loads((work / f"results/edits/{model}/{d}/{m}/step_{s}.json").read_text())
                assert meta["n_edits"] == s and len(meta["log"]) == s
                assert meta["request_ids"] == [r["id"] for r in reqs[:s]]
                metrics = json.loads((work / f"results/metrics/{model}/{d}/{m}/step_{s}.json").read_text())
                assert metrics["n_edits"] == s and len(metrics["per_request"]) == s
                for key in ("efficacy", "paraphrase", "specificity"):
                    assert 0.0 <= metrics[key] <= 1.0
                down = json.loads((work / f"results/downstream/{model}/{d}/{m}/step_{s}.json").read_text())
                assert down["n_edits"] == s and 0.0 <= down["tasks"]["winogrande"]["value"] <= 1.0
            norms = pd.read_csv(work / f"results/norms/{model}/{d}/{m}.csv")
            n_layers = 1 if m == "rome" else 5
            assert len(norms) == STEPS[-1] * n_layers
            assert (norms["mean_abs_w"] > 0).all() and (norms["mean_abs_delta_total"] > 0).all()
            # checkpoint 2 continued checkpoint 1: its log starts with checkpoint 1's log
            log1 = json.loads((work / f"results/edits/{model}/{d}/{m}/step_1.json").read_text())["log"]
            log2 = json.loads((work / f"results/edits/{model}/{d}/{m}/step_2.json").read_text())["log"]
            assert log2[:1] == log1
    base = json.loads((work / f"results/downstream/{model}/base.json").read_text())
    assert base["n_edits"] == 0
    for path in figure_outputs(work / f"results/figures/{model}") + table_outputs(work / f"results/tables/{model}"):
        assert path.exists() and path.stat().st_size > 0, path
    table = pd.read_csv(work / f"results/tables/{model}/table2_zsre.csv")
    table = table[table["protocol"] == "sequential"]
    assert len(table) == (1 + len(METHODS) * len(STEPS)) * ("zsre" in DATASETS)  # the unedited model's row first
    assert (table["method"].iloc[0], table["n_edits"].iloc[0], table["n_requests"].iloc[0]) == ("unedited", 0,
                                                                                                STEPS[-1])
    for d in DATASETS:  # the unedited model on the requests of the longest chain (edit_metrics_base)
        base_metrics = json.loads((work / f"results/metrics/{model}/{d}/base.json").read_text())
        assert (base_metrics["n_edits"], base_metrics["n_requests"], base_metrics["unedited"]) == (0, STEPS[-1], True)
        ids = [json.loads(x)["id"] for x in (work / f"results/data/{d}.jsonl").read_text().splitlines()]
        assert [r["id"] for r in base_metrics["per_request"]] == ids[:STEPS[-1]]
    for rule in ("edit", "layer_stats", "downstream", "edit_metrics", "report"):
        assert list((work / "benchmarks/rules").glob(f"{rule}/**/*.tsv")), f"no benchmark file for {rule}"


def test_second_run_has_nothing_to_do(tiny_run):
    work, config, _ = tiny_run
    res = snakemake(work, config, "-n")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_extending_the_run_only_adds_the_new_segment(tiny_run):
    work, _, cfg = tiny_run
    bigger = dict(cfg, checkpoints=STEPS + [3])
    path = work / "config_more.yaml"
    path.write_text(yaml.safe_dump(bigger))
    res = snakemake(work, path, "-n", "--quiet", "rules")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # 2 datasets x 3 methods new edit jobs (step 3 only), none for steps 1 and 2
    edit_line = [line for line in out.splitlines() if line.strip().startswith("edit ")]
    assert edit_line and edit_line[0].split()[1] == str(len(DATASETS) * len(METHODS)), out
